//! The envelope's fitted flag: the chance that a fault changed a frame's decisions, from
//! signals the frame already gives — its condition measures and the model's own uncertainty
//! (how close its best candidates sit to the decision threshold, how many wait just below it)
//! — combined by a logistic model the suite fits on the `fit` part of its cases (see
//! `suite::envelope`). Image measures alone cannot tell a blurred frame whose face survived from
//! one whose face was lost; the scores near the threshold can, in part.
//!
//! A frame's signals come from one extra decode of outputs the frame already produced, at a
//! floor of a fifth of the decision threshold: no second inference.

use serde::{Deserialize, Serialize};

use super::condition::Condition;
use super::decode::Prediction;
use super::manifest::OutputSpec;

/// What one frame gives the fitted flag.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Signals {
    /// The frame's condition measures.
    pub condition: Condition,
    /// The decision threshold the scores are read against.
    pub threshold: f32,
    /// Best candidate score (detection after NMS, top class, text confidence).
    pub first: f32,
    /// Second candidate score (0 when there is none).
    pub second: f32,
    /// Candidates between the floor and the threshold: decisions one nudge away.
    pub below: u32,
    /// Candidates at or above the threshold: the decisions made.
    pub decided: u32,
}

/// Share of the decision threshold that candidates are read down to.
pub const FLOOR: f32 = 0.2;

/// The decision threshold of a model's outputs, for kinds whose decisions are scores against
/// one (detectors); `None` for the others, whose margin is between their own top scores.
pub fn decision_threshold(output: &OutputSpec) -> Option<f32> {
    match output {
        OutputSpec::Detection(d) => Some(d.score_threshold),
        OutputSpec::Yolo(y) => Some(y.score_threshold),
        OutputSpec::Gfl(g) => Some(g.score_threshold),
        _ => None,
    }
}

impl Signals {
    /// The signals of a prediction decoded at the floor (`FLOOR` × `threshold`; detections
    /// best first), read against `threshold` (`None`: a classifier's or recogniser's own top
    /// scores).
    pub fn of(condition: Condition, floor: &Prediction, threshold: Option<f32>) -> Signals {
        let t = threshold.unwrap_or(0.5);
        let (first, second, below, decided) = match floor {
            Prediction::Detections { detections, .. } => {
                let score = |i: usize| detections.get(i).map_or(0.0, |d| d.score);
                let decided = detections.iter().filter(|d| d.score >= t).count();
                (score(0), score(1), detections.len() - decided, decided)
            }
            Prediction::Classes { classes } => {
                let score = |i: usize| classes.get(i).map_or(0.0, |c| c.score);
                (score(0), score(1), 0, 1)
            }
            Prediction::Text { confidence, char_scores, .. } => {
                let least = char_scores.iter().copied().fold(1.0f32, f32::min);
                (*confidence, least, 0, 1)
            }
            p => (p.top_score(), 0.0, 0, 1),
        };
        Signals {
            condition,
            threshold: t,
            first,
            second,
            below: below as u32,
            decided: decided as u32,
        }
    }
}

/// One input of the fitted flag, by name (the file names them, so a flag fitted with one set
/// is never read with another).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Feature {
    /// Mean luma.
    Brightness,
    /// ln RMS contrast.
    LogContrast,
    /// ln(Laplacian variance / contrast²): sharpness whatever the contrast.
    LogSharpnessPerContrast,
    /// ln(noise / contrast): noise against the signal it hides.
    LogNoisePerContrast,
    /// logit(best score) − logit(threshold): signed distance of the best candidate.
    FirstMargin,
    /// logit(second score) − logit(threshold).
    SecondMargin,
    /// |first_margin|: how close the best candidate is to flipping.
    FirstDistance,
    /// |second_margin|.
    SecondDistance,
    /// Candidates just below the threshold.
    Below,
    /// Decisions made.
    Decided,
}

impl Feature {
    /// The feature's name, as in the envelope file.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every feature, in the order the suite fits them.
    pub fn all() -> &'static [Feature] {
        <Feature as strum::VariantArray>::VARIANTS
    }

    /// Its value for `s`; always finite.
    pub fn value(self, s: &Signals) -> f64 {
        let c = &s.condition;
        let contrast = f64::from(c.contrast).max(1e-4);
        let logit = |p: f32| {
            let p = f64::from(p).clamp(1e-3, 1.0 - 1e-3);
            (p / (1.0 - p)).ln()
        };
        let margin = |p: f32| logit(p) - logit(s.threshold);
        match self {
            Feature::Brightness => f64::from(c.brightness),
            Feature::LogContrast => contrast.ln(),
            Feature::LogSharpnessPerContrast => {
                (f64::from(c.sharpness).max(1e-9) / (contrast * contrast)).ln()
            }
            Feature::LogNoisePerContrast => (f64::from(c.noise).max(1e-5) / contrast).ln(),
            Feature::FirstMargin => margin(s.first),
            Feature::SecondMargin => margin(s.second),
            Feature::FirstDistance => margin(s.first).abs(),
            Feature::SecondDistance => margin(s.second).abs(),
            Feature::Below => f64::from(s.below),
            Feature::Decided => f64::from(s.decided),
        }
    }
}

/// A fitted flag: standardised features, a logistic model's weights, and the log-odds past
/// which a frame is flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    /// The features, in the order of the numbers below.
    pub features: Vec<Feature>,
    /// Each feature's mean over the rows fitted on.
    pub center: Vec<f64>,
    /// Each feature's standard deviation over those rows.
    pub scale: Vec<f64>,
    /// Weight of each standardised feature.
    pub weights: Vec<f64>,
    /// The intercept.
    pub bias: f64,
    /// A frame is flagged when its log-odds exceed this.
    pub threshold: f64,
    /// What it was fitted on and how it did on cases that did not fit it.
    pub fitted: RiskFit,
}

/// Where a fitted flag comes from, and its rates per fault on the held-apart cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskFit {
    /// The cases it was fitted on (the suite's `fit` part of the selection).
    pub cases: usize,
    /// Rows fitted on: each case clean and under each fault at each severity.
    pub rows: usize,
    /// Rows whose decisions the fault changed.
    pub broken: usize,
    /// The share of held rows (decisions unchanged, clean included) flagged on the fit part,
    /// which sets the threshold.
    pub held_flagged: f64,
    /// Rates on the held-apart cases, per fault (`clean` first).
    pub held_apart: Vec<FaultRates>,
}

/// A flag's rates on one fault over held-apart cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRates {
    /// The fault (`contrast@frame`), or `clean`.
    pub fault: String,
    /// Rows whose decisions the fault changed.
    pub broken: usize,
    /// Of those, flagged.
    pub broken_flagged: usize,
    /// Rows whose decisions held.
    pub held: usize,
    /// Of those, flagged.
    pub held_flagged: usize,
}

impl FaultRates {
    /// Share of broken rows flagged (`None` without any).
    pub fn broken_rate(&self) -> Option<f64> {
        (self.broken > 0).then(|| self.broken_flagged as f64 / self.broken as f64)
    }

    /// Share of held rows flagged (`None` without any).
    pub fn held_rate(&self) -> Option<f64> {
        (self.held > 0).then(|| self.held_flagged as f64 / self.held as f64)
    }
}

impl Risk {
    /// The log-odds that a fault changed the decisions of a frame with these signals.
    pub fn score(&self, s: &Signals) -> f64 {
        let mut z = self.bias;
        for (i, f) in self.features.iter().enumerate() {
            z += self.weights[i] * (f.value(s) - self.center[i]) / self.scale[i];
        }
        z
    }

    /// Whether a frame with these signals is flagged.
    pub fn flags(&self, s: &Signals) -> bool {
        self.score(s) > self.threshold
    }

    /// Checks the numbers agree in count and are finite: what a file must hold.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.features.len();
        if [self.center.len(), self.scale.len(), self.weights.len()] != [n; 3] {
            return Err(format!("{n} features but center, scale and weights of other lengths"));
        }
        let numbers = self.center.iter().chain(&self.scale).chain(&self.weights);
        if numbers.chain([&self.bias, &self.threshold]).any(|v| !v.is_finite()) {
            return Err("a number is not finite".into());
        }
        if self.scale.iter().any(|&s| s <= 0.0) {
            return Err("a scale is not positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::decode::Detection;

    fn condition() -> Condition {
        Condition { brightness: 0.4, contrast: 0.2, sharpness: 0.004, noise: 0.004 }
    }

    fn detections(scores: &[f32]) -> Prediction {
        let d = |score| Detection {
            score,
            bbox: [0.0; 4],
            keypoints: vec![],
            class: None,
            label: None,
        };
        Prediction::Detections {
            detections: scores.iter().map(|&s| d(s)).collect(),
            max_score: 0.9,
        }
    }

    #[test]
    fn detections_split_at_the_threshold() {
        let s = Signals::of(condition(), &detections(&[0.9, 0.45, 0.2]), Some(0.5));
        assert_eq!((s.first, s.second, s.below, s.decided), (0.9, 0.45, 2, 1));
        assert!(Feature::FirstMargin.value(&s) > 2.0);
        assert!(Feature::SecondDistance.value(&s) < 0.3, "0.45 sits near 0.5");
        let none = Signals::of(condition(), &detections(&[]), Some(0.5));
        assert!(Feature::all().iter().all(|f| f.value(&none).is_finite()));
    }

    #[test]
    fn the_flag_reads_standardised_features() {
        let risk = Risk {
            features: vec![Feature::FirstDistance],
            center: vec![2.0],
            scale: vec![1.0],
            weights: vec![-3.0],
            bias: 0.0,
            threshold: 0.0,
            fitted: RiskFit { cases: 0, rows: 0, broken: 0, held_flagged: 0.0, held_apart: vec![] },
        };
        assert!(risk.validate().is_ok());
        let near = Signals::of(condition(), &detections(&[0.55]), Some(0.5));
        let far = Signals::of(condition(), &detections(&[0.99]), Some(0.5));
        assert!(risk.flags(&near) && !risk.flags(&far));
        let broken = Risk { scale: vec![0.0], ..risk };
        assert!(broken.validate().unwrap_err().contains("scale"));
    }
}
