//! Hardware profiles (`targets/<name>.toml`): what board a run is on, so per-target thresholds
//! apply and emulated runs never pretend to measure a board's latency.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::parse_toml;

include!(concat!(env!("OUT_DIR"), "/targets.rs"));

/// A hardware profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// The name per-target thresholds refer to (`rpi4`, `host`, ...).
    pub name: String,
    /// Rust target triple of the board.
    pub triple: String,
    /// CPU description.
    pub cpu: String,
    /// CPU cores on the board.
    pub cores: u32,
    /// Inference threads on the board (`--threads` overrides it; 0: one per core).
    pub threads: u32,
    /// Threads the self-test uses to make and run its inputs (default: one per core).
    #[serde(default)]
    pub jobs: Option<usize>,
    /// True under an emulator: latency figures say nothing about the board.
    pub emulated: bool,
    /// Free text.
    #[serde(default)]
    pub notes: String,
    /// Public keys (`ed25519:<hex>`, from `preflight keygen`) a bundle must be signed by to
    /// run on this board; empty: signatures are not required.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// Whether suites may capture cases from this board's camera at check time
    /// (`capture = [...]` in a case), as `--allow-capture` allows for one run.
    #[serde(default)]
    pub allow_capture: bool,
    /// Where the profile was read from (`targets/<name>.toml` when built in).
    #[serde(skip)]
    pub source: std::path::PathBuf,
}

impl TargetProfile {
    /// A profile by name from those built in (the repository's `targets/`), or from a TOML
    /// file when `name_or_path` ends in `.toml`.
    pub fn find(name_or_path: &str) -> Result<TargetProfile> {
        if name_or_path.ends_with(".toml") {
            let path = Path::new(name_or_path);
            let text = crate::files::read_text(path)?;
            let profile: TargetProfile = parse_toml(path, &text)?;
            return Ok(TargetProfile { source: path.to_path_buf(), ..profile });
        }
        for profile in TargetProfile::builtin()? {
            let stem = profile.source.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            if profile.name == name_or_path || stem == name_or_path {
                return Ok(profile);
            }
        }
        let known: Vec<&str> = BUILTIN.iter().map(|(s, _)| *s).collect();
        Err(Error::config(
            Path::new("targets"),
            "name",
            format!("no target profile {name_or_path:?} (built in: {})", known.join(", ")),
        ))
    }

    /// Every built-in profile.
    pub fn builtin() -> Result<Vec<TargetProfile>> {
        BUILTIN
            .iter()
            .map(|(stem, text)| {
                let path = std::path::PathBuf::from(format!("targets/{stem}.toml"));
                let profile: TargetProfile = parse_toml(&path, text)?;
                Ok(TargetProfile { source: path, ..profile })
            })
            .collect()
    }

    /// Refuses a profile made for another CPU architecture than this binary's. Its per-target
    /// thresholds would not describe this machine, and an emulated profile would turn a
    /// failing latency check into "not measured": `--target` must never bypass the gate.
    pub fn check_host(&self) -> Result<()> {
        let arch = |triple: &str| triple.split('-').next().unwrap_or_default().to_string();
        if arch(&self.triple) == arch(host_triple()) {
            return Ok(());
        }
        Err(Error::config(
            &self.source,
            "triple",
            format!(
                "target {:?} is for {}, but this binary runs on {}: use a profile of this \
                 machine{}",
                self.name,
                self.triple,
                host_triple(),
                if self.emulated { "" } else { " (--target-mismatch-ok previews its thresholds)" }
            ),
        ))
    }
}

/// The Rust target triple this binary was built for.
pub fn host_triple() -> &'static str {
    env!("PREFLIGHT_TARGET_TRIPLE")
}

/// A one-line CPU description of this machine (model name from /proc/cpuinfo on Linux).
pub fn host_cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            matches!(k.trim(), "model name" | "Model" | "Hardware" | "cpu model")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The machine's kind as far as the numbers tract computes go: the target triple and the
/// instruction-set extensions tract picks its kernels by (`x86_64-unknown-linux-gnu+avx2+fma`).
/// Two machines with the same kinds run the same kernels in the same order, so their outputs
/// are bit-identical; a golden records it so a parity check knows when to demand that.
pub fn kernel_kind() -> String {
    let mut kind = host_triple().to_string();
    #[cfg(target_arch = "x86_64")]
    for (name, present) in [
        ("avx2", std::arch::is_x86_feature_detected!("avx2")),
        ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
        ("f16c", std::arch::is_x86_feature_detected!("f16c")),
        ("fma", std::arch::is_x86_feature_detected!("fma")),
    ] {
        if present {
            kind.push('+');
            kind.push_str(name);
        }
    }
    #[cfg(target_arch = "aarch64")]
    if std::arch::is_aarch64_feature_detected!("fp16") {
        kind.push_str("+fp16");
    }
    kind
}

/// Environment variable naming the unit under test (a serial number), for reports.
pub const UNIT_ID_ENV: &str = "PREFLIGHT_UNIT_ID";

/// Which physical unit a report is about: on a factory line, every report must say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnitId {
    /// The identity: a serial number given by the operator, or the OS's machine id.
    pub id: String,
    /// Where it came from: `--unit-id`, `PREFLIGHT_UNIT_ID` or `/etc/machine-id`.
    pub source: String,
}

/// The unit's identity: `given` (the `--unit-id` flag or the library's option), else
/// `$PREFLIGHT_UNIT_ID`, else `/etc/machine-id` (absent on some systems: then none). A given
/// identity must be 1–128 printable characters.
pub fn unit_id(given: Option<&str>) -> crate::Result<Option<UnitId>> {
    let check = |id: &str, source: &str| {
        let bad = if id.is_empty() {
            Some("is empty")
        } else if id.chars().count() > 128 {
            Some("is longer than 128 characters")
        } else if id.chars().any(char::is_control) {
            Some("contains a control character")
        } else {
            None
        };
        match bad {
            Some(why) => Err(crate::Error::config(source, "unit id", format!("the unit id {why}"))),
            None => Ok(Some(UnitId { id: id.to_string(), source: source.to_string() })),
        }
    };
    if let Some(id) = given {
        return check(id, "--unit-id");
    }
    if let Some(id) = std::env::var_os(UNIT_ID_ENV) {
        return check(&id.to_string_lossy(), UNIT_ID_ENV);
    }
    let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let machine = machine.trim();
    Ok((!machine.is_empty()
        && machine.len() <= 128
        && machine.chars().all(|c| c.is_ascii_hexdigit()))
    .then(|| UnitId { id: machine.to_string(), source: "/etc/machine-id".into() }))
}

/// Logical cores available to this process.
pub fn host_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_ids_are_printable_and_bounded() {
        let id = unit_id(Some("SN-0042")).unwrap().unwrap();
        assert_eq!((id.id.as_str(), id.source.as_str()), ("SN-0042", "--unit-id"));
        for bad in ["", "a\nb", &"x".repeat(129)] {
            let e = unit_id(Some(bad)).unwrap_err().to_string();
            assert!(e.starts_with("--unit-id: unit id: the unit id "), "{e}");
        }
    }
}
