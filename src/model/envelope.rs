//! The operating envelope: the range of frame conditions a bundle's suite proved the model
//! under, as bounds on the [`condition`](super::condition) measures, and — where the suite
//! fitted one — a [`Risk`] flag that reads the model's own uncertainty beside them. The suite
//! derives it from its robustness curves and faults (see `suite::envelope`); `preflight record
//! --envelope` stores it in the bundle; serving judges every frame against it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::condition::Measure;
use super::risk::{Risk, Signals};
use crate::error::{Error, Result};

/// Schema tag of an envelope file.
pub const ENVELOPE_SCHEMA: &str = "preflight.envelope/v1";

/// Which side of a bound is inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Inside when the measure is at least the bound (contrast, sharpness).
    Min,
    /// Inside when the measure is at most the bound (noise, brightness).
    Max,
}

impl Direction {
    /// `>=` or `<=`: how a bound reads in a report.
    pub fn symbol(self) -> &'static str {
        match self {
            Direction::Min => ">=",
            Direction::Max => "<=",
        }
    }
}

/// One bound, with where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bound {
    /// The measure bounded.
    pub measure: Measure,
    /// Which side is inside.
    pub direction: Direction,
    /// The bound: the edge of what the check proved.
    pub bound: f32,
    /// The measure's range over the inputs the check held on (clean cases included).
    pub proven: [f32; 2],
    /// The median of the measure over the inputs at the severity where the check broke.
    pub broken_median: Option<f32>,
    /// The robustness check the bound comes from.
    pub check: String,
    /// Its corruption.
    pub corruption: String,
    /// The highest severity the check held at (0: only clean inputs held).
    pub held_through: u8,
    /// The severity it broke at, if it did.
    pub broke_at: Option<u8>,
    /// How the bound did on the half of the cases that did not set it.
    #[serde(default)]
    pub validation: Option<Validation>,
}

/// A bound tried on cases held apart from its fitting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Share of clean cases flagged outside (wanted ≤ 5 %).
    pub clean_outside: f32,
    /// Share of inputs past the breaking severity flagged outside (wanted ≥ 90 %).
    pub broken_outside: f32,
    /// Clean cases tried.
    pub clean: usize,
    /// Broken inputs tried.
    pub broken: usize,
}

/// A robustness check whose measure could not separate what the model survives from what
/// breaks it: no bound is shipped for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unseparated {
    /// The check.
    pub check: String,
    /// The measure tried.
    pub measure: Measure,
    /// Why no bound.
    pub reason: String,
}

impl Bound {
    /// True when `value` is inside the bound.
    pub fn admits(&self, value: f32) -> bool {
        match self.direction {
            Direction::Min => value >= self.bound,
            Direction::Max => value <= self.bound,
        }
    }
}

/// Bounds on a frame's condition; a frame is inside when every bound admits it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The bounds, one per (robustness check, measure).
    pub bounds: Vec<Bound>,
    /// Robustness checks no bound could be fitted for, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unseparated: Vec<Unseparated>,
    /// The fitted flag, when the suite's envelope check fitted one: it then decides alone
    /// (it reads the same measures as the bounds, and was fitted on decisions, not on them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
}

/// A bound a frame is outside of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// The measure.
    pub measure: Measure,
    /// The frame's value.
    pub value: f32,
    /// The bound it is past.
    pub bound: f32,
    /// The check the bound comes from.
    pub check: String,
}

/// A frame judged against an envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeVerdict {
    /// True when no bound is violated, or, with a fitted flag, when the flag is down.
    pub inside: bool,
    /// The bounds violated, if any (none are consulted when a fitted flag decides).
    pub violations: Vec<Violation>,
    /// With a fitted flag: the log-odds that a fault changed this frame's decisions, and the
    /// value past which it is flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<[f64; 2]>,
}

/// The file form: the envelope with the schema and the model it was derived for.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvelopeFile {
    schema: String,
    model_sha256: String,
    suite: String,
    bounds: Vec<Bound>,
    #[serde(default)]
    unseparated: Vec<Unseparated>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    risk: Option<Risk>,
}

impl Envelope {
    /// Judges one frame: by the fitted flag where there is one, else by every bound.
    pub fn judge(&self, s: &Signals) -> EnvelopeVerdict {
        if let Some(risk) = &self.risk {
            let z = risk.score(s);
            return EnvelopeVerdict {
                inside: z <= risk.threshold,
                violations: vec![],
                risk: Some([z, risk.threshold]),
            };
        }
        let c = &s.condition;
        let violations: Vec<Violation> = self
            .bounds
            .iter()
            .filter(|b| !b.admits(c.get(b.measure)))
            .map(|b| Violation {
                measure: b.measure,
                value: c.get(b.measure),
                bound: b.bound,
                check: b.check.clone(),
            })
            .collect();
        EnvelopeVerdict { inside: violations.is_empty(), violations, risk: None }
    }

    /// Reads an envelope file, refusing one recorded for another model.
    pub fn load(path: &Path, model_sha256: &str) -> Result<Envelope> {
        let bytes = crate::files::read_bounded(path, crate::files::MAX_TEXT_BYTES)?;
        let file: EnvelopeFile = serde_json::from_slice(&bytes)
            .map_err(|e| Error::config(path, "(json)", e.to_string()))?;
        if file.schema != ENVELOPE_SCHEMA {
            return Err(Error::config(
                path,
                "schema",
                format!("expected {ENVELOPE_SCHEMA:?}, got {:?}", file.schema),
            ));
        }
        if !file.model_sha256.eq_ignore_ascii_case(model_sha256) {
            return Err(Error::config(
                path,
                "model_sha256",
                format!(
                    "recorded for model {}, this bundle's is {model_sha256}",
                    file.model_sha256
                ),
            ));
        }
        if let Some(b) = file.bounds.iter().find(|b| !b.bound.is_finite()) {
            return Err(Error::config(
                path,
                "bounds",
                format!("{}: bound is not a number", b.check),
            ));
        }
        if let Some(Err(e)) = file.risk.as_ref().map(Risk::validate) {
            return Err(Error::config(path, "risk", e));
        }
        Ok(Envelope { bounds: file.bounds, unseparated: file.unseparated, risk: file.risk })
    }

    /// Writes the envelope file atomically.
    pub fn save(&self, path: &Path, model_sha256: &str, suite: &str) -> Result<()> {
        let file = EnvelopeFile {
            schema: ENVELOPE_SCHEMA.into(),
            model_sha256: model_sha256.into(),
            suite: suite.into(),
            bounds: self.bounds.clone(),
            unseparated: self.unseparated.clone(),
            risk: self.risk.clone(),
        };
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| Error::config(path, "(json)", e.to_string()))?;
        crate::files::write_atomically(path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::condition::Condition;
    use crate::model::decode::Prediction;

    /// The signals of a frame with these measures and no candidate.
    fn signals(condition: Condition) -> Signals {
        let nothing = Prediction::Detections { detections: vec![], max_score: 0.0 };
        Signals::of(condition, &nothing, Some(0.5))
    }

    fn bound(measure: Measure, direction: Direction, bound: f32) -> Bound {
        Bound {
            measure,
            direction,
            bound,
            proven: [0.0, 1.0],
            broken_median: None,
            check: format!("{}-check", measure.name()),
            corruption: "x".into(),
            held_through: 1,
            broke_at: Some(2),
            validation: None,
        }
    }

    #[test]
    fn a_frame_is_inside_only_within_every_bound() {
        let e = Envelope {
            bounds: vec![
                bound(Measure::Contrast, Direction::Min, 0.1),
                bound(Measure::Noise, Direction::Max, 0.05),
            ],
            unseparated: vec![],
            risk: None,
        };
        let ok = Condition { brightness: 0.5, contrast: 0.2, sharpness: 0.01, noise: 0.01 };
        assert!(e.judge(&signals(ok)).inside);
        let flat_and_noisy = signals(Condition { contrast: 0.05, noise: 0.2, ..ok });
        let v = e.judge(&flat_and_noisy);
        assert!(!v.inside);
        assert_eq!(v.violations.len(), 2);
        assert_eq!(v.violations[0].measure, Measure::Contrast);
        assert!(Envelope::default().judge(&flat_and_noisy).inside, "no bounds, nothing to violate");
    }

    #[test]
    fn file_round_trip_and_model_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envelope.json");
        let e = Envelope {
            bounds: vec![bound(Measure::Sharpness, Direction::Min, 0.002)],
            unseparated: vec![],
            risk: None,
        };
        e.save(&path, "ab", "suite.toml").unwrap();
        assert_eq!(Envelope::load(&path, "AB").unwrap(), e);
        let err = Envelope::load(&path, "cd").unwrap_err().to_string();
        assert!(err.contains("recorded for model ab"), "{err}");
    }
}
