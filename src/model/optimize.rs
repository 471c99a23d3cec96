//! From an ONNX graph to a runnable plan, through a cache of decluttered graphs.
//!
//! tract's declutter passes are the largest part of a model's load (BlazeFace: about half of
//! bundle open → first result; PP-OCR det: most of each new input size's plan), and what they
//! produce depends only on the model file, how it is loaded (fix-ups, tensor budget, options),
//! the input shape, the tract and preflight versions and the CPU architecture. So the
//! decluttered graph is kept as NNEF in the model cache
//! (`<model cache>/decluttered/<key>.nnef.tar`, the key a sha256 over all of these; at most
//! 256 MiB, least recently used entries evicted first) and later loads only generate code
//! from it. The ONNX file is never replaced; an entry
//! is written only after the graph read back from it ran a probe input to outputs bit-identical
//! to the graph's own; an unreadable, corrupt or mismatched entry is ignored and written again;
//! a cache that cannot be written costs the load nothing. `PREFLIGHT_DECLUTTER_CACHE=off` turns
//! it off, and loads that require a signature never use it (it is not signed).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::{bail, format_err};
use tract_onnx::WithOnnx;

use super::engine::{Plan, PlanEntry};
use super::lower::codegen;
use super::precheck;
use crate::error::{Error, Result};
use crate::files::{read_bounded, sha256_hex, MAX_MODEL_BYTES};

/// The environment variable that turns the cache off (`off`, `0` or `false`).
pub const CACHE_ENV: &str = "PREFLIGHT_DECLUTTER_CACHE";

/// Where one decluttered graph is (or will be) cached.
#[derive(Debug, Clone)]
pub(super) struct Slot {
    path: PathBuf,
}

impl Slot {
    /// The slot for a model (its sha256, and how it was loaded: the fix-ups applied to it and
    /// the load's options) at an input shape; `None` when the cache is turned off.
    pub(super) fn new(model_sha256: &str, recipe: &[String], shape: &[usize]) -> Option<Slot> {
        let off = std::env::var(CACHE_ENV)
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "off" | "0" | "false"));
        if off {
            return None;
        }
        let descriptor = format!(
            "model {model_sha256}\nrecipe {recipe:?}\nshape {shape:?}\ntract {}\npreflight {}\n\
             arch {}\n",
            crate::TRACT_VERSION,
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
        );
        let key = sha256_hex(descriptor.as_bytes());
        let dir = super::bundle::model_cache_dir().join("decluttered");
        Some(Slot { path: dir.join(format!("{key}.nnef.tar")) })
    }

    /// The cached graph, if there is one that reads.
    fn read(&self) -> Option<TypedModel> {
        let bytes = read_bounded(&self.path, MAX_MODEL_BYTES).ok()?;
        match nnef().model_for_read(&mut &bytes[..]) {
            Ok(model) => {
                // Used entries are the last evicted.
                let now = std::time::SystemTime::now();
                let _ = std::fs::File::options()
                    .append(true)
                    .open(&self.path)
                    .and_then(|f| f.set_modified(now));
                Some(model)
            }
            Err(e) => {
                log::debug!(
                    "decluttered cache {}: unreadable, rebuilt ({e:#})",
                    self.path.display()
                );
                None
            }
        }
    }

    /// Caches `decluttered` (see [`verified_nnef`]).
    fn store(&self, decluttered: &TypedModel, optimized: &TypedModel) {
        if let Err(e) = self.try_store(decluttered, optimized) {
            log::debug!("decluttered cache {}: not written ({e:#})", self.path.display());
        }
    }

    fn try_store(&self, decluttered: &TypedModel, optimized: &TypedModel) -> TractResult<()> {
        let dir = self.path.parent().expect("a cache entry is in a directory");
        std::fs::create_dir_all(dir)?;
        // Written aside and renamed: a reader (another process booting) never sees half a
        // file. Made first, so an unwritable cache costs no serialization.
        static UNIQUE: AtomicU64 = AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{}.{}.{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed),
            self.path.file_name().and_then(|n| n.to_str()).unwrap_or("entry")
        ));
        let file = std::fs::File::create(&tmp)?;
        let stored = verified_nnef(decluttered, optimized).and_then(|bytes| {
            use std::io::Write as _;
            let mut file = file;
            file.write_all(&bytes)?;
            file.sync_all()?;
            Ok(std::fs::rename(&tmp, &self.path)?)
        });
        if stored.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        stored?;
        evict(dir, CACHE_BYTES);
        Ok(())
    }
}

/// `decluttered` as NNEF, if a graph read back from it gives the same outputs as `optimized`
/// (the plan made from it) on a probe input.
fn verified_nnef(decluttered: &TypedModel, optimized: &TypedModel) -> TractResult<Vec<u8>> {
    let framework = nnef();
    let mut bytes = Vec::new();
    framework.write_to_tar(decluttered, &mut bytes)?;
    let mut read_back = framework.model_for_read(&mut &bytes[..])?;
    codegen(&mut read_back)?;
    let probe = probe_input(optimized)?;
    let ours = optimized.clone().into_runnable()?.run(tvec![probe.clone().into()])?;
    let theirs = read_back.into_runnable()?.run(tvec![probe.into()])?;
    if ours.len() != theirs.len() || ours.iter().zip(&theirs).any(|(a, b)| a != b) {
        bail!("the graph read back computes other outputs");
    }
    Ok(bytes)
}

/// How much the cache may hold: a PP-OCR rec graph is 10 MB per input width.
const CACHE_BYTES: u64 = 256 << 20;

/// Removes the least recently used entries until the cache holds at most `limit` bytes.
fn evict(dir: &Path, limit: u64) {
    let Ok(listing) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = listing
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.ends_with(".nnef.tar")))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, meta.len(), e.path()))
        })
        .collect();
    let mut total: u64 = entries.iter().map(|e| e.1).sum();
    entries.sort();
    for (_, len, path) in entries {
        if total <= limit {
            break;
        }
        if std::fs::remove_file(&path).is_ok() {
            total = total.saturating_sub(len);
        }
    }
}

/// NNEF with the ONNX operators tract keeps in decluttered graphs.
fn nnef() -> tract_nnef::framework::Nnef {
    tract_nnef::nnef().with_onnx()
}

/// A deterministic, varied input: a zero tensor would hide weights that differ.
fn probe_input(model: &TypedModel) -> TractResult<Tensor> {
    let fact = model.input_fact(0)?;
    let shape = fact.shape.as_concrete().ok_or_else(|| format_err!("symbolic input"))?;
    let len: usize = shape.iter().product();
    let values: Vec<f32> = (0..len).map(|i| ((i * 7919) % 251) as f32 / 125.0 - 1.0).collect();
    Tensor::from_shape(shape, &values)
}

/// Fixes the input fact to `shape`, checks every tensor against the budget, and optimizes —
/// from the cached decluttered graph when `slot` holds one.
pub(super) fn optimize(
    path: &Path,
    mut model: InferenceModel,
    shape: &[usize],
    budget: u64,
    slot: Option<&Slot>,
) -> Result<TypedModel> {
    let failed = |e: TractError| {
        Error::model(path, format!("cannot optimize for input shape {shape:?}: {e:#}"))
    };
    if let Some(mut cached) = slot.and_then(Slot::read) {
        precheck::check_typed(path, &cached, budget)?;
        codegen(&mut cached).map_err(failed)?;
        return Ok(cached);
    }
    model
        .set_input_fact(0, f32::fact(shape).into())
        .map_err(|e| Error::model(path, format!("input fact: {e:#}")))?;
    let typed = model.into_typed().map_err(failed)?;
    precheck::check_typed(path, &typed, budget)?;
    let mut decluttered = typed.into_decluttered().map_err(failed)?;
    let Some(slot) = slot else {
        codegen(&mut decluttered).map_err(failed)?;
        return Ok(decluttered);
    };
    // Kept for the cache only: a load without it optimizes in place.
    let mut optimized = decluttered.clone();
    codegen(&mut optimized).map_err(failed)?;
    // tract writes properties it cannot read back (PP-OCR rec's dictionary, from the ONNX
    // metadata), and nothing reads them: preflight takes metadata from the ONNX file.
    decluttered.properties.clear();
    slot.store(&decluttered, &optimized);
    Ok(optimized)
}

/// The optimized graph as a plan with no execution state yet.
pub(super) fn runnable(path: &Path, typed: TypedModel) -> Result<Plan> {
    let runnable = typed
        .into_runnable()
        .map_err(|e| Error::model(path, format!("cannot make the plan runnable: {e:#}")))?;
    Ok(Arc::new(PlanEntry { runnable, idle: std::sync::Mutex::new(Vec::new()) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn entry(dir: &Path, name: &str, len: usize, age_s: u64) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, vec![0u8; len]).unwrap();
        let when = SystemTime::now() - Duration::from_secs(age_s);
        std::fs::File::options().append(true).open(&path).unwrap().set_modified(when).unwrap();
        path
    }

    #[test]
    fn eviction_removes_the_least_recently_used_entries_first() {
        let dir = tempfile::tempdir().unwrap();
        let old = entry(dir.path(), "a.nnef.tar", 400, 300);
        let mid = entry(dir.path(), "b.nnef.tar", 400, 200);
        let new = entry(dir.path(), "c.nnef.tar", 400, 100);
        let other = entry(dir.path(), "notes.txt", 4000, 400);
        evict(dir.path(), 800);
        assert!(!old.exists());
        assert!(mid.exists() && new.exists(), "800 bytes fit");
        assert!(other.exists(), "only cache entries are touched");
        evict(dir.path(), 0);
        assert!(!mid.exists() && !new.exists());
    }

    #[test]
    fn slots_differ_by_model_recipe_and_shape() {
        let a = Slot::new("aa", &["x".into()], &[1, 3]).map(|s| s.path);
        let b = Slot::new("ab", &["x".into()], &[1, 3]).map(|s| s.path);
        let c = Slot::new("aa", &["y".into()], &[1, 3]).map(|s| s.path);
        let d = Slot::new("aa", &["x".into()], &[1, 4]).map(|s| s.path);
        let again = Slot::new("aa", &["x".into()], &[1, 3]).map(|s| s.path);
        // The cache may be turned off in the environment the tests run in.
        if a.is_some() {
            assert_eq!(a, again);
            assert!(a != b && a != c && a != d && b != c && c != d);
        }
    }
}
