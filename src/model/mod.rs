//! The model layer: a bundle on disk becomes answers for one image.
//!
//! bundle (manifest, verified model file) → fix-ups → engine (tract plan) → preprocess →
//! infer → decode. [`Model`] composes these steps. This layer knows nothing of suites or
//! devices: it imports neither the `suite` layer nor the `device` layer.

pub mod bundle;
pub mod condition;
mod cpu;
pub mod decode;
pub mod engine;
pub mod envelope;
pub mod fixup;
pub mod guard;
pub mod head;
pub mod image_io;
mod infer;
mod kernels;
mod lower;
pub mod manifest;
pub mod onnx_file;
mod optimize;
pub mod output_spec;
pub mod pipeline;
mod precheck;
pub mod preprocess;
pub mod profile;
mod resample;
pub mod risk;
pub mod signature;
mod softmax;
pub mod timing;
mod validate;

pub use bundle::Bundle;
pub use decode::{ClassScore, DecodeOptions, Detection, Prediction};
pub use infer::{Inference, Model};
pub use manifest::Manifest;
pub use pipeline::{Pipeline, Reading, TextLine};
