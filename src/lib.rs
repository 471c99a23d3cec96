//! preflight runs vision models on cameras and robots and, before serving a single frame,
//! proves on the actual hardware that the model still behaves.
//!
//! Three layers, imported only downward:
//!
//! - [`model`]: bundle → engine → preprocess → infer → decode ([`Model`](model::Model));
//! - [`suite`]: the behaviour suite, its checks, the verdict and the report;
//! - [`device`]: the startup gate and serving ([`Runtime`](device::Runtime)), health, the
//!   status screen and the C API.
//!
//! Beside them sit the crate-wide helpers: [`Error`], [`files`], [`latency`] and [`target`].
//! A firmware author needs little more than the [`prelude`]:
//!
//! ```no_run
//! use preflight::prelude::*;
//!
//! let model = Model::open("models/blazeface")?;
//! let result = model.infer_path("models/blazeface/cases/astronaut.png".as_ref(), DecodeOptions::default())?;
//! if let Prediction::Detections { detections, .. } = &result.prediction {
//!     for d in detections {
//!         println!("face {:.2} at {:?}", d.score, d.bbox);
//!     }
//! }
//! # Ok::<(), preflight::Error>(())
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod device;
mod error;
pub mod files;
pub mod latency;
pub mod model;
pub mod suite;
pub mod target;
pub mod text;

pub use error::{Error, Result};

/// Version of tract this build links, for reports.
pub const TRACT_VERSION: &str = env!("PREFLIGHT_TRACT_VERSION");

/// docs/firmware-rust.md's Rust snippets, compiled (not run) by `cargo test --doc`, so they
/// cannot drift from the API (tests/docs.rs runs the docs' commands).
#[cfg(doctest)]
#[doc = include_str!("../docs/firmware-rust.md")]
pub struct FirmwareSnippets;

/// docs/pipeline.md's Rust snippet, compiled like firmware-rust.md's.
#[cfg(doctest)]
#[doc = include_str!("../docs/pipeline.md")]
pub struct PipelineSnippets;

/// docs/updates.md's Rust snippet, compiled like firmware-rust.md's.
#[cfg(doctest)]
#[doc = include_str!("../docs/updates.md")]
pub struct UpdatesSnippets;

/// The types a firmware author uses: open and serve a model behind its self-test, read the
/// results, the report and the device's health.
pub mod prelude {
    pub use crate::device::{Health, HealthStatus, Runtime, Served, StartError, StartOptions};
    pub use crate::model::preprocess::load_image;
    pub use crate::model::signature::{PublicKey, TrustPolicy};
    pub use crate::model::{
        DecodeOptions, Detection, Inference, Model, Pipeline, Prediction, Reading, TextLine,
    };
    pub use crate::suite::{Report, Verdict};
    pub use crate::target::TargetProfile;
    pub use crate::{Error, Result};
}
