//! Fitting the envelope's flag ([`Risk`]) on an envelope check's faults: every selected case
//! clean and under each fault at severities 1–5 is a row, labelled broken when its decisions
//! differ from the clean case's (boxes matched at IoU ≥ 0.5, the top class, the text). The
//! logistic model is fitted on the rows of the `fit` part, each class weighted to half (broken
//! rows are the rarer); the threshold flags at most `max_clean_outside` of the fit part's held
//! rows; the rates are then counted, per fault, on the `held-apart` part alone.

use super::logistic::Logistic;
use crate::latency::nearest_rank;
use crate::model::decode::{iou, Prediction};
use crate::model::risk::{FaultRates, Feature, Risk, RiskFit, Signals};
use crate::suite::perturb::Fault;
use crate::suite::spec::{Case, EnvelopeSpec};
use crate::suite::split::{FIT, HELD_APART};

/// The L2 penalty on the standardised weights: enough to keep a feature that separates the
/// fit part perfectly from running off, small against a thousand rows.
const L2: f64 = 0.5;

/// One row: its case, its fault (`None`: clean), its signals and whether its decisions changed.
struct Row<'a> {
    case: &'a Case,
    fault: Option<Fault>,
    signals: Signals,
    broken: bool,
}

/// What a row's input gave: its signals and its decisions at the manifest's threshold.
pub(crate) type Observed<'a> = Option<(Signals, &'a Prediction)>;

/// Fits the flag on `cases` (their `fit` part) and counts its rates on their `held-apart`
/// part; `observed` gives each input's signals and decisions. An error says why no flag could
/// be fitted.
pub(crate) fn fit<'a>(
    spec: &EnvelopeSpec,
    cases: &[&Case],
    observed: &dyn Fn(&Case, Option<Fault>) -> Observed<'a>,
) -> Result<Risk, String> {
    let tagged = |c: &Case, t: &str| c.tags.iter().any(|x| x == t);
    if !cases.iter().any(|c| tagged(c, FIT)) || !cases.iter().any(|c| tagged(c, HELD_APART)) {
        return Err("the flag needs the suite's split: cases in both its fit and held-apart \
                    parts (split = { seed, held_apart })"
            .into());
    }
    let mut rows = Vec::new();
    for &case in cases {
        let Some((clean, decided)) = observed(case, None) else {
            return Err(format!("case {}: no signals (a pipeline's frames give none)", case.id));
        };
        rows.push(Row { case, fault: None, signals: clean, broken: false });
        for severity in 1..=5 {
            for fault in spec.faults(severity) {
                let Some((signals, faulted)) = observed(case, Some(fault)) else {
                    return Err(format!("case {} under {fault}: not run", case.id));
                };
                let broken = !same_decisions(decided, faulted);
                rows.push(Row { case, fault: Some(fault), signals, broken });
            }
        }
    }
    let features = Feature::all().to_vec();
    let values = |r: &Row| features.iter().map(|f| f.value(&r.signals)).collect::<Vec<f64>>();
    let (fit_rows, held_rows): (Vec<&Row>, Vec<&Row>) =
        rows.iter().partition(|r| tagged(r.case, FIT));
    let broken = fit_rows.iter().filter(|r| r.broken).count();
    if broken == 0 || broken == fit_rows.len() {
        return Err(format!(
            "on the fit part {broken} of {} inputs changed decisions: nothing to separate",
            fit_rows.len()
        ));
    }
    let raw: Vec<Vec<f64>> = fit_rows.iter().map(|r| values(r)).collect();
    let n = raw.len() as f64;
    let center: Vec<f64> =
        (0..features.len()).map(|i| raw.iter().map(|r| r[i]).sum::<f64>() / n).collect();
    let scale: Vec<f64> = (0..features.len())
        .map(|i| {
            let var = raw.iter().map(|r| (r[i] - center[i]).powi(2)).sum::<f64>() / n;
            // A feature constant on the fit part carries nothing: scale 1 keeps it at zero.
            if var > 1e-18 {
                var.sqrt()
            } else {
                1.0
            }
        })
        .collect();
    let standard = |v: &[f64]| -> Vec<f64> {
        v.iter().zip(&center).zip(&scale).map(|((x, c), s)| (x - c) / s).collect()
    };
    let x: Vec<Vec<f64>> = raw.iter().map(|r| standard(r)).collect();
    let y: Vec<bool> = fit_rows.iter().map(|r| r.broken).collect();
    let weight_of = |b: bool| {
        let count = if b { broken } else { fit_rows.len() - broken };
        n / (2.0 * count as f64)
    };
    let w: Vec<f64> = y.iter().map(|&b| weight_of(b)).collect();
    let model = Logistic::fit(&x, &y, &w, L2).ok_or("the logistic fit did not converge")?;
    let mut held_scores: Vec<f64> =
        x.iter().zip(&y).filter(|(_, b)| !**b).map(|(v, _)| model.score(v)).collect();
    held_scores.sort_by(f64::total_cmp);
    let threshold = nearest_rank(&held_scores, 1.0 - spec.max_clean_outside);
    let flagged = |r: &Row| model.score(&standard(&values(r))) > threshold;
    let held_flagged = fit_rows.iter().filter(|r| !r.broken && flagged(r)).count() as f64
        / held_scores.len() as f64;
    let mut held_apart: Vec<FaultRates> = Vec::new();
    for r in held_rows {
        let name = r.fault.map_or("clean", |f| f.perturbation.name());
        let at = match held_apart.iter().position(|x| x.fault == name) {
            Some(at) => at,
            None => {
                held_apart.push(FaultRates {
                    fault: name.into(),
                    broken: 0,
                    broken_flagged: 0,
                    held: 0,
                    held_flagged: 0,
                });
                held_apart.len() - 1
            }
        };
        let rates = &mut held_apart[at];
        let f = usize::from(flagged(r));
        if r.broken {
            (rates.broken, rates.broken_flagged) = (rates.broken + 1, rates.broken_flagged + f);
        } else {
            (rates.held, rates.held_flagged) = (rates.held + 1, rates.held_flagged + f);
        }
    }
    Ok(Risk {
        features,
        center,
        scale,
        weights: model.weights,
        bias: model.bias,
        threshold,
        fitted: RiskFit {
            cases: cases.iter().filter(|c| tagged(c, FIT)).count(),
            rows: fit_rows.len(),
            broken,
            held_flagged,
            held_apart,
        },
    })
}

/// The faults (and `clean`) whose held-apart rates miss the check's limits: too few of their
/// broken inputs flagged, or too many of their held ones.
pub(crate) fn misses(risk: &Risk, spec: &EnvelopeSpec) -> Vec<String> {
    let held_apart = &risk.fitted.held_apart;
    held_apart
        .iter()
        .filter(|r| {
            r.broken_rate().is_some_and(|b| b < spec.min_broken_outside)
                || r.held_rate().is_some_and(|h| h > spec.max_clean_outside)
        })
        .map(|r| r.fault.clone())
        .collect()
}

/// Whether two predictions make the same decisions: the same number of boxes, each matched
/// one to one at IoU ≥ 0.5 (and of the same class); the same top class; the same text.
pub(crate) fn same_decisions(a: &Prediction, b: &Prediction) -> bool {
    match (a, b) {
        (
            Prediction::Detections { detections: a, .. },
            Prediction::Detections { detections: b, .. },
        ) => {
            if a.len() != b.len() {
                return false;
            }
            let mut left: Vec<_> = b.iter().collect();
            a.iter().all(|d| {
                let matched =
                    left.iter().position(|o| o.class == d.class && iou(&d.bbox, &o.bbox) >= 0.5);
                matched.map(|i| left.swap_remove(i)).is_some()
            })
        }
        (Prediction::Classes { classes: a }, Prediction::Classes { classes: b }) => {
            a.first().map(|c| c.index) == b.first().map(|c| c.index)
        }
        (Prediction::Text { text: a, .. }, Prediction::Text { text: b, .. }) => a == b,
        (Prediction::Lines { lines: a }, Prediction::Lines { lines: b }) => {
            crate::model::pipeline::page_text(a) == crate::model::pipeline::page_text(b)
        }
        (Prediction::Raw {}, Prediction::Raw {}) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::decode::Detection;

    fn boxes(b: &[[f32; 4]]) -> Prediction {
        let d = |bbox| Detection { score: 0.9, bbox, keypoints: vec![], class: None, label: None };
        Prediction::Detections { detections: b.iter().map(|&x| d(x)).collect(), max_score: 0.9 }
    }

    #[test]
    fn decisions_are_boxes_matched_one_to_one() {
        let two = boxes(&[[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]]);
        let moved_a_little = boxes(&[[21.0, 0.0, 31.0, 10.0], [1.0, 0.0, 11.0, 10.0]]);
        assert!(same_decisions(&two, &moved_a_little), "order does not matter");
        let moved_away = boxes(&[[0.0, 0.0, 10.0, 10.0], [26.0, 0.0, 36.0, 10.0]]);
        assert!(!same_decisions(&two, &moved_away));
        let doubled = boxes(&[[0.0, 0.0, 10.0, 10.0], [0.5, 0.0, 10.5, 10.0]]);
        assert!(!same_decisions(&two, &doubled), "one box may not match two");
        assert!(!same_decisions(&two, &boxes(&[[0.0, 0.0, 10.0, 10.0]])));
        assert!(same_decisions(&boxes(&[]), &boxes(&[])));
    }
}
