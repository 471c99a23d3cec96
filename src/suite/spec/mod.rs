//! What a suite says, as types: labelled cases with tags (slices), and checks with a kind, a
//! severity and per-target thresholds. [`load`](super::load) builds them from `suite.toml`;
//! [`run`](super::run) evaluates them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod kinds;

pub use kinds::*;

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
    /// Detection: each box's class, when the labels name them (a dataset's export); empty
    /// for boxes of a single-class detector.
    pub box_classes: Vec<String>,
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
    /// Detection: COCO's mean average precision at IoU 0.5 over the classes labelled
    /// (101-point, 100 detections per image; see `suite::ap`).
    Map50,
    /// Detection: COCO's headline mAP, averaged over IoU 0.50:0.05:0.95.
    #[serde(rename = "map50_95")]
    #[strum(serialize = "map50_95")]
    Map50To95,
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

impl CheckKind {
    /// The name used in suites and reports.
    pub fn name(&self) -> &'static str {
        CheckKindName::from(self).into()
    }
}
