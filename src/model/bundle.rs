//! A model bundle on disk: `bundle.toml`, the model it names (sha256-verified on open), the
//! labels and the suite. This module reads files and validates them; it knows nothing of tract.

use std::path::{Path, PathBuf};

use super::manifest::{ClassificationSpec, CtcSpec, GflSpec, Manifest, OutputSpec, Tier, YoloSpec};
use super::validate::validate;
use crate::error::{Error, Result};
use crate::files::{parse_toml, read_bounded, read_text, resolve, sha256_hex, MAX_MODEL_BYTES};

/// File name of the manifest inside a bundle directory.
pub const MANIFEST_FILE: &str = "bundle.toml";

/// Environment variable naming the model cache directory.
pub const MODEL_CACHE_ENV: &str = "PREFLIGHT_MODELS";

/// Inside a bundle, where an installed copy keeps the model its manifest fetches into the
/// cache (`model.cache`), so that a slot does not depend on a cache that later updates may
/// change. Looked up before the cache; the model's sha256 is verified either way, and
/// signatures cover it by that hash rather than by path.
pub const BUNDLED_CACHE_DIR: &str = ".preflight-models";

/// Where fetched models live: `$PREFLIGHT_MODELS`, else `$XDG_CACHE_HOME/preflight/models`,
/// else `~/.cache/preflight/models` (the fetch scripts under tools/ use the same rule).
pub fn model_cache_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var(MODEL_CACHE_ENV) {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("preflight").join("models");
    }
    var("HOME")
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache")
        .join("preflight")
        .join("models")
}

/// An opened, validated bundle: manifest, verified model bytes and labels.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    manifest: Manifest,
    model_path: PathBuf,
    model_bytes: Vec<u8>,
    model_sha256: String,
    labels: Vec<String>,
    declutter_cache: bool,
}

impl Bundle {
    /// Opens the bundle in `dir`: parses `bundle.toml`, checks every field, refuses paths
    /// leaving the directory, and reads the model, verifying its sha256.
    pub fn open(dir: impl AsRef<Path>) -> Result<Bundle> {
        let dir = dir.as_ref();
        let manifest_path = dir.join(MANIFEST_FILE);
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "bundle directory not found"),
            ));
        }
        let text = read_text(&manifest_path)?;
        let manifest: Manifest = parse_toml(&manifest_path, &text)?;
        validate(&manifest_path, &manifest)?;

        let model_path = match (&manifest.model.path, &manifest.model.cache) {
            (Some(rel), None) => resolve(dir, &manifest_path, "model.path", rel)?,
            (None, Some(rel)) => {
                let bundled = dir.join(BUNDLED_CACHE_DIR);
                let cache = if bundled.is_dir() { bundled } else { model_cache_dir() };
                let path = resolve(&cache, &manifest_path, "model.cache", rel)?;
                if !path.is_file() {
                    let hint = manifest.model.fetch.as_deref().map_or(String::new(), |cmd| {
                        format!(" (run `{cmd}`, or set {MODEL_CACHE_ENV})")
                    });
                    return Err(Error::io(
                        &path,
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("model not in the cache{hint}"),
                        ),
                    ));
                }
                path
            }
            _ => {
                return Err(Error::config(
                    &manifest_path,
                    "model",
                    "give exactly one of `path` (in the bundle) and `cache` (fetched)",
                ))
            }
        };
        let model_bytes = read_bounded(&model_path, MAX_MODEL_BYTES)?;
        let model_sha256 = sha256_hex(&model_bytes);
        if !model_sha256.eq_ignore_ascii_case(&manifest.model.sha256) {
            return Err(Error::HashMismatch {
                path: model_path,
                expected: manifest.model.sha256.clone(),
                actual: model_sha256,
            });
        }

        let labels = match &manifest.output {
            OutputSpec::Classification(ClassificationSpec { labels: Some(rel), .. })
            | OutputSpec::Yolo(YoloSpec { labels: Some(rel), .. })
            | OutputSpec::Gfl(GflSpec { labels: Some(rel), .. }) => {
                let path = resolve(dir, &manifest_path, "output.labels", rel)?;
                read_text(&path)?.lines().map(|l| l.trim_end().to_string()).collect()
            }
            // Dictionary characters may be spaces or punctuation: keep lines verbatim.
            OutputSpec::Ctc(CtcSpec { dictionary: Some(rel), .. }) => {
                let path = resolve(dir, &manifest_path, "output.dictionary", rel)?;
                read_text(&path)?.lines().map(str::to_string).collect()
            }
            _ => Vec::new(),
        };
        if let Some(rel) = &manifest.envelope {
            resolve(dir, &manifest_path, "envelope", rel)?;
        }
        if let Some(suite) = &manifest.suite {
            resolve(dir, &manifest_path, "suite.path", &suite.path)?;
        }
        for tier in [Tier::Boot, Tier::Acceptance, Tier::Recheck, Tier::Emulated] {
            if let (Some(rel), Some(_)) = (manifest.suite_for(tier), &manifest.suites) {
                resolve(dir, &manifest_path, &format!("suites.{}", tier.name()), rel)?;
            }
        }

        Ok(Bundle {
            dir: dir.to_path_buf(),
            manifest,
            model_path,
            model_bytes,
            model_sha256,
            labels,
            declutter_cache: true,
        })
    }

    /// The same bundle, loaded without the cache of decluttered graphs: the cache is not
    /// covered by the bundle's signature, so a load that requires one builds the graph from
    /// the signed model file alone.
    pub fn without_declutter_cache(mut self) -> Bundle {
        self.declutter_cache = false;
        self
    }

    /// Whether loads may use the cache of decluttered graphs.
    pub fn uses_declutter_cache(&self) -> bool {
        self.declutter_cache
    }

    /// The bundle directory as given to [`Bundle::open`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Path of the model file.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// The verified model bytes.
    pub fn model_bytes(&self) -> &[u8] {
        &self.model_bytes
    }

    /// sha256 of the model file (verified equal to the manifest's).
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    /// Class labels (or a CTC dictionary file's characters), empty when the bundle has none.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Path of the bundle's boot suite, if it declares one.
    pub fn suite_path(&self) -> Option<PathBuf> {
        self.tier_path(Tier::Boot)
    }

    /// Path of the bundle's suite for `tier`, if it declares one.
    pub fn tier_path(&self, tier: Tier) -> Option<PathBuf> {
        self.manifest.suite_for(tier).map(|rel| self.dir.join(rel))
    }

    /// Path of the bundle's recorded envelope, if it declares one.
    pub fn envelope_path(&self) -> Option<PathBuf> {
        self.manifest.envelope.as_ref().map(|rel| self.dir.join(rel))
    }

    /// Resolves a path written in a bundle file, refusing any that leaves the bundle.
    pub fn resolve(&self, key: &str, rel: &str) -> Result<PathBuf> {
        resolve(&self.dir, &self.dir.join(MANIFEST_FILE), key, rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_cache_dir_follows_the_environment() {
        // One test touches these variables, so parallel tests do not race on them.
        std::env::set_var(MODEL_CACHE_ENV, "/tmp/models-here");
        assert_eq!(model_cache_dir(), PathBuf::from("/tmp/models-here"));
        std::env::set_var(MODEL_CACHE_ENV, "");
        std::env::set_var("XDG_CACHE_HOME", "/tmp/xdg");
        assert_eq!(model_cache_dir(), PathBuf::from("/tmp/xdg/preflight/models"));
        std::env::remove_var("XDG_CACHE_HOME");
        std::env::remove_var(MODEL_CACHE_ENV);
        assert!(model_cache_dir().ends_with(".cache/preflight/models"));
    }
}
