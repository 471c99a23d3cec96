//! The traceable record of a suite run (`preflight.report/v1`): JSON for machines, a table
//! for people, JUnit XML for CI. Files are written atomically (temp file + rename), so a
//! crash never leaves half a report.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::check::{CheckResult, Timing};
use crate::error::{Error, Result};
use crate::gate::{Status, Verdict};

/// Schema name written into reports.
pub const REPORT_SCHEMA: &str = "preflight.report/v1";

/// A suite run on this hardware.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always [`REPORT_SCHEMA`].
    pub schema: String,
    /// The gate's verdict.
    pub verdict: Verdict,
    /// Whether degraded counts as failed (`--strict`).
    pub strict: bool,
    /// Whether the runtime may serve under this verdict and policy.
    pub serving_allowed: bool,
    /// Start of the run, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time of the whole run, bundle open included (ms).
    pub duration_ms: f64,
    /// Seed used for perturbations.
    pub seed: u64,
    /// What was tested.
    pub bundle: BundleInfo,
    /// What tested it.
    pub runtime: RuntimeInfo,
    /// Where it ran.
    pub host: HostInfo,
    /// Where the suite's time went.
    pub timing: Timing,
    /// One entry per check, in suite order.
    pub checks: Vec<CheckResult>,
}

/// Identity of the bundle and suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleInfo {
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// sha256 of the model file.
    pub model_sha256: String,
    /// Suite name.
    pub suite: String,
    /// sha256 of the suite file.
    pub suite_sha256: String,
}

/// Identity of the software.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeInfo {
    /// preflight version.
    pub version: String,
    /// tract version.
    pub tract_version: String,
}

/// Identity of the hardware.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostInfo {
    /// Rust target triple of this build.
    pub triple: String,
    /// CPU description.
    pub cpu: String,
    /// Logical cores.
    pub cores: usize,
    /// Target profile name, if one was given.
    pub target: Option<String>,
    /// Whether the profile is an emulator.
    pub emulated: bool,
}

impl Report {
    /// Number of checks with each status: (pass, fail, not measured).
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |s| self.checks.iter().filter(|c| c.status == s).count();
        (n(Status::Pass), n(Status::Fail), n(Status::NotMeasured))
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The table a person reads: one row per check, then the verdict line.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let target = self.host.target.as_deref().unwrap_or("default thresholds");
        let _ = writeln!(
            s,
            "{} {} on {} ({}, target {target}), seed {}",
            self.bundle.name, self.bundle.version, self.host.triple, self.host.cpu, self.seed
        );
        let width = self.checks.iter().map(|c| c.name.chars().count()).max().unwrap_or(5).max(5);
        let _ = writeln!(
            s,
            "  {:<width$}  {:<8}  {:>12}  {:>12}  result",
            "check", "severity", "measured", "threshold"
        );
        for c in &self.checks {
            let mark = match c.status {
                Status::Pass => "✓",
                Status::Fail => "✗",
                Status::NotMeasured => "–",
            };
            let severity = format!("{:?}", c.severity).to_lowercase();
            let measured = c
                .measured
                .map_or("-".to_string(), |m| format!("{} {}", fmt_num(m), short_unit(&c.unit)));
            let threshold = match (c.threshold, c.kind.as_str()) {
                (Some(t), _) => format!("{} {}", fmt_num(t), short_unit(&c.unit)),
                (None, _) => "-".to_string(),
            };
            let _ = writeln!(
                s,
                "{mark} {:<width$}  {severity:<8}  {measured:>12}  {threshold:>12}  {}",
                c.name, c.detail
            );
            if !c.failures.is_empty() {
                let shown: Vec<&str> = c.failures.iter().take(8).map(String::as_str).collect();
                let more = c.failures.len().saturating_sub(shown.len());
                let more = if more > 0 { format!(" (+{more} more)") } else { String::new() };
                let _ = writeln!(s, "  {:<width$}  failing: {}{more}", "", shown.join(", "));
            }
        }
        let (pass, fail, skipped) = self.counts();
        let not_measured =
            if skipped > 0 { format!(", {skipped} not measured") } else { String::new() };
        let policy = if self.strict { " (strict)" } else { "" };
        let serve = if self.serving_allowed { "may serve" } else { "must not serve" };
        let _ = writeln!(
            s,
            "verdict: {}{policy} — {pass} passed, {fail} failed{not_measured}; {serve} ({:.1} s)",
            self.verdict.name().to_uppercase(),
            self.duration_ms / 1e3
        );
        s
    }

    /// JUnit XML: one testcase per check; failures carry measured vs threshold.
    pub fn to_junit(&self) -> String {
        let (_, fail, skipped) = self.counts();
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<testsuites name=\"preflight\" tests=\"{}\" failures=\"{fail}\" skipped=\"{skipped}\" time=\"{:.3}\">",
            self.checks.len(),
            self.duration_ms / 1e3
        );
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fail}\" skipped=\"{skipped}\" timestamp=\"{}\">",
            esc(&format!("{} {}", self.bundle.name, self.bundle.suite)),
            self.checks.len(),
            esc(&self.started_at)
        );
        for c in &self.checks {
            let class = format!("{}.{:?}", c.kind, c.severity).to_lowercase();
            let _ =
                write!(x, "    <testcase name=\"{}\" classname=\"{}\"", esc(&c.name), esc(&class));
            let vs = format!(
                "measured {} vs threshold {} {}",
                c.measured.map_or("none".into(), fmt_num),
                c.threshold.map_or("none".into(), fmt_num),
                c.unit
            );
            match c.status {
                Status::Pass => x.push_str("/>\n"),
                Status::Fail => {
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\">{}; failing cases: {}</failure>\n    </testcase>",
                        esc(&vs),
                        esc(&c.detail),
                        esc(&c.failures.join(", "))
                    );
                }
                Status::NotMeasured => {
                    let _ = writeln!(
                        x,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        esc(&c.detail)
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n</testsuites>\n");
        x
    }
}

fn short_unit(unit: &str) -> &str {
    match unit {
        "ms" | "MiB" => unit,
        "severity held" => "sev",
        _ => "",
    }
}

fn fmt_num(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.2e}")
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn esc(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

/// Writes `bytes` to `path` through a temp file in the same directory and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Now as RFC 3339 UTC, to the second.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_869_296), "2026-11-28T12:34:56Z");
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomically(&p, b"first").unwrap();
        write_atomically(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
        assert!(write_atomically(&dir.path().join("no/such/dir/r.json"), b"x").is_err());
    }
}
