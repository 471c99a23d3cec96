//! Each check kind's parameters, as a suite writes them (`[[checks]]` tables, by `kind`).

use serde::{Deserialize, Serialize};

use super::{Direction, Metric, PerturbationRef, Selection, Stat, Threshold, Tolerance};
use crate::suite::perturb::{At, Fault, Perturbation};

/// `kind = "envelope"`: every bound of the envelope this run derives must flag at most
/// `max_clean_outside` of the held-apart clean cases and at least `min_broken_outside` of
/// their inputs past the breaking severity, and at least one bound must exist. With `faults`,
/// the check fits a flag on the selected cases' `fit` part — each case clean and under each
/// fault at severities 1–5, labelled by whether its decisions changed — and holds it, per
/// fault, to the same two rates on the `held-apart` part: at most `max_clean_outside` of the
/// inputs whose decisions held (clean included) flagged, at least `min_broken_outside` of
/// those whose decisions changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSpec {
    /// Largest share of clean held-apart cases a bound may flag (default 0.05).
    #[serde(default = "default_clean_outside")]
    pub max_clean_outside: f64,
    /// Smallest share of broken held-apart inputs a bound must flag (default 0.9).
    #[serde(default = "default_broken_outside")]
    pub min_broken_outside: f64,
    /// The faults a flag is fitted on (none: bounds only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Perturbation>,
    /// Where they are applied (default: the suite's `perturb_at`, else the model's input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<At>,
    /// The cases the flag is fitted (their `fit` part) and judged (`held-apart`) on.
    #[serde(flatten)]
    pub select: Selection,
}

impl EnvelopeSpec {
    /// Each fault at `severity`, at the place the suite resolved.
    pub fn faults(&self, severity: u8) -> impl Iterator<Item = Fault> + '_ {
        let at = self.at.unwrap_or_default();
        self.faults.iter().map(move |&perturbation| Fault { perturbation, severity, at })
    }
}

fn default_clean_outside() -> f64 {
    0.05
}

fn default_broken_outside() -> f64 {
    0.9
}

/// How a metric reads predictions; shared by accuracy and robustness checks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    /// Detection score that counts as "detected" (default: the manifest's `score_threshold`).
    #[serde(default)]
    pub score_threshold: Option<f32>,
    /// `k` for `top_k`.
    #[serde(default = "default_k")]
    pub k: usize,
    /// IoU for matching labelled boxes.
    #[serde(default = "default_iou")]
    pub iou: f32,
}

/// `kind = "accuracy"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccuracySpec {
    /// The metric.
    pub metric: Metric,
    /// Minimum (maximum for lower-is-better metrics).
    pub threshold: Threshold,
    /// Cases.
    #[serde(flatten)]
    pub select: Selection,
    /// How predictions are scored.
    #[serde(flatten)]
    pub scoring: Scoring,
    /// Detection: only this class's labelled boxes and detections count (per-class recall,
    /// precision, AP).
    #[serde(default)]
    pub class: Option<String>,
    /// Detection: only these classes' labelled boxes and detections count (mAP over a chosen
    /// set of classes).
    #[serde(default)]
    pub classes: Vec<String>,
    /// Detection recall: only labelled boxes of this size count (`small`, `medium`, `large`
    /// by COCO's area rule).
    #[serde(default)]
    pub size: Option<BoxSize>,
}

/// COCO's size classes of a box by its area: under 32², under 96² pixels, larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxSize {
    /// Under 32² pixels.
    Small,
    /// Under 96² pixels.
    Medium,
    /// 96² pixels or more.
    Large,
}

impl BoxSize {
    /// The size class of a box `[x0, y0, x1, y1]`.
    pub fn of(b: &[f32; 4]) -> BoxSize {
        let area = (b[2] - b[0]) * (b[3] - b[1]);
        if area < 32.0 * 32.0 {
            BoxSize::Small
        } else if area < 96.0 * 96.0 {
            BoxSize::Medium
        } else {
            BoxSize::Large
        }
    }

    /// Its name in suites and tags.
    pub fn name(self) -> &'static str {
        match self {
            BoxSize::Small => "small",
            BoxSize::Medium => "medium",
            BoxSize::Large => "large",
        }
    }
}

/// `kind = "invariance"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvarianceSpec {
    /// Perturbations each case is run under.
    pub perturbations: Vec<PerturbationRef>,
    /// Minimum agreement rate with the clean run.
    pub threshold: Threshold,
    /// Cases.
    #[serde(flatten)]
    pub select: Selection,
    /// Detection score that counts as "detected".
    #[serde(default)]
    pub score_threshold: Option<f32>,
}

/// `kind = "directional"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectionalSpec {
    /// The perturbation.
    pub perturbation: PerturbationRef,
    /// Allowed direction of the top score.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// Or: the label the perturbed case must be classified as (a classifier that should
    /// notice the change, say a text line turned upside down).
    #[serde(default)]
    pub expect: Option<String>,
    /// Movement the wrong way that is still tolerated (score units).
    #[serde(default)]
    pub tolerance: f32,
    /// Minimum fraction of cases that obey.
    pub threshold: Threshold,
    /// Cases.
    #[serde(flatten)]
    pub select: Selection,
}

/// `kind = "robustness"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobustnessSpec {
    /// The corruption.
    pub corruption: Perturbation,
    /// Where it is applied (default: the suite's `perturb_at`, else the model's input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<At>,
    /// The metric under it.
    pub metric: Metric,
    /// The metric's limit at each severity.
    pub threshold: Threshold,
    /// The check holds when the metric holds at every severity up to this one (0..=5).
    #[serde(default = "default_hold_through")]
    pub hold_through: u8,
    /// Cases.
    #[serde(flatten)]
    pub select: Selection,
    /// How predictions are scored.
    #[serde(flatten)]
    pub scoring: Scoring,
}

/// `kind = "latency"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    /// Statistic compared with the budget.
    pub stat: Stat,
    /// Budget in milliseconds.
    pub threshold: Threshold,
    /// Untimed runs first.
    #[serde(default = "default_warmup")]
    pub warmup: usize,
    /// Timed runs.
    #[serde(default = "default_iterations")]
    pub iterations: usize,
    /// Case timed (default: the first case).
    #[serde(default)]
    pub case: Option<String>,
    /// The timed runs are split into this many consecutive windows; the check gates on the
    /// median window's statistic, so one scheduling spike (which lands in one window) cannot
    /// decide the verdict. 1 gates on all runs at once. Default: 5, or 1 under 10 runs.
    #[serde(default)]
    pub windows: Option<usize>,
}

impl LatencySpec {
    /// The number of windows the timed runs are split into.
    pub fn windows(&self) -> usize {
        self.windows.unwrap_or(if self.iterations >= 10 { 5 } else { 1 })
    }
}

/// `kind = "cold_start"` (milliseconds) and `kind = "memory"` (MiB).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// The budget.
    pub threshold: Threshold,
}

/// `kind = "parity"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParitySpec {
    /// Golden outputs file written by `preflight record`, relative to the suite.
    pub golden: String,
    /// Named tolerance.
    pub tolerance: Tolerance,
    /// The tolerance on a machine of the golden's own kind (same triple and kernel
    /// extensions, see [`kernel_kind`](crate::target::kernel_kind)): `exact` there catches a
    /// change of plan that nobody re-recorded, which `tolerance` (set for other machines)
    /// would let through.
    #[serde(default)]
    pub tolerance_where_recorded: Option<Tolerance>,
    /// Cases recorded and compared.
    pub cases: Vec<String>,
}

fn default_k() -> usize {
    5
}
fn default_iou() -> f32 {
    0.5
}
impl RobustnessSpec {
    /// The corruption at `severity`, at the place the suite resolved.
    pub fn fault(&self, severity: u8) -> Fault {
        Fault { perturbation: self.corruption, severity, at: self.at.unwrap_or_default() }
    }
}

fn default_hold_through() -> u8 {
    1
}
fn default_warmup() -> usize {
    5
}
fn default_iterations() -> usize {
    30
}
