//! Checks over perturbed cases: `invariance` (decisions unchanged), `directional` (the top
//! score moves only one way, or the top class becomes an expected one) and `robustness` (the
//! metric per severity, and the severity where it breaks).

use std::collections::BTreeMap;

use super::{status, Checked, Outcome};
use crate::model::decode::Prediction;
use crate::suite::metric::metric;
use crate::suite::perturb::At;
use crate::suite::run::{Predicted, Runner};
use crate::suite::spec::{Case, Direction, DirectionalSpec, InvarianceSpec, RobustnessSpec};

impl Runner<'_> {
    pub(crate) fn invariance(&mut self, a: &InvarianceSpec) -> Checked {
        let cases = self.select(&a.select)?;
        let clean = self.predictions(&cases, None, a.score_threshold)?;
        let (mut agree, mut total, mut failures) = (0usize, 0usize, Vec::new());
        let mut values = BTreeMap::new();
        for p in &a.perturbations {
            let fault = p.fault();
            let perturbed = self.predictions(&cases, Some(fault), a.score_threshold)?;
            let mut here = 0;
            for ((case, c), (_, q)) in clean.iter().zip(&perturbed) {
                total += 1;
                if decision(c) == decision(q) {
                    agree += 1;
                    here += 1;
                } else {
                    failures.push(format!("{}@{fault}", case.id));
                }
            }
            values.insert(fault.to_string(), here as f64 / cases.len() as f64);
        }
        let threshold = a.threshold.for_target(self.target_name());
        let rate = agree as f64 / total as f64;
        let names: Vec<String> = a.perturbations.iter().map(|p| p.fault().to_string()).collect();
        Ok(Outcome {
            status: status(rate >= threshold),
            measured: Some(rate),
            threshold: Some(threshold),
            unit: "agreement",
            detail: format!(
                "{agree}/{total} decisions unchanged under {} (seed {})",
                names.join(", "),
                self.ctx.seed
            ),
            failures,
            values,
        })
    }

    pub(crate) fn directional(&mut self, a: &DirectionalSpec) -> Checked {
        if let Some(label) = &a.expect {
            return self.expected_label(a, label);
        }
        let (cases, moved) = self.perturbed_selection(a)?;
        let clean = self.predictions(&cases, None, None)?;
        let fault = a.perturbation.fault();
        let mut failures = Vec::new();
        for ((case, c), (_, q)) in clean.iter().zip(&moved) {
            let delta = q.top_score() - c.top_score();
            let wrong_way = match a.direction {
                Some(Direction::Decrease) => delta > a.tolerance,
                Some(Direction::Increase) => -delta > a.tolerance,
                None => true,
            };
            if wrong_way {
                failures.push(format!("{}@{fault}", case.id));
            }
        }
        let obey = (cases.len() - failures.len()) as f64 / cases.len() as f64;
        let threshold = a.threshold.for_target(self.target_name());
        let way = match a.direction {
            Some(Direction::Increase) => "may only rise",
            _ => "may only fall",
        };
        Ok(Outcome {
            status: status(obey >= threshold),
            measured: Some(obey),
            threshold: Some(threshold),
            unit: "fraction",
            detail: format!(
                "top score {way} under {fault} (tolerance {}); {}/{} cases obey",
                a.tolerance,
                cases.len() - failures.len(),
                cases.len()
            ),
            failures,
            values: BTreeMap::new(),
        })
    }

    /// A directional check's cases and their predictions under its perturbation.
    fn perturbed_selection(
        &mut self,
        a: &DirectionalSpec,
    ) -> Result<(Vec<Case>, Predicted), super::Cannot> {
        let cases = self.select(&a.select)?;
        let moved = self.predictions(&cases, Some(a.perturbation.fault()), None)?;
        Ok((cases, moved))
    }

    /// Directional with `expect`: under the perturbation each case's top class must become
    /// `label` (a direction classifier must notice a line turned upside down).
    fn expected_label(&mut self, a: &DirectionalSpec, label: &str) -> Checked {
        let (cases, moved) = self.perturbed_selection(a)?;
        let fault = a.perturbation.fault();
        let mut failures = Vec::new();
        for (case, q) in &moved {
            let Prediction::Classes { classes } = q else {
                return Err("`expect` needs a classification model".into());
            };
            if classes.first().map(|c| c.label.as_str()) != Some(label) {
                failures.push(format!("{}@{fault}", case.id));
            }
        }
        let obey = (cases.len() - failures.len()) as f64 / cases.len() as f64;
        let threshold = a.threshold.for_target(self.target_name());
        Ok(Outcome {
            status: status(obey >= threshold),
            measured: Some(obey),
            threshold: Some(threshold),
            unit: "fraction",
            detail: format!(
                "top class becomes {label:?} under {fault}; {}/{} cases do",
                cases.len() - failures.len(),
                cases.len()
            ),
            failures,
            values: BTreeMap::new(),
        })
    }

    pub(crate) fn robustness(&mut self, a: &RobustnessSpec) -> Checked {
        let cases = self.select(&a.select)?;
        let threshold = a.threshold.for_target(self.target_name());
        let mut curve = Vec::new();
        let mut breaking = None;
        let mut failures = Vec::new();
        for severity in 1..=5u8 {
            let fault = a.fault(severity);
            let preds = self.predictions(&cases, Some(fault), a.scoring.score_threshold)?;
            let m = metric(a.metric, &preds, a.scoring)?;
            let holds = if a.metric.lower_is_better() {
                m.value <= threshold
            } else {
                m.value >= threshold
            };
            if !holds && breaking.is_none() {
                breaking = Some(severity);
                failures = m.failures.iter().map(|id| format!("{id}@{fault}")).collect();
            }
            curve.push(m.value);
        }
        let held = breaking.map_or(5, |b| b - 1);
        let mut values: BTreeMap<String, f64> = curve
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{}@{}", a.metric.name(), i + 1), *v))
            .collect();
        // The limit each severity is held to: a chart of the curve draws it.
        values.insert("limit".into(), threshold);
        let curve_s: Vec<String> = curve.iter().map(|v| format!("{v:.2}")).collect();
        let breaks = match breaking {
            Some(b) => format!("breaks at severity {b}"),
            None => "holds through severity 5".into(),
        };
        Ok(Outcome {
            status: status(held >= a.hold_through),
            measured: Some(held as f64),
            threshold: Some(a.hold_through as f64),
            unit: "severity held",
            detail: format!(
                "{} under {}{} at severities 1-5: {} (limit {threshold}); {breaks}",
                a.metric.name(),
                a.corruption,
                match a.fault(1).at {
                    At::Input => "",
                    At::Frame => " at the frame",
                },
                curve_s.join(" ")
            ),
            failures,
            values,
        })
    }
}

/// The decision an invariance check compares: detected or not, the top class, or the text.
fn decision(p: &Prediction) -> String {
    match p {
        Prediction::Detections { detections, .. } => (!detections.is_empty()).to_string(),
        Prediction::Classes { classes } => {
            classes.first().map_or(String::new(), |c| c.label.clone())
        }
        Prediction::Text { text, .. } => text.clone(),
        Prediction::Lines { lines } => crate::model::pipeline::page_text(lines),
        Prediction::Raw {} => String::new(),
    }
}
