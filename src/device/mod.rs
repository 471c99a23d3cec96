//! The device layer: what firmware embeds.
//!
//! runtime (the startup gate: open, self-test, serve or refuse; recheck while serving) →
//! health (latency over a fixed window while serving) → display (the status screen, feature
//! `display`) and capi (the C API, feature `capi`). Beside the gate: install (a new bundle
//! proven on this hardware before it replaces the one serving), history (rollback, status)
//! and slots (the install root's crash-safe layout). This layer may use [`crate::model`] and
//! [`crate::suite`]; nothing imports it.

#[cfg(feature = "capi")]
pub mod capi;
#[cfg(feature = "display")]
pub mod display;
pub mod health;
pub mod history;
pub mod install;
pub mod pipeline;
pub mod runtime;
pub mod slots;

pub use health::{Health, HealthMonitor, HealthStatus};
pub use runtime::{Runtime, Served, StartError, StartOptions};
