//! Shared helpers: run the binary, copy the default bundle into a scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn default_bundle() -> PathBuf {
    root().join("models/blazeface")
}

pub fn case(name: &str) -> PathBuf {
    default_bundle().join("cases").join(name)
}

/// Runs `preflight` with `args` from the crate root.
pub fn preflight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(args)
        .current_dir(root())
        .env_remove("PREFLIGHT_LOG")
        .output()
        .expect("spawn preflight")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A copy of the default bundle (manifest, model, licence, suite files) in a temp dir.
pub struct ScratchBundle {
    pub tmp: tempfile::TempDir,
}

impl ScratchBundle {
    pub fn new() -> ScratchBundle {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&default_bundle(), tmp.path());
        ScratchBundle { tmp }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn arg(&self) -> &str {
        self.tmp.path().to_str().unwrap()
    }

    pub fn manifest(&self) -> String {
        std::fs::read_to_string(self.path().join("bundle.toml")).unwrap()
    }

    /// Replaces `from` by `to` in bundle.toml; panics if `from` is absent.
    pub fn edit_manifest(&self, from: &str, to: &str) {
        let text = self.manifest();
        assert!(text.contains(from), "bundle.toml has no {from:?}");
        std::fs::write(self.path().join("bundle.toml"), text.replacen(from, to, 1)).unwrap();
    }

    pub fn model(&self) -> PathBuf {
        self.path().join("face_detection_front_128x128_barracuda.onnx")
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Asserts a failed run exited 2 with exactly one stderr line that contains every needle.
pub fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr should mention {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// Asserts `ours` (detections of `run --format json`) pairs one to one with `theirs` (a
/// reference's: `label`, `score`, `box`), each with its label, its score within `score` and
/// every box side within `px` pixels.
pub fn assert_same_detections(
    ours: &[serde_json::Value],
    theirs: &[serde_json::Value],
    score: f64,
    px: f64,
) {
    assert_eq!(ours.len(), theirs.len(), "ours: {ours:?}");
    let num = |v: &serde_json::Value| v.as_f64().unwrap();
    let boxed = |d: &serde_json::Value| -> Vec<f64> {
        d["box"].as_array().unwrap().iter().map(num).collect()
    };
    let mut used = vec![false; ours.len()];
    for t in theirs {
        let found = ours.iter().enumerate().position(|(i, d)| {
            !used[i]
                && d["label"] == t["label"]
                && (num(&d["score"]) - num(&t["score"])).abs() < score
                && boxed(d).iter().zip(boxed(t)).all(|(a, b)| (a - b).abs() < px)
        });
        let i = found.unwrap_or_else(|| panic!("no match for {t} among {ours:?}"));
        used[i] = true;
    }
}
