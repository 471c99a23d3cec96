//! The suite layer: what a model must do on this hardware, checked.
//!
//! spec (what a suite says) ← load (`suite.toml`) → run (cases decoded and run once, shared by
//! the checks) → checks (eight kinds, each `Result<Outcome, Cannot>`) with metrics,
//! perturbations and goldens → gate (verdict) → report (JSON, text, JUnit). This layer uses
//! the `model` layer and never the `device` layer.

pub mod ap;
pub mod capture;
mod cases;
pub(crate) mod checks;
mod confusion;
mod datasets;
pub(crate) mod envelope;
pub mod evidence;
pub mod gate;
pub mod golden;
pub mod html;
pub(crate) mod inputs;
mod load;
pub mod metric;
pub mod metrics;
pub mod perturb;
mod plan;
pub mod report;
pub mod run;
pub mod scaffold;
pub mod spec;
pub mod split;
mod stages;
pub mod subject;
mod validate;

pub use gate::{Status, Verdict};
pub use report::{CheckResult, Report};
pub use spec::Suite;
