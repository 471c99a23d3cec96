//! The eight check kinds, each a method of the suite runner returning
//! `Result<Outcome, Cannot>`: an [`Outcome`] when the check could be evaluated (pass, fail or
//! not measured), [`Cannot`] with the reason when it could not, which the runner reports as a
//! failed check "cannot be evaluated: …". Nothing is skipped silently.
//!
//! - [`accuracy`]: a metric over clean cases;
//! - [`perturbed`]: invariance, directional and robustness, over perturbed cases;
//! - [`budget`]: latency, cold start and memory against the target's budgets;
//! - [`parity`]: raw outputs against a golden file.

mod accuracy;
mod budget;
mod parity;
mod perturbed;

#[cfg(test)]
pub(crate) use accuracy::rate_outcome;

use std::collections::BTreeMap;

use crate::suite::gate::Status;

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
