//! preflight runs vision models on cameras and robots and, before serving a single frame,
//! proves on the actual hardware that the model still behaves.
//!
//! Data flows one way: bundle → engine → preprocess → infer → decode (→ checks → verdict →
//! report). [`Model`] composes the first steps:
//!
//! ```no_run
//! use preflight::{DecodeOptions, Model, Prediction};
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

mod bundle;
#[cfg(feature = "capi")]
pub mod capi;
mod check;
mod decode;
#[cfg(feature = "display")]
mod display;
mod engine;
mod error;
mod fixup;
mod gate;
mod golden;
mod health;
mod latency;
mod model;
mod perturb;
mod preprocess;
mod report;
mod runtime;
mod suite;
mod target;

pub use bundle::{
    model_cache_dir, sha256_hex, Activation, BoxCoding, Bundle, ClassificationSpec, ColorOrder,
    CtcSpec, DetectionSpec, InputSpec, Layout, Manifest, ModelSpec, OutputSpec, ResizeMode,
    SegmentationSpec, SuiteRef, MANIFEST_FILE, MODEL_CACHE_ENV,
};
pub use decode::{
    ctc::edit_distance, iou, ClassScore, DecodeOptions, Decoder, Detection, Prediction,
};
pub use engine::{Engine, ModelInfo, OutputTensor, Outputs, TensorInfo};
pub use error::{Error, Result};
pub use fixup::{apply as apply_onnx_fixups, Fixup};
pub use latency::{cold_start, measure, Percentiles};
pub use model::{Inference, Model};
pub use preprocess::{decode_image, input_size, load_image, preprocess, InputTensor, Transform};

/// Version of tract this build links, for reports.
pub const TRACT_VERSION: &str = env!("PREFLIGHT_TRACT_VERSION");
pub use check::{run_checks, CheckResult, RunContext, Timing};
#[cfg(feature = "display")]
pub use display::{
    draw_mark, render as render_screen, Canvas, CanvasOf, Palette, ScreenSize, ScreenSummary,
    StatusScreen,
};
pub use gate::{verdict, Status, Verdict};
pub use golden::{compare as compare_outputs, record, Diff, Golden, GoldenCase, GoldenTensor};
pub use health::{Health, HealthMonitor, HealthStatus, HEALTH_WINDOW};
pub use perturb::{case_seed, Perturbation, ALL as PERTURBATIONS};
pub use report::{write_atomically, BundleInfo, HostInfo, Report, RuntimeInfo, REPORT_SCHEMA};
pub use runtime::{check, Runtime, Served, StartError, StartOptions};
pub use suite::{
    AccuracySpec, BudgetSpec, Case, CheckKind, CheckSpec, Direction, DirectionalSpec,
    InvarianceSpec, LatencySpec, Metric, ParitySpec, PerturbationRef, RobustnessSpec, Scoring,
    Selection, Severity, Stat, Suite, Threshold, Tolerance,
};
pub use target::{host_cores, host_cpu, host_triple, TargetProfile};
