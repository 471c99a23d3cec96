//! `accuracy`: a metric over the clean cases of a slice against a threshold.

use super::{status, Checked, Outcome};
use crate::suite::metric::{metric, MetricValue};
use crate::suite::run::Runner;
use crate::suite::spec::{AccuracySpec, Metric};

impl Runner<'_> {
    pub(crate) fn accuracy(&mut self, a: &AccuracySpec) -> Checked {
        let cases = self.select(&a.select)?;
        let preds = self.predictions(&cases, None, a.scoring.score_threshold)?;
        let classes: Vec<String> = a.class.iter().chain(&a.classes).cloned().collect();
        let preds = match classes.is_empty() {
            false => crate::suite::metric::for_classes(&preds, &classes),
            true => preds,
        };
        // Recall of one size: only boxes of that size are to be found; a detection of a box
        // of another size cannot match one of these (its IoU with them is low).
        let preds = match a.size {
            Some(size) => crate::suite::metric::for_size(&preds, size),
            None => preds,
        };
        let threshold = a.threshold.for_target(self.target_name());
        let m = metric(a.metric, &preds, a.scoring)?;
        let parts = by_part(a, &preds)?;
        let extra: String = parts
            .iter()
            .map(|(p, v)| match &v.summary {
                Some(_) => format!("; {p} {:.4}", v.value),
                None => format!("; {p} {}/{}", counted(a.metric, v), v.total),
            })
            .collect();
        let mut out = rate_outcome(a.metric, m, threshold, &extra);
        out.values.extend(parts.into_iter().map(|(p, v)| (p.to_string(), v.value)));
        Ok(out)
    }
}

/// The metric on each part of the suite's split, when the cases carry it: every figure says
/// which part it is from (the fit part chose the threshold; the held-apart part is evidence).
fn by_part(
    a: &AccuracySpec,
    preds: &[(crate::suite::spec::Case, crate::model::decode::Prediction)],
) -> Result<Vec<(&'static str, MetricValue)>, super::Cannot> {
    use crate::suite::split::{FIT, HELD_APART};
    let mut out = Vec::new();
    for part in [FIT, HELD_APART] {
        let these: Vec<_> =
            preds.iter().filter(|(c, _)| c.tags.iter().any(|t| t == part)).cloned().collect();
        if !these.is_empty() && these.len() < preds.len() {
            out.push((part, metric(a.metric, &these, a.scoring)?));
        }
    }
    Ok(out)
}

/// What the detail counts: hits, or for a false-positive rate the cases that had one.
fn counted(m: Metric, v: &MetricValue) -> usize {
    if m == Metric::FalsePositiveRate {
        v.total - v.hits
    } else {
        v.hits
    }
}

/// The outcome of a metric against its threshold, counted in the detail line.
pub(crate) fn rate_outcome(m: Metric, v: MetricValue, threshold: f64, extra: &str) -> Outcome {
    let holds = if m.lower_is_better() { v.value <= threshold } else { v.value >= threshold };
    let counted = counted(m, &v);
    let of = if m == Metric::Cer { " characters wrong" } else { "" };
    let bound = if m.lower_is_better() { "max" } else { "min" };
    let detail = match &v.summary {
        Some(summary) => format!("{summary} ({bound} {threshold}){extra}"),
        None => format!("{} {counted}/{}{of} ({bound} {threshold}){extra}", m.name(), v.total),
    };
    Outcome {
        status: status(holds),
        measured: Some(v.value),
        threshold: Some(threshold),
        unit: "rate",
        detail,
        failures: v.failures,
        values: v.values.into_iter().collect(),
    }
}
