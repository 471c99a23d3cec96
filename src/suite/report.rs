//! The traceable record of a suite run (`preflight.report/v1`): JSON for machines, a table
//! for people, JUnit XML for CI. Files are written atomically (temp file + rename), so a
//! crash never leaves half a report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::gate::{verdict, Status, Verdict};
use super::run::{Ran, RunContext};
use super::spec::{Severity, Suite};
use super::subject::Subject;
use crate::model::envelope::Envelope;
use crate::target::{host_cores, host_cpu, host_triple};

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
    /// Start of the run, Unix seconds (for metrics and sorting).
    pub started_unix: u64,
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
    /// The operating envelope the robustness checks proved (absent without any).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<Envelope>,
    /// A pipeline's stages, each checked with its own suite (their checks are in `checks`,
    /// named `<stage bundle>/<check>`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageInfo>,
}

/// One stage of a pipeline as its own suite judged it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageInfo {
    /// The stage bundle and the suite it ran.
    pub bundle: BundleInfo,
    /// That suite's verdict on its own.
    pub verdict: Verdict,
}

/// When a run started: the wall-clock time for the report, the instant for its duration.
#[derive(Debug, Clone)]
pub struct Started {
    at: String,
    unix: u64,
    instant: Instant,
}

impl Started {
    /// Now.
    pub fn now() -> Started {
        let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Started { at: rfc3339(unix), unix, instant: Instant::now() }
    }

    /// When, RFC 3339 UTC.
    pub fn at(&self) -> &str {
        &self.at
    }

    /// When, Unix seconds.
    pub fn unix(&self) -> u64 {
        self.unix
    }

    /// The instant it started.
    pub fn instant(&self) -> Instant {
        self.instant
    }

    /// Time since then.
    pub fn elapsed(&self) -> std::time::Duration {
        self.instant.elapsed()
    }
}

impl Report {
    /// Assembles the report of a suite run: the verdict from the checks' severities and
    /// statuses, whether that verdict allows serving (`strict`: degraded does not), and what
    /// was tested, by what and where.
    pub fn new<'a>(
        subject: impl Into<Subject<'a>>,
        suite: &Suite,
        ctx: &RunContext,
        strict: bool,
        ran: Ran,
        started: &Started,
    ) -> Report {
        let Ran { checks, timing, envelope } = ran;
        let verdict = verdict(checks.iter().map(|c| (c.severity, c.status)));
        let subject = subject.into();
        let (name, version, model_sha256, models) = match subject {
            Subject::Model(m) => {
                let manifest = m.bundle().manifest();
                (&manifest.name, &manifest.version, m.bundle().model_sha256().to_string(), vec![m])
            }
            Subject::Pipeline(p) => {
                let stages = p.stages();
                // The pipeline's identity: its stages' model hashes, in order.
                let joined: Vec<&str> = stages.iter().map(|m| m.bundle().model_sha256()).collect();
                let sha = crate::files::sha256_hex(joined.join("\n").as_bytes());
                (&p.manifest().name, &p.manifest().version, sha, stages)
            }
        };
        let mut kernels: Vec<String> = Vec::new();
        for m in &models {
            for k in m.engine().kernels() {
                if !kernels.contains(&k) {
                    kernels.push(k);
                }
            }
        }
        Report {
            schema: REPORT_SCHEMA.into(),
            verdict,
            strict,
            serving_allowed: verdict.allows_serving(strict),
            started_at: started.at.clone(),
            started_unix: started.unix,
            duration_ms: (started.instant.elapsed().as_secs_f64() * 1e4).round() / 10.0,
            seed: ctx.seed,
            bundle: BundleInfo {
                name: name.clone(),
                version: version.clone(),
                model_sha256,
                suite: suite.name.clone(),
                suite_sha256: suite.sha256.clone(),
            },
            runtime: RuntimeInfo {
                version: env!("CARGO_PKG_VERSION").into(),
                tract_version: crate::TRACT_VERSION.into(),
            },
            host: HostInfo {
                triple: host_triple().into(),
                // Under qemu-user /proc/cpuinfo is the host's: say what is being emulated.
                cpu: match &ctx.target {
                    Some(t) if t.emulated => format!("{} (on {})", t.cpu, host_cpu()),
                    _ => host_cpu(),
                },
                cores: host_cores(),
                target: ctx.target.as_ref().map(|t| t.name.clone()),
                emulated: ctx.target.as_ref().is_some_and(|t| t.emulated),
                threads: models.first().map_or(1, |m| m.engine().threads()),
                kernels,
                unit: ctx.unit.clone(),
                target_mismatch: ctx.target_mismatch,
            },
            timing,
            checks,
            envelope: (!envelope.bounds.is_empty() || !envelope.unseparated.is_empty())
                .then_some(envelope),
            stages: Vec::new(),
        }
    }
}

/// The result of one check, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Check name.
    pub name: String,
    /// Check kind (`accuracy`, `latency`, ...).
    pub kind: String,
    /// What the check asserts, in the suite author's words.
    pub description: String,
    /// Severity.
    pub severity: Severity,
    /// `true` pass, `false` fail, `null` not measured.
    pub passed: Option<bool>,
    /// Pass, fail or not measured.
    pub status: Status,
    /// What was measured (absent when nothing could be).
    pub measured: Option<f64>,
    /// The threshold applied for this target.
    pub threshold: Option<f64>,
    /// Unit of `measured` and `threshold`.
    pub unit: String,
    /// One line a person can read: how it was measured, or why it failed.
    pub detail: String,
    /// Case ids (with `@perturbation` where relevant) that did not meet the expectation.
    pub failures: Vec<String>,
    /// Named extra figures (per-output max abs diff, per-severity metric, percentiles).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
}

/// Where a suite run spent its time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timing {
    /// Inside the model: preprocessing and the plan (ms, summed over jobs).
    pub inference_ms: f64,
    /// Applying perturbations (ms, summed over jobs).
    pub perturbation_ms: f64,
    /// Decoding and resizing images from disk (ms, summed over jobs).
    pub image_decode_ms: f64,
    /// The whole suite, wall time (ms).
    pub total_ms: f64,
    /// Threads that made and ran the suite's inputs.
    pub jobs: usize,
    /// Model runs made for the suite's inputs, each once (timed latency runs not counted).
    pub inferences_run: usize,
    /// Model results the checks asked for; the difference from `inferences_run` is work
    /// shared between checks.
    pub inferences_requested: usize,
}

impl Timing {
    /// Adds `other`'s times (not its wall time or counts) to these.
    pub(crate) fn add(&mut self, other: &Timing) {
        self.inference_ms += other.inference_ms;
        self.perturbation_ms += other.perturbation_ms;
        self.image_decode_ms += other.image_decode_ms;
    }
}

/// Identity of the bundle and suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BundleInfo {
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// sha256 of the model file (a pipeline: of its stages' model hashes, one per line).
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
    /// Inference threads.
    pub threads: usize,
    /// The kernels tract selected on this CPU for the model (matrix-multiply implementations
    /// and their counts): which code actually ran.
    pub kernels: Vec<String>,
    /// Which physical unit was tested (`--unit-id`, `PREFLIGHT_UNIT_ID`, `/etc/machine-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<crate::target::UnitId>,
    /// The target profile was made for another CPU architecture (`--target-mismatch-ok`): its
    /// thresholds do not describe this machine.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub target_mismatch: bool,
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
        let target = match (self.host.target.as_deref(), self.host.target_mismatch) {
            (Some(t), true) => format!("{t}, made for another CPU: not this machine's thresholds"),
            (Some(t), false) => t.to_string(),
            (None, _) => "default thresholds".into(),
        };
        // A unit named by the operator heads the table; the machine id stays in the files.
        let unit = match &self.host.unit {
            Some(u) if u.source != "/etc/machine-id" => format!(", unit {}", u.id),
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "{} {} on {} ({}, target {target}{unit}), seed {}",
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
        if let Some(u) = &self.host.unit {
            let _ = writeln!(
                x,
                "    <properties><property name=\"unit\" value=\"{}\"/></properties>",
                esc(&u.id)
            );
        }
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
    crate::text::escape_markup(s)
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
        // One escaper for HTML and XML: the apostrophe as both read it, no control characters.
        assert_eq!(esc("it's\u{7}\n"), "it&#39;s \n");
    }
}
