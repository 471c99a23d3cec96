//! Checks against the target's budgets: `latency` (a percentile of end-to-end runs),
//! `cold_start` (bundle open → first result) and `memory` (peak resident memory). On an
//! emulated target none is measured: an emulator's timing says nothing about the board.
//! `boot_time` (a suite's `budget_ms`) times the whole self-test.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{status, Checked, Outcome};
use crate::latency::{nearest_rank, Percentiles};
use crate::suite::gate::Status;
use crate::suite::run::{ms, Runner};
use crate::suite::spec::{BudgetSpec, LatencySpec};

impl Runner<'_> {
    pub(crate) fn latency(&mut self, a: &LatencySpec) -> Checked {
        let threshold = a.threshold.for_target(self.target_name());
        if self.emulated() {
            return Ok(not_measured(threshold, "ms", "latency"));
        }
        let case = match &a.case {
            Some(id) => {
                self.suite.case(id).cloned().ok_or_else(|| format!("no case with id {id}"))?
            }
            None => self.suite.cases.first().cloned().ok_or("the suite has no cases")?,
        };
        // Timed from the decoded original: resizing is part of serving a frame.
        let img =
            self.subject.load_image(&case.path).map_err(|e| format!("case {}: {e}", case.id))?;
        let t = Instant::now();
        let samples = self.timed_runs(&img, a.warmup, a.iterations);
        self.timing.inference_ms += ms(t.elapsed());
        let samples = samples?;
        let all = Percentiles::of(&samples).ok_or("no timed run")?;
        let stat = a.stat.name();
        // Consecutive windows; sizes differ by at most one run.
        let windows: Vec<f64> = (0..a.windows())
            .filter_map(|w| {
                let (from, to) =
                    (w * samples.len() / a.windows(), (w + 1) * samples.len() / a.windows());
                Percentiles::of(&samples[from..to]).and_then(|p| p.get(stat))
            })
            .collect();
        let mut sorted = windows.clone();
        sorted.sort_by(f64::total_cmp);
        let value = if sorted.is_empty() { f64::NAN } else { nearest_rank(&sorted, 0.5) };
        let mut values: BTreeMap<String, f64> = [
            ("p50", all.p50),
            ("p90", all.p90),
            ("p99", all.p99),
            ("max", all.max),
            ("mean", all.mean),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if windows.len() > 1 {
            for (i, w) in windows.iter().enumerate() {
                values.insert(format!("{stat}@window{}", i + 1), *w);
            }
        }
        let per_window: Vec<String> = windows.iter().map(|w| format!("{w:.2}")).collect();
        let windowed = if windows.len() > 1 {
            format!(
                "; {stat} per window of {}: {} ms, gated on the median window",
                a.iterations / windows.len(),
                per_window.join(" ")
            )
        } else {
            String::new()
        };
        // Windows that disagree by more than 2x say something else ran on the cores.
        let interference = match windows.iter().copied().enumerate().max_by(|x, y| x.1.total_cmp(&y.1)) {
            Some((i, worst)) if windows.len() > 1 && worst > 2.0 * value => format!(
                "; interference: window {} ran {:.1}x slower than the median window (another load on the cores, not the board)",
                i + 1,
                worst / value
            ),
            _ => String::new(),
        };
        Ok(Outcome {
            status: status(value <= threshold),
            measured: Some(value),
            threshold: Some(threshold),
            unit: "ms",
            detail: format!(
                "{stat} of {} end-to-end runs on {} after {} warm-up: p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} ms{windowed}{interference}",
                a.iterations,
                case.id,
                a.warmup,
                all.p50,
                all.p90,
                all.p99,
                all.max
            ),
            failures: vec![],
            values,
        })
    }

    /// `iterations` end-to-end latencies after `warmup` untimed runs; the test hook's stall,
    /// if any, is added to the run it names.
    fn timed_runs(
        &self,
        img: &image::DynamicImage,
        warmup: usize,
        iterations: usize,
    ) -> crate::Result<Vec<Duration>> {
        for _ in 0..warmup {
            self.subject.time(img)?;
        }
        (0..iterations)
            .map(|i| {
                let mut took = self.subject.time(img)?;
                if let Some((run, stall)) = self.ctx.latency_stall {
                    if run == i {
                        std::thread::sleep(stall);
                        took += stall;
                    }
                }
                Ok(took)
            })
            .collect()
    }

    pub(crate) fn boot_time(&mut self, a: &BudgetSpec) -> Checked {
        let threshold = a.threshold.for_target(self.target_name());
        if self.emulated() {
            return Ok(not_measured(threshold, "ms", "boot time"));
        }
        let took = ms(self.started.elapsed());
        Ok(budget_outcome(took, threshold, "ms", "the self-test, bundle open to its last check"))
    }

    pub(crate) fn cold_start(&mut self, a: &BudgetSpec) -> Checked {
        let threshold = a.threshold.for_target(self.target_name());
        if self.emulated() {
            return Ok(not_measured(threshold, "ms", "cold start"));
        }
        let d = self.ctx.cold_start.ok_or("cold start was not timed in this run")?;
        Ok(budget_outcome(ms(d), threshold, "ms", "bundle open -> first result"))
    }

    pub(crate) fn memory(&mut self, a: &BudgetSpec) -> Checked {
        let threshold = a.threshold.for_target(self.target_name());
        if self.emulated() {
            return Ok(not_measured(
                threshold,
                "MiB",
                "memory (the emulator's own memory would be counted)",
            ));
        }
        let m = peak_rss_mib()
            .ok_or("peak resident memory is not available on this OS (/proc/self/status)")?;
        Ok(budget_outcome(m, threshold, "MiB", "peak resident memory of the process (VmHWM)"))
    }
}

fn not_measured(threshold: f64, unit: &'static str, what: &str) -> Outcome {
    Outcome {
        status: Status::NotMeasured,
        measured: None,
        threshold: Some(threshold),
        unit,
        detail: format!(
            "not measured: emulated CPU; {what} on an emulator says nothing about the board"
        ),
        failures: vec![],
        values: BTreeMap::new(),
    }
}

fn budget_outcome(value: f64, threshold: f64, unit: &'static str, what: &str) -> Outcome {
    Outcome {
        status: status(value <= threshold),
        measured: Some(value),
        threshold: Some(threshold),
        unit,
        detail: format!("{what}: {value:.1} {unit} (budget {threshold} {unit})"),
        failures: vec![],
        values: BTreeMap::new(),
    }
}

/// Peak resident set size of this process in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
