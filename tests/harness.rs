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
