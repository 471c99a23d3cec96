//! Validation of a suite's checks: impossible thresholds and parameters are errors before
//! anything runs, each naming its key path.

use std::path::Path;

use super::spec::*;
use crate::error::{Error, Result};

/// Timed runs (and warm-up runs) a latency check may ask for: enough for any percentile a
/// board needs, and a bound so a typo cannot hang a boot.
pub const MAX_TIMED_RUNS: usize = 100_000;

/// Impossible thresholds and parameters are errors before anything runs.
pub(super) fn validate(file: &Path, prefix: &str, check: &CheckSpec) -> Result<()> {
    let bad = |key: &str, msg: String| Err(Error::config(file, format!("{prefix}.{key}"), msg));
    let rate = |t: &Threshold| -> Result<()> {
        for (suffix, v) in t.values() {
            if !(0.0..=1.0).contains(&v) {
                return bad(
                    &format!("threshold{suffix}"),
                    format!("a rate must be within 0..=1, got {v}"),
                );
            }
        }
        Ok(())
    };
    let positive = |t: &Threshold| -> Result<()> {
        for (suffix, v) in t.values() {
            if !(v.is_finite() && v > 0.0) {
                return bad(
                    &format!("threshold{suffix}"),
                    format!("a budget must be a positive number, got {v}"),
                );
            }
        }
        Ok(())
    };
    let per_target_default = |t: &Threshold| -> Result<()> {
        if let Threshold::PerTarget(m) = t {
            if !m.contains_key("default") {
                return bad("threshold", "per-target thresholds need a `default` entry".into());
            }
        }
        Ok(())
    };
    let severity_ok = |p: &PerturbationRef, key: &str| -> Result<()> {
        if !(1..=5).contains(&p.severity) {
            return bad(key, format!("severity must be 1..=5, got {}", p.severity));
        }
        Ok(())
    };
    let score = |s: Option<f32>| -> Result<()> {
        match s {
            Some(v) if !(0.0..=1.0).contains(&v) => {
                bad("score_threshold", format!("must be within 0..=1, got {v}"))
            }
            _ => Ok(()),
        }
    };
    let iou = |v: f32| -> Result<()> {
        if !(v > 0.0 && v <= 1.0) {
            return bad("iou", format!("must be within (0, 1], got {v}"));
        }
        Ok(())
    };
    match &check.kind {
        CheckKind::Accuracy(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            score(a.scoring.score_threshold)?;
            iou(a.scoring.iou)?;
            if a.class.is_some() && !a.classes.is_empty() {
                return bad("classes", "give `class` or `classes`, not both".into());
            }
            if a.size.is_some() && a.metric != crate::suite::spec::Metric::Recall {
                return bad(
                    "size",
                    format!("counts labelled boxes of a size: a recall, not {}", a.metric.name()),
                );
            }
        }
        CheckKind::Invariance(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            score(a.score_threshold)?;
            if a.perturbations.is_empty() {
                return bad("perturbations", "list at least one perturbation".into());
            }
            for (j, p) in a.perturbations.iter().enumerate() {
                severity_ok(p, &format!("perturbations[{j}].severity"))?;
            }
        }
        CheckKind::Directional(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            severity_ok(&a.perturbation, "perturbation.severity")?;
            if !(a.tolerance.is_finite() && a.tolerance >= 0.0) {
                return bad("tolerance", format!("must be a number >= 0, got {}", a.tolerance));
            }
            if a.direction.is_some() == a.expect.is_some() {
                return bad(
                    "direction",
                    "give exactly one of `direction` (decrease, increase) and `expect` (a label)"
                        .into(),
                );
            }
        }
        CheckKind::Robustness(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            score(a.scoring.score_threshold)?;
            iou(a.scoring.iou)?;
            if a.hold_through > 5 {
                return bad("hold_through", format!("must be 0..=5, got {}", a.hold_through));
            }
        }
        CheckKind::Latency(a) => {
            per_target_default(&a.threshold)?;
            positive(&a.threshold)?;
            if a.iterations == 0 || a.iterations > MAX_TIMED_RUNS {
                return bad(
                    "iterations",
                    format!("must be 1..={MAX_TIMED_RUNS}, got {}", a.iterations),
                );
            }
            if a.warmup > MAX_TIMED_RUNS {
                return bad("warmup", format!("must be 0..={MAX_TIMED_RUNS}, got {}", a.warmup));
            }
            if a.windows() == 0 || a.windows() > a.iterations {
                return bad(
                    "windows",
                    format!("must be 1..=iterations ({}), got {}", a.iterations, a.windows()),
                );
            }
        }
        CheckKind::ColdStart(a) | CheckKind::Memory(a) | CheckKind::BootTime(a) => {
            per_target_default(&a.threshold)?;
            positive(&a.threshold)?;
        }
        CheckKind::Parity(a) => {
            if a.cases.is_empty() {
                return bad("cases", "list the cases to compare".into());
            }
        }
        CheckKind::Envelope(a) => {
            for (key, v) in [
                ("max_clean_outside", a.max_clean_outside),
                ("min_broken_outside", a.min_broken_outside),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return bad(key, format!("must be within 0..=1, got {v}"));
                }
            }
        }
    }
    Ok(())
}

impl CheckKind {
    /// Whether the check compares decisions (detections, classes, text), which a bundle with
    /// raw outputs does not make.
    pub fn needs_decisions(&self) -> bool {
        matches!(
            self,
            CheckKind::Accuracy(_)
                | CheckKind::Invariance(_)
                | CheckKind::Directional(_)
                | CheckKind::Robustness(_)
                | CheckKind::Envelope(_)
        )
    }
}

impl Suite {
    /// Refuses, before anything runs, a suite whose checks need decisions for a bundle whose
    /// output kind is `raw`: they would compare nothing. Names the first such check.
    pub fn refuse_undecidable(&self, output: &crate::model::manifest::OutputSpec) -> Result<()> {
        if !matches!(output, crate::model::manifest::OutputSpec::Raw(_)) {
            return Ok(());
        }
        match self.checks.iter().find(|c| c.kind.needs_decisions()) {
            Some(c) => Err(Error::config(
                &self.path,
                format!("checks.{}", c.name),
                format!(
                    "a {} check needs decisions, and the bundle's output kind is `raw` (give the \
                     manifest a decoder, or gate a raw model on latency, cold start, memory and \
                     parity)",
                    c.kind.name()
                ),
            )),
            None => Ok(()),
        }
    }
}
