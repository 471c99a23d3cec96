//! A perturbation as a run applies it: which one, how hard, and where in the chain from the
//! camera to the model — on the frame at its own resolution (where a lens blurs and a sensor
//! adds noise, before anything downscales it) or on the model's input after the resize.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::Perturbation;

/// Where a perturbation is applied.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum At {
    /// The model's input, after the resize: a fault between the camera and the model (a
    /// transmission artefact, a bad resize) or a stress test of the model alone.
    #[default]
    Input,
    /// The frame at its own resolution, before the resize: a lens or a sensor. A blur's size
    /// scales with the frame, so it means the same at any resolution; noise is per photosite,
    /// so the resize averages much of it away, as it does on a camera.
    Frame,
}

impl At {
    /// The name used in suites and reports.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// One perturbation at one severity, applied at one place: the identity of a perturbed input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fault {
    /// What is done.
    pub perturbation: Perturbation,
    /// Severity 1..=5.
    pub severity: u8,
    /// Where.
    pub at: At,
}

impl Fault {
    /// `perturbation` at `severity` on the model's input.
    pub fn input(perturbation: Perturbation, severity: u8) -> Fault {
        Fault { perturbation, severity, at: At::Input }
    }

    /// Parses what [`Display`](fmt::Display) writes: `name:severity`, then `:frame` for a fault
    /// at the frame.
    pub fn parse(s: &str) -> Option<Fault> {
        let mut parts = s.split(':');
        let perturbation = parts.next()?.parse().ok()?;
        let severity = parts.next()?.parse().ok()?;
        let at = match parts.next() {
            None => At::Input,
            Some("frame") => At::Frame,
            Some(_) => return None,
        };
        parts.next().is_none().then_some(Fault { perturbation, severity, at })
    }
}

/// `gaussian_noise:3` on the input, `gaussian_noise:3:frame` on the frame: the input form is
/// the one reports have always written, so their failure ids do not change.
impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.perturbation, self.severity)?;
        match self.at {
            At::Input => Ok(()),
            At::Frame => f.write_str(":frame"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        for at in [At::Input, At::Frame] {
            let f = Fault { perturbation: Perturbation::MotionBlur, severity: 4, at };
            assert_eq!(Fault::parse(&f.to_string()), Some(f));
        }
        assert_eq!(Fault::input(Perturbation::Contrast, 2).to_string(), "contrast:2");
        assert_eq!(Fault::parse("contrast:2:lens"), None);
        assert_eq!(Fault::parse("contrast:2:frame:x"), None);
        assert_eq!(Fault::parse("frost:2"), None);
    }
}
