//! What a suite run will ask of the model, listed before anything runs: every input (a case,
//! clean or under a perturbation at a severity) once, with every score threshold its
//! predictions are read at, and whether a parity check needs its raw outputs.

use super::perturb::{At, Fault};
use super::spec::{Case, CheckKind, Selection, Suite};
use super::subject::Subject;

/// A case and what was done to it: the identity of one model input.
pub(super) type Key = (String, Option<Fault>);

/// One model input a run needs.
#[derive(Debug, Clone)]
pub(super) struct Input {
    pub(super) case: Case,
    pub(super) fault: Option<Fault>,
    /// Score thresholds the checks decode its outputs at (`None`: the manifest's).
    pub(super) scores: Vec<Option<f32>>,
    /// A parity check compares its raw outputs.
    pub(super) keep_raw: bool,
    /// The envelope needs its condition measures (a robustness check's input).
    pub(super) measure: bool,
    /// The envelope's flag needs its signals (an envelope check's input).
    pub(super) signals: bool,
}

impl Input {
    pub(super) fn key(&self) -> Key {
        (self.case.id.clone(), self.fault)
    }

    /// Its fault applies to a model's frame before the resize, so it needs the decoded frame
    /// (a pipeline's image is its frame already).
    pub(super) fn needs_frame(&self, subject: Subject<'_>) -> bool {
        matches!(subject, Subject::Model(_)) && self.fault.is_some_and(|f| f.at == At::Frame)
    }
}

/// Every input the suite's checks ask for, in the order they first ask. A selection that
/// cannot be resolved adds nothing: its check reports why when it runs.
pub(super) fn plan(suite: &Suite) -> Vec<Input> {
    let mut inputs: Vec<Input> = Vec::new();
    let select = |s: &Selection| -> Vec<Case> {
        suite.select(s).map(|c| c.into_iter().cloned().collect()).unwrap_or_default()
    };
    for check in &suite.checks {
        match &check.kind {
            CheckKind::Accuracy(a) => {
                for case in select(&a.select) {
                    need(&mut inputs, &case, None, Some(a.scoring.score_threshold));
                }
            }
            CheckKind::Invariance(a) => {
                for case in select(&a.select) {
                    need(&mut inputs, &case, None, Some(a.score_threshold));
                    for p in &a.perturbations {
                        need(&mut inputs, &case, Some(p.fault()), Some(a.score_threshold));
                    }
                }
            }
            CheckKind::Directional(a) => {
                let fault = a.perturbation.fault();
                for case in select(&a.select) {
                    if a.expect.is_none() {
                        need(&mut inputs, &case, None, Some(None));
                    }
                    need(&mut inputs, &case, Some(fault), Some(None));
                }
            }
            CheckKind::Robustness(a) => {
                let measured = super::envelope::measure_of(a.corruption).is_some();
                for case in select(&a.select) {
                    if measured {
                        // The clean case is where the envelope's proven range starts.
                        need(&mut inputs, &case, None, None).measure = true;
                    }
                    for severity in 1..=5 {
                        need(
                            &mut inputs,
                            &case,
                            Some(a.fault(severity)),
                            Some(a.scoring.score_threshold),
                        )
                        .measure |= measured;
                    }
                }
            }
            CheckKind::Parity(a) => {
                for case in a.cases.iter().filter_map(|id| suite.case(id)) {
                    // Raw outputs only: the parity check decodes nothing.
                    need(&mut inputs, case, None, None).keep_raw = true;
                }
            }
            CheckKind::Envelope(a) if !a.faults.is_empty() => {
                for case in select(&a.select) {
                    let clean = need(&mut inputs, &case, None, Some(None));
                    (clean.measure, clean.signals) = (true, true);
                    for severity in 1..=5 {
                        for fault in a.faults(severity) {
                            let input = need(&mut inputs, &case, Some(fault), Some(None));
                            (input.measure, input.signals) = (true, true);
                        }
                    }
                }
            }
            CheckKind::Latency(_)
            | CheckKind::ColdStart(_)
            | CheckKind::Memory(_)
            | CheckKind::BootTime(_)
            | CheckKind::Envelope(_) => {}
        }
    }
    inputs
}

/// The input for `case` under `fault`, added when new; `decode` adds a score threshold
/// its outputs are decoded at (`Some(None)`: the manifest's).
fn need<'a>(
    inputs: &'a mut Vec<Input>,
    case: &Case,
    fault: Option<Fault>,
    decode: Option<Option<f32>>,
) -> &'a mut Input {
    let at = match inputs.iter().position(|i| i.case.id == case.id && i.fault == fault) {
        Some(at) => at,
        None => {
            inputs.push(Input {
                case: case.clone(),
                fault,
                scores: vec![],
                keep_raw: false,
                measure: false,
                signals: false,
            });
            inputs.len() - 1
        }
    };
    let input = &mut inputs[at];
    if let Some(score) = decode {
        let bits = score.map(f32::to_bits);
        if !input.scores.iter().any(|s| s.map(f32::to_bits) == bits) {
            input.scores.push(score);
        }
    }
    input
}
