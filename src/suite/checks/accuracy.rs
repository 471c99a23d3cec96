//! `accuracy`: a metric over the clean cases of a slice against a threshold.

use std::collections::BTreeMap;

use super::{status, Checked, Outcome};
use crate::suite::metric::{metric, MetricValue};
use crate::suite::run::Runner;
use crate::suite::spec::{AccuracySpec, Metric};

impl Runner<'_> {
    pub(crate) fn accuracy(&mut self, a: &AccuracySpec) -> Checked {
        let cases = self.select(&a.select)?;
        let preds = self.predictions(&cases, None, a.scoring.score_threshold)?;
        let threshold = a.threshold.for_target(self.target_name());
        let m = metric(a.metric, &preds, a.scoring)?;
        Ok(rate_outcome(a.metric, m, threshold, ""))
    }
}

/// The outcome of a metric against its threshold, counted in the detail line.
pub(crate) fn rate_outcome(m: Metric, v: MetricValue, threshold: f64, extra: &str) -> Outcome {
    let holds = if m.lower_is_better() { v.value <= threshold } else { v.value >= threshold };
    let counted = if m == Metric::FalsePositiveRate { v.total - v.hits } else { v.hits };
    let of = if m == Metric::Cer { " characters wrong" } else { "" };
    Outcome {
        status: status(holds),
        measured: Some(v.value),
        threshold: Some(threshold),
        unit: "rate",
        detail: format!(
            "{} {counted}/{}{of} ({} {threshold}){extra}",
            m.name(),
            v.total,
            if m.lower_is_better() { "max" } else { "min" }
        ),
        failures: v.failures,
        values: BTreeMap::new(),
    }
}
