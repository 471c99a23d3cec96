//! The one integration-test binary (as ripgrep does): every module drives the real
//! `preflight` binary or the public library API on real bundles.

mod cache;
mod capi;
mod check;
mod cli;
mod datasets;
mod docs;
mod envelope;
mod errors;
mod faults;
mod flag;
mod fuzz;
mod harness;
mod hostile;
mod init_cases;
mod install;
mod layers;
mod layout;
mod limits;
mod ocr;
mod perturbations;
mod pipeline;
mod reports;
mod selftest;
mod signing;
mod tiny_onnx;
mod yolo;
