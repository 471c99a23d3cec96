//! The cache of decluttered graphs: written once per model and shape, read on later loads
//! with the same results, rebuilt when corrupt, and never needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;

fn preflight_with_cache(models: &Path, cache: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_preflight"));
    cmd.args(args).current_dir(root()).env_remove("PREFLIGHT_LOG").env("PREFLIGHT_MODELS", models);
    match cache {
        Some(v) => cmd.env("PREFLIGHT_DECLUTTER_CACHE", v),
        None => cmd.env_remove("PREFLIGHT_DECLUTTER_CACHE"),
    };
    cmd.output().expect("spawn preflight")
}

fn run_with_cache(models: &Path, cache: Option<&str>) -> Output {
    let args = ["run", "--format", "json", "models/blazeface/cases/astronaut.png"];
    preflight_with_cache(models, cache, &args)
}

/// The detections, without the timings that differ between runs.
fn detections(o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    doc["results"][0]["detections"].clone()
}

fn entries(models: &Path) -> Vec<PathBuf> {
    let dir = models.join("decluttered");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    found.sort();
    found
}

#[test]
fn a_cached_graph_gives_the_same_detections_and_a_corrupt_one_is_rebuilt() {
    let models = tempfile::tempdir().unwrap();
    let first = detections(&run_with_cache(models.path(), None));
    let written = entries(models.path());
    assert_eq!(written.len(), 1, "one entry for BlazeFace at 128x128: {written:?}");
    assert!(written[0].to_string_lossy().ends_with(".nnef.tar"), "{written:?}");
    let size = std::fs::metadata(&written[0]).unwrap().len();
    assert!(size > 100_000, "the graph with its weights: {size} bytes");

    assert_eq!(detections(&run_with_cache(models.path(), None)), first, "read from the cache");
    assert_eq!(entries(models.path()), written, "nothing new written");

    std::fs::write(&written[0], b"not a tar archive").unwrap();
    assert_eq!(detections(&run_with_cache(models.path(), None)), first, "corrupt entry");
    assert_eq!(std::fs::metadata(&written[0]).unwrap().len(), size, "rewritten whole");
}

#[test]
fn the_cache_can_be_turned_off_or_be_unwritable() {
    let models = tempfile::tempdir().unwrap();
    let reference = detections(&run_with_cache(models.path(), Some("off")));
    assert!(entries(models.path()).is_empty(), "turned off: nothing written");

    // The cache directory's place is taken by a file: loads go on without it.
    std::fs::write(models.path().join("decluttered"), b"in the way").unwrap();
    assert_eq!(detections(&run_with_cache(models.path(), None)), reference);
}

#[test]
fn a_load_that_requires_a_signature_does_not_read_the_unsigned_cache() {
    let signed = crate::signing::Signed::new();
    let small = signed.bundle.path().join("small.toml");
    let suite = small.to_str().unwrap();
    let models = tempfile::tempdir().unwrap();
    let public = signed.public("vendor");
    let args = ["check", signed.bundle.arg(), "--suite", suite, "--trust", &public];
    let o = preflight_with_cache(models.path(), None, &args);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(entries(models.path()).is_empty(), "signed load went through the cache");
    let o = preflight_with_cache(models.path(), None, &args[..args.len() - 2]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(entries(models.path()).len(), 1, "an unsigned load caches");
}
