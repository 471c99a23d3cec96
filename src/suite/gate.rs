//! The gate: check results → verdict. Critical checks gate serving, major ones degrade, minor
//! ones inform; a check that was not measured (latency under an emulator) does not gate.

use serde::{Deserialize, Serialize};

use super::spec::Severity;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The expectation holds.
    Pass,
    /// It does not hold, or could not be evaluated (the detail says which).
    Fail,
    /// Deliberately not measured here (e.g. latency on an emulated CPU); never gates.
    NotMeasured,
}

/// The verdict over a whole suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Verdict {
    /// Every critical and major check holds.
    Pass,
    /// Every critical check holds, some major one does not.
    Degraded,
    /// A critical check does not hold.
    Fail,
}

impl Verdict {
    /// Whether the runtime may serve under this verdict; `strict` refuses `Degraded` too.
    pub fn allows_serving(self, strict: bool) -> bool {
        match self {
            Verdict::Pass => true,
            Verdict::Degraded => !strict,
            Verdict::Fail => false,
        }
    }

    /// Lower-case name, as in reports.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The verdict for results given as `(severity, status)` pairs.
pub fn verdict(results: impl IntoIterator<Item = (Severity, Status)>) -> Verdict {
    let mut v = Verdict::Pass;
    for (severity, status) in results {
        if status != Status::Fail {
            continue;
        }
        match severity {
            Severity::Critical => return Verdict::Fail,
            Severity::Major => v = Verdict::Degraded,
            Severity::Minor => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::*;
    use Status::*;

    #[test]
    fn severity_hierarchy() {
        assert_eq!(verdict([(Critical, Pass), (Major, Pass), (Minor, Fail)]), Verdict::Pass);
        assert_eq!(verdict([(Critical, Pass), (Major, Fail), (Minor, Fail)]), Verdict::Degraded);
        assert_eq!(verdict([(Major, Fail), (Critical, Fail)]), Verdict::Fail);
        assert_eq!(verdict([(Critical, NotMeasured)]), Verdict::Pass);
        assert_eq!(verdict([]), Verdict::Pass);
    }

    #[test]
    fn strict_refuses_degraded() {
        assert!(Verdict::Degraded.allows_serving(false));
        assert!(!Verdict::Degraded.allows_serving(true));
        assert!(!Verdict::Fail.allows_serving(false));
        assert!(Verdict::Pass.allows_serving(true));
    }
}
