//! What a suite says, as types: labelled cases with tags (slices), and checks with a kind, a
//! severity and per-target thresholds. [`load`](super::load) builds them from `suite.toml`;
//! [`run`](super::run) evaluates them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::perturb::{At, Fault, Perturbation};

/// A parsed, validated suite with its cases resolved to files.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The suite file.
    pub path: PathBuf,
    /// sha256 of the suite file, for reports.
    pub sha256: String,
    /// Suite name.
    pub name: String,
    /// Cases in file order (globs expanded in sorted order).
    pub cases: Vec<Case>,
    /// Checks in file order.
    pub checks: Vec<CheckSpec>,
    /// Names of the checks `Runtime::recheck` re-runs while serving.
    pub recheck: Vec<String>,
    /// Share of recent served frames outside the operating envelope past which health
    /// reports `outside_envelope` (default 0.25).
    pub outside_alarm: Option<f64>,
}

/// Name of the check a suite's `budget_ms` adds.
pub const BOOT_BUDGET_CHECK: &str = "boot-budget";

/// One labelled input.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Unique id (the `id` key, or the file stem).
    pub id: String,
    /// Image file.
    pub path: PathBuf,
    /// Slices this case belongs to.
    pub tags: Vec<String>,
    /// Detection: how many objects the image holds.
    pub objects: Option<usize>,
    /// Detection: labelled boxes `[x0, y0, x1, y1]` in image pixels.
    pub boxes: Vec<[f32; 4]>,
    /// Classification: the expected label.
    pub label: Option<String>,
    /// Text recognition: the text the image shows.
    pub text: Option<String>,
    /// Captured at check time by a command (the case's image is then the frame it wrote).
    pub capture: Option<super::capture::Capture>,
}

/// How much a failing check matters.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Severity {
    /// Gates serving.
    Critical,
    /// Degrades the verdict.
    Major,
    /// Informs only.
    Minor,
}

impl Severity {
    /// Lower-case name, as in suites and reports.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A threshold, the same everywhere or per target profile (`{ default = 8.0, rpi4 = 60.0 }`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Threshold {
    /// One value for every target.
    Fixed(f64),
    /// Per target name, with a required `default`.
    PerTarget(BTreeMap<String, f64>),
}

impl Threshold {
    /// The value for `target` (its own entry, else `default`).
    pub fn for_target(&self, target: Option<&str>) -> f64 {
        match self {
            Threshold::Fixed(v) => *v,
            Threshold::PerTarget(map) => target
                .and_then(|t| map.get(t))
                .or_else(|| map.get("default"))
                .copied()
                .unwrap_or(f64::NAN),
        }
    }

    pub(crate) fn values(&self) -> Vec<(String, f64)> {
        match self {
            Threshold::Fixed(v) => vec![(String::new(), *v)],
            Threshold::PerTarget(m) => m.iter().map(|(k, v)| (format!(".{k}"), *v)).collect(),
        }
    }
}

/// Which cases a check looks at.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Cases carrying every one of these tags (all cases when empty).
    #[serde(default)]
    pub slice: Vec<String>,
    /// Explicit case ids (instead of `slice`).
    #[serde(default)]
    pub cases: Vec<String>,
    /// Only the first N selected cases (in suite order), to keep boot suites short.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Accuracy metrics. Rates are fractions in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Metric {
    /// Detection: cases with objects in which something was detected (with labelled boxes:
    /// labelled boxes matched by a detection at `iou`).
    Recall,
    /// Detection: cases with a detection that do hold an object (with labelled boxes:
    /// detections matching a labelled box).
    Precision,
    /// Detection: object-free cases with a detection. Lower is better.
    FalsePositiveRate,
    /// Detection: cases where the number of detections equals `objects`.
    CountMatch,
    /// Classification: the top class is the label.
    Top1,
    /// Classification: the label is among the top `k`.
    TopK,
    /// Text: character error rate, edit distances summed over the cases divided by the
    /// labelled characters (leading and trailing spaces ignored). Lower is better.
    Cer,
    /// Text: cases read exactly.
    TextMatch,
}

impl Metric {
    /// The name used in suites and reports.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// True when a smaller value is better (the threshold is a maximum).
    pub fn lower_is_better(self) -> bool {
        matches!(self, Metric::FalsePositiveRate | Metric::Cer)
    }
}

/// A perturbation and its severity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerturbationRef {
    /// Perturbation name.
    pub name: Perturbation,
    /// Severity 1..=5.
    pub severity: u8,
    /// Where it is applied (default: the suite's `perturb_at`, else the model's input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<At>,
}

impl PerturbationRef {
    /// The fault this names, at the place the suite resolved.
    pub fn fault(&self) -> Fault {
        Fault { perturbation: self.name, severity: self.severity, at: self.at.unwrap_or_default() }
    }
}

/// Which way a directional check allows the score to move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The score may only go down (or stay).
    Decrease,
    /// The score may only go up (or stay).
    Increase,
}

/// Latency statistic compared with the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Stat {
    /// Median.
    P50,
    /// 90th percentile.
    P90,
    /// 99th percentile.
    P99,
    /// Slowest run.
    Max,
}

impl Stat {
    /// The name used in suites and reports.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// Named numeric tolerance for parity checks (as tract's `Approximation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Tolerance {
    /// Bit-identical: atol 0, rtol 0, no outliers.
    Exact,
    /// Same kernels, different order of operations: atol 1e-5, rtol 1e-4, no outliers.
    Close,
    /// Different kernels or architectures: atol 1e-3, rtol 5e-3, 0.1 % outliers allowed.
    Approximate,
}

impl Tolerance {
    /// The name used in suites and reports.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// `(atol, rtol, outlier ratio)`: a value passes when `|a − b| ≤ atol + rtol·|b|`, and the
    /// check passes when at most `outliers` of the values fail.
    pub fn limits(self) -> (f32, f32, f64) {
        match self {
            Tolerance::Exact => (0.0, 0.0, 0.0),
            Tolerance::Close => (1e-5, 1e-4, 0.0),
            Tolerance::Approximate => (1e-3, 5e-3, 1e-3),
        }
    }
}

/// One check as written in the suite.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec {
    /// Unique name, shown in reports.
    pub name: String,
    /// How much it matters.
    pub severity: Severity,
    /// What it asserts, for people.
    pub description: String,
    /// What kind of check, with its parameters.
    pub kind: CheckKind,
}

/// The kinds of check and their parameters. [`CheckKindName`] holds the names alone: the one
/// place `kind = "..."` strings are defined, for parsing and for reports.
#[derive(Debug, Clone, PartialEq, strum::EnumDiscriminants)]
#[strum_discriminants(name(CheckKindName))]
#[strum_discriminants(derive(strum::IntoStaticStr, strum::EnumString, strum::VariantNames))]
#[strum_discriminants(strum(serialize_all = "snake_case"))]
#[strum_discriminants(doc = "The name of a check kind, as written in `kind = \"...\"`.")]
pub enum CheckKind {
    /// A metric over a slice against a threshold.
    Accuracy(AccuracySpec),
    /// Decisions unchanged under perturbations.
    Invariance(InvarianceSpec),
    /// A perturbation moves the score one way only.
    Directional(DirectionalSpec),
    /// A metric under a corruption at severities 1..5.
    Robustness(RobustnessSpec),
    /// End-to-end inference latency.
    Latency(LatencySpec),
    /// Bundle open → first result.
    ColdStart(BudgetSpec),
    /// Peak resident memory.
    Memory(BudgetSpec),
    /// Outputs against golden outputs.
    Parity(ParitySpec),
    /// The whole self-test, bundle open to the last check, against a time budget (what a
    /// suite's `budget_ms` declares).
    BootTime(BudgetSpec),
    /// The operating envelope the robustness checks proved: its bounds' rates on the cases
    /// that did not set them.
    Envelope(EnvelopeSpec),
}

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

impl CheckKind {
    /// The name used in suites and reports.
    pub fn name(&self) -> &'static str {
        CheckKindName::from(self).into()
    }
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
