//! The report as Prometheus metrics (text exposition format 0.0.4): what a fleet dashboard
//! and its alerts read, from node_exporter's textfile collector or a device's own `/metrics`.
//! Names follow Prometheus conventions: base units (seconds), `_total` for counters, the
//! verdict as a state set (one series per state, 1 for the current one).

use std::fmt::Write;

use super::gate::{Status, Verdict};
use super::report::Report;

/// A metrics document under construction: each family's HELP and TYPE once, then its series.
#[derive(Debug, Default)]
pub struct Metrics {
    text: String,
}

impl Metrics {
    /// Starts a metric family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    /// One series of the current family.
    pub fn series(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        let labels: Vec<String> =
            labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        let value = if value.is_nan() {
            "NaN".to_string()
        } else if value.is_infinite() {
            if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
        } else {
            format!("{value}")
        };
        if labels.is_empty() {
            let _ = writeln!(self.text, "{name} {value}");
        } else {
            let _ = writeln!(self.text, "{name}{{{}}} {value}", labels.join(","));
        }
        self
    }

    /// The exposition text.
    pub fn finish(self) -> String {
        self.text
    }
}

impl Report {
    /// The self-test as Prometheus metrics. Every series carries the `bundle` label, so one
    /// node_exporter can expose several models.
    pub fn to_prometheus(&self) -> String {
        let mut m = Metrics::default();
        self.write_metrics(&mut m);
        m.finish()
    }

    /// Appends this report's metric families to `m` (a serving runtime adds its own).
    pub fn write_metrics(&self, m: &mut Metrics) {
        let bundle = self.bundle.name.as_str();
        let b = ("bundle", bundle);
        m.family("preflight_info", "gauge", "What was tested, by what and where (always 1).")
            .series(
                "preflight_info",
                &[
                    b,
                    ("version", &self.bundle.version),
                    ("model_sha256", &self.bundle.model_sha256),
                    ("suite", &self.bundle.suite),
                    ("suite_sha256", &self.bundle.suite_sha256),
                    ("preflight_version", &self.runtime.version),
                    ("tract_version", &self.runtime.tract_version),
                    ("target", self.host.target.as_deref().unwrap_or("")),
                    ("unit", self.host.unit.as_ref().map_or("", |u| u.id.as_str())),
                ],
                1.0,
            );
        m.family(
            "preflight_verdict",
            "gauge",
            "The self-test verdict as a state set: 1 for the current verdict, 0 for the others.",
        );
        for v in [Verdict::Pass, Verdict::Degraded, Verdict::Fail] {
            m.series(
                "preflight_verdict",
                &[b, ("verdict", v.name())],
                f64::from(u8::from(self.verdict == v)),
            );
        }
        m.family(
            "preflight_serving_allowed",
            "gauge",
            "1 when the gate allows serving after the self-test, 0 when it refuses.",
        )
        .series(
            "preflight_serving_allowed",
            &[b],
            f64::from(u8::from(self.serving_allowed)),
        );
        m.family(
            "preflight_selftest_timestamp_seconds",
            "gauge",
            "When the self-test started, Unix time.",
        )
        .series("preflight_selftest_timestamp_seconds", &[b], self.started_unix as f64);
        m.family("preflight_selftest_duration_seconds", "gauge", "Wall time of the self-test.")
            .series("preflight_selftest_duration_seconds", &[b], self.duration_ms / 1e3);
        m.family(
            "preflight_check_passed",
            "gauge",
            "1 when a check held, 0 when it failed; checks not measured here have no series.",
        );
        for c in &self.checks {
            let passed = match c.status {
                Status::Pass => 1.0,
                Status::Fail => 0.0,
                Status::NotMeasured => continue,
            };
            m.series(
                "preflight_check_passed",
                &[b, ("check", &c.name), ("severity", c.severity.name()), ("kind", &c.kind)],
                passed,
            );
        }
        m.family(
            "preflight_check_measured",
            "gauge",
            "What each check measured, in the unit label's unit.",
        );
        for c in &self.checks {
            if let Some(v) = c.measured {
                m.series(
                    "preflight_check_measured",
                    &[b, ("check", &c.name), ("unit", &c.unit)],
                    v,
                );
            }
        }
        m.family(
            "preflight_check_threshold",
            "gauge",
            "The limit each check applied on this target, in the unit label's unit.",
        );
        for c in &self.checks {
            if let Some(v) = c.threshold {
                m.series(
                    "preflight_check_threshold",
                    &[b, ("check", &c.name), ("unit", &c.unit)],
                    v,
                );
            }
        }
        m.family(
            "preflight_selftest_latency_seconds",
            "gauge",
            "End-to-end latency the self-test's latency checks measured, by statistic (p50, p90, p99, max).",
        );
        for c in
            self.checks.iter().filter(|c| c.kind == "latency" && c.status != Status::NotMeasured)
        {
            // `stat`, not `quantile`: in Prometheus that label belongs to summaries, which
            // also carry a sum and a count of observations.
            for key in ["p50", "p90", "p99", "max"] {
                if let Some(v) = c.values.get(key) {
                    m.series(
                        "preflight_selftest_latency_seconds",
                        &[b, ("check", &c.name), ("stat", key)],
                        v / 1e3,
                    );
                }
            }
        }
        m.family(
            "preflight_selftest_inferences",
            "gauge",
            "Model runs the self-test made (each input once).",
        )
        .series("preflight_selftest_inferences", &[b], self.timing.inferences_run as f64);
    }
}

/// Label values escape backslash, double quote and line feed.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_values_spelled_as_prometheus_does() {
        let mut m = Metrics::default();
        m.family("x_total", "counter", "help").series("x_total", &[("a", "q\"b\\c\nd")], 3.0);
        m.series("x_total", &[], f64::INFINITY).series("x_total", &[], f64::NAN);
        let text = m.finish();
        assert!(text.contains("x_total{a=\"q\\\"b\\\\c\\nd\"} 3\n"), "{text}");
        assert!(text.contains("x_total +Inf\nx_total NaN\n"), "{text}");
        assert!(text.starts_with("# HELP x_total help\n# TYPE x_total counter\n"));
    }
}
