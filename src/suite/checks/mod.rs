//! The check kinds, each a method of the suite runner returning
//! `Result<Outcome, Cannot>`: an [`Outcome`] when the check could be evaluated (pass, fail or
//! not measured), [`Cannot`] with the reason when it could not, which the runner reports as a
//! failed check "cannot be evaluated: …". Nothing is skipped silently.
//!
//! - [`accuracy`]: a metric over clean cases;
//! - [`perturbed`]: invariance, directional and robustness, over perturbed cases;
//! - [`budget`]: latency, cold start and memory against the target's budgets;
//! - [`parity`]: raw outputs against a golden file;
//! - [`envelope`]: the operating envelope's bounds on held-apart cases.

mod accuracy;
mod budget;
pub(crate) mod envelope;
mod parity;
mod perturbed;

#[cfg(test)]
pub(crate) use accuracy::rate_outcome;

use std::collections::BTreeMap;

use crate::suite::gate::Status;
use crate::suite::report::CheckResult;
use crate::suite::spec::CheckSpec;

/// What a check computed before it becomes a [`CheckResult`](crate::suite::report::CheckResult).
pub(crate) struct Outcome {
    pub(crate) status: Status,
    pub(crate) measured: Option<f64>,
    pub(crate) threshold: Option<f64>,
    pub(crate) unit: &'static str,
    pub(crate) detail: String,
    pub(crate) failures: Vec<String>,
    pub(crate) values: BTreeMap<String, f64>,
}

impl Outcome {
    /// A failed check that could not be evaluated, with the reason.
    pub(crate) fn cannot(reason: impl Into<String>) -> Outcome {
        Outcome {
            status: Status::Fail,
            measured: None,
            threshold: None,
            unit: "",
            detail: format!("cannot be evaluated: {}", reason.into()),
            failures: vec![],
            values: BTreeMap::new(),
        }
    }
}

/// Why a check cannot be evaluated (a missing case or label, an undecodable image, a golden
/// file that does not fit the model).
#[derive(Debug)]
pub(crate) struct Cannot(pub(crate) String);

impl From<String> for Cannot {
    fn from(s: String) -> Cannot {
        Cannot(s)
    }
}

impl From<&str> for Cannot {
    fn from(s: &str) -> Cannot {
        Cannot(s.to_string())
    }
}

impl From<crate::Error> for Cannot {
    fn from(e: crate::Error) -> Cannot {
        Cannot(e.to_string())
    }
}

/// What every check method returns.
pub(crate) type Checked = Result<Outcome, Cannot>;

/// Pass when `holds`.
fn status(holds: bool) -> Status {
    if holds {
        Status::Pass
    } else {
        Status::Fail
    }
}

/// The reported form of a check's outcome.
pub(crate) fn into_result(check: &CheckSpec, outcome: Outcome) -> CheckResult {
    CheckResult {
        name: check.name.clone(),
        kind: check.kind.name().into(),
        description: check.description.clone(),
        severity: check.severity,
        passed: match outcome.status {
            Status::Pass => Some(true),
            Status::Fail => Some(false),
            Status::NotMeasured => None,
        },
        status: outcome.status,
        measured: outcome.measured.map(round6),
        threshold: outcome.threshold,
        unit: outcome.unit.into(),
        detail: outcome.detail,
        failures: outcome.failures,
        values: outcome.values.into_iter().map(|(k, v)| (k, round6(v))).collect(),
    }
}

/// Six significant digits: reports stay readable and stable, and tiny parity differences
/// (1e-7) keep their magnitude.
fn round6(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(5 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_significant_digits() {
        assert_eq!(round6(1.3709e-4), 1.3709e-4);
        assert_eq!(round6(0.123456789), 0.123457);
        assert_eq!(round6(20.1948113), 20.1948);
        assert_eq!(round6(0.0), 0.0);
    }
}
