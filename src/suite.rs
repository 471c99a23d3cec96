//! The behaviour suite file (`suite.toml`): labelled cases with tags (slices) and checks with
//! a severity and per-target thresholds. This module parses and validates; `check` runs it.
//!
//! Every key is checked: an unknown key, or a key that does not belong to a check's kind, is
//! an error naming its key path (`checks[3].treshold`).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::bundle::{parse_toml, read_text, resolve, sha256_hex};
use crate::error::{Error, Result};
use crate::perturb::Perturbation;

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
}

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
}

/// How much a failing check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Gates serving.
    Critical,
    /// Degrades the verdict.
    Major,
    /// Informs only.
    Minor,
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

    fn values(&self) -> Vec<(String, f64)> {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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
        match self {
            Metric::Recall => "recall",
            Metric::Precision => "precision",
            Metric::FalsePositiveRate => "false_positive_rate",
            Metric::CountMatch => "count_match",
            Metric::Top1 => "top1",
            Metric::TopK => "top_k",
            Metric::Cer => "cer",
            Metric::TextMatch => "text_match",
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P99 => "p99",
            Stat::Max => "max",
        }
    }
}

/// Named numeric tolerance for parity checks (as tract's `Approximation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
        match self {
            Tolerance::Exact => "exact",
            Tolerance::Close => "close",
            Tolerance::Approximate => "approximate",
        }
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

/// The kinds of check and their parameters.
#[derive(Debug, Clone, PartialEq)]
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
}

impl CheckKind {
    /// The name used in suites and reports.
    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Accuracy(_) => "accuracy",
            CheckKind::Invariance(_) => "invariance",
            CheckKind::Directional(_) => "directional",
            CheckKind::Robustness(_) => "robustness",
            CheckKind::Latency(_) => "latency",
            CheckKind::ColdStart(_) => "cold_start",
            CheckKind::Memory(_) => "memory",
            CheckKind::Parity(_) => "parity",
        }
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
    /// Cases recorded and compared.
    pub cases: Vec<String>,
}

fn default_k() -> usize {
    5
}
fn default_iou() -> f32 {
    0.5
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

/// The file as written, before per-kind parsing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    cases: Vec<RawCase>,
    #[serde(default)]
    slices: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    recheck: Vec<String>,
    #[serde(default)]
    checks: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    objects: Option<usize>,
    #[serde(default)]
    boxes: Vec<[f32; 4]>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

impl Suite {
    /// Reads and validates a suite; case paths are relative to the suite's directory and may
    /// not leave it.
    pub fn load(path: &Path) -> Result<Suite> {
        let text = read_text(path)?;
        let raw: RawSuite = parse_toml(path, &text)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut cases = resolve_cases(path, dir, raw.cases)?;
        // `[slices]` adds a tag to listed case ids: slices chosen by a measurement (say, the
        // lowest-contrast quartile) rather than by file name.
        for (tag, ids) in &raw.slices {
            for id in ids {
                let case = cases.iter_mut().find(|c| &c.id == id).ok_or_else(|| {
                    Error::config(path, format!("slices.{tag}"), format!("no case with id {id:?}"))
                })?;
                if !case.tags.contains(tag) {
                    case.tags.push(tag.clone());
                }
            }
        }
        let mut names = HashSet::new();
        let mut checks = Vec::new();
        for (i, table) in raw.checks.into_iter().enumerate() {
            let check = parse_check(path, i, table)?;
            if !names.insert(check.name.clone()) {
                return Err(Error::config(
                    path,
                    format!("checks[{i}].name"),
                    format!("duplicate check name {:?}", check.name),
                ));
            }
            checks.push(check);
        }
        for (i, name) in raw.recheck.iter().enumerate() {
            if !names.contains(name) {
                return Err(Error::config(
                    path,
                    format!("recheck[{i}]"),
                    format!("no check named {name:?}"),
                ));
            }
        }
        Ok(Suite {
            path: path.to_path_buf(),
            sha256: sha256_hex(text.as_bytes()),
            name: raw.name,
            cases,
            checks,
            recheck: raw.recheck,
        })
    }

    /// The same suite with only the checks named in `recheck`.
    pub fn recheck_subset(&self) -> Suite {
        let mut s = self.clone();
        s.checks.retain(|c| self.recheck.contains(&c.name));
        s
    }

    /// The case with `id`.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The selected cases, or the ids that do not exist.
    pub fn select(&self, s: &Selection) -> std::result::Result<Vec<&Case>, Vec<String>> {
        let mut chosen: Vec<&Case> = if s.cases.is_empty() {
            self.cases.iter().filter(|c| s.slice.iter().all(|t| c.tags.contains(t))).collect()
        } else {
            let missing: Vec<String> =
                s.cases.iter().filter(|id| self.case(id).is_none()).cloned().collect();
            if !missing.is_empty() {
                return Err(missing);
            }
            s.cases.iter().filter_map(|id| self.case(id)).collect()
        };
        if let Some(n) = s.limit {
            chosen.truncate(n);
        }
        Ok(chosen)
    }
}

fn resolve_cases(file: &Path, dir: &Path, raw: Vec<RawCase>) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mut ids = HashSet::new();
    for (i, rc) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("cases[{i}].{k}");
        let paths: Vec<PathBuf> = match (&rc.image, &rc.glob) {
            (Some(image), None) => vec![resolve(dir, file, &key("image"), image)?],
            (None, Some(pattern)) => {
                resolve(dir, file, &key("glob"), pattern)?;
                let full = dir.join(pattern);
                let found: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
                    .map_err(|e| Error::config(file, key("glob"), e.to_string()))?
                    .filter_map(|p| p.ok())
                    .collect();
                if found.is_empty() {
                    return Err(Error::config(
                        file,
                        key("glob"),
                        format!("{pattern:?} matches no file"),
                    ));
                }
                if rc.id.is_some() {
                    return Err(Error::config(
                        file,
                        key("id"),
                        "a glob entry takes its ids from the file names",
                    ));
                }
                found
            }
            _ => {
                return Err(Error::config(
                    file,
                    format!("cases[{i}]"),
                    "give exactly one of `image` or `glob`",
                ))
            }
        };
        if rc.boxes.iter().any(|b| !(b[2] > b[0] && b[3] > b[1])) {
            return Err(Error::config(
                file,
                key("boxes"),
                "each box is [x0, y0, x1, y1] with x1 > x0 and y1 > y0",
            ));
        }
        for path in paths {
            let id = match &rc.id {
                Some(id) => id.clone(),
                None => {
                    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                }
            };
            if !ids.insert(id.clone()) {
                return Err(Error::config(
                    file,
                    format!("cases[{i}]"),
                    format!("duplicate case id {id:?}"),
                ));
            }
            cases.push(Case {
                id,
                path,
                tags: rc.tags.clone(),
                objects: rc.objects.or(if rc.boxes.is_empty() {
                    None
                } else {
                    Some(rc.boxes.len())
                }),
                boxes: rc.boxes.clone(),
                label: rc.label.clone(),
                text: rc.text.clone(),
            });
        }
    }
    Ok(cases)
}

fn take<T: DeserializeOwned>(
    file: &Path,
    prefix: &str,
    table: &mut toml::Table,
    key: &str,
) -> Result<Option<T>> {
    match table.remove(key) {
        None => Ok(None),
        Some(v) => serde_path_to_error::deserialize(v)
            .map(Some)
            .map_err(|e| Error::config(file, format!("{prefix}.{key}"), e.inner().to_string())),
    }
}

fn parse_check(file: &Path, i: usize, mut table: toml::Table) -> Result<CheckSpec> {
    let prefix = format!("checks[{i}]");
    let name: String = take(file, &prefix, &mut table, "name")?
        .ok_or_else(|| Error::config(file, format!("{prefix}.name"), "missing"))?;
    let kind: String = take(file, &prefix, &mut table, "kind")?
        .ok_or_else(|| Error::config(file, format!("{prefix}.kind"), "missing"))?;
    let severity: Severity = take(file, &prefix, &mut table, "severity")?.ok_or_else(|| {
        Error::config(file, format!("{prefix}.severity"), "missing (critical, major or minor)")
    })?;
    let description: String = take(file, &prefix, &mut table, "description")?.unwrap_or_default();
    fn rest<T: DeserializeOwned>(file: &Path, prefix: &str, table: toml::Table) -> Result<T> {
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let key = if path == "." { prefix.to_string() } else { format!("{prefix}.{path}") };
            Error::config(file, key, e.into_inner().to_string())
        })
    }
    let kind = match kind.as_str() {
        "accuracy" => CheckKind::Accuracy(rest(file, &prefix, table)?),
        "invariance" => CheckKind::Invariance(rest(file, &prefix, table)?),
        "directional" => CheckKind::Directional(rest(file, &prefix, table)?),
        "robustness" => CheckKind::Robustness(rest(file, &prefix, table)?),
        "latency" => CheckKind::Latency(rest(file, &prefix, table)?),
        "cold_start" => CheckKind::ColdStart(rest(file, &prefix, table)?),
        "memory" => CheckKind::Memory(rest(file, &prefix, table)?),
        "parity" => CheckKind::Parity(rest(file, &prefix, table)?),
        other => {
            return Err(Error::config(
                file,
                format!("{prefix}.kind"),
                format!("unknown check kind {other:?} (accuracy, invariance, directional, robustness, latency, cold_start, memory, parity)"),
            ))
        }
    };
    let check = CheckSpec { name, severity, description, kind };
    validate(file, &prefix, &check)?;
    Ok(check)
}

/// Impossible thresholds and parameters are errors before anything runs.
fn validate(file: &Path, prefix: &str, check: &CheckSpec) -> Result<()> {
    let bad = |key: &str, msg: String| Err(Error::config(file, format!("{prefix}.{key}"), msg));
    let rate = |t: &Threshold| -> Result<()> {
        for (suffix, v) in t.values() {
            if !(0.0..=1.0).contains(&v) {
                return bad(
                    &format!("threshold{suffix}"),
                    format!("a rate must be within 0..=1, got {v}"),
                );
            }
        }
        Ok(())
    };
    let positive = |t: &Threshold| -> Result<()> {
        for (suffix, v) in t.values() {
            if !(v.is_finite() && v > 0.0) {
                return bad(
                    &format!("threshold{suffix}"),
                    format!("a budget must be a positive number, got {v}"),
                );
            }
        }
        Ok(())
    };
    let per_target_default = |t: &Threshold| -> Result<()> {
        if let Threshold::PerTarget(m) = t {
            if !m.contains_key("default") {
                return bad("threshold", "per-target thresholds need a `default` entry".into());
            }
        }
        Ok(())
    };
    let severity_ok = |p: &PerturbationRef, key: &str| -> Result<()> {
        if !(1..=5).contains(&p.severity) {
            return bad(key, format!("severity must be 1..=5, got {}", p.severity));
        }
        Ok(())
    };
    let score = |s: Option<f32>| -> Result<()> {
        match s {
            Some(v) if !(0.0..=1.0).contains(&v) => {
                bad("score_threshold", format!("must be within 0..=1, got {v}"))
            }
            _ => Ok(()),
        }
    };
    match &check.kind {
        CheckKind::Accuracy(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            score(a.scoring.score_threshold)?;
        }
        CheckKind::Invariance(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            score(a.score_threshold)?;
            if a.perturbations.is_empty() {
                return bad("perturbations", "list at least one perturbation".into());
            }
            for (j, p) in a.perturbations.iter().enumerate() {
                severity_ok(p, &format!("perturbations[{j}].severity"))?;
            }
        }
        CheckKind::Directional(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            severity_ok(&a.perturbation, "perturbation.severity")?;
            if a.direction.is_some() == a.expect.is_some() {
                return bad(
                    "direction",
                    "give exactly one of `direction` (decrease, increase) and `expect` (a label)"
                        .into(),
                );
            }
        }
        CheckKind::Robustness(a) => {
            per_target_default(&a.threshold)?;
            rate(&a.threshold)?;
            score(a.scoring.score_threshold)?;
            if a.hold_through > 5 {
                return bad("hold_through", format!("must be 0..=5, got {}", a.hold_through));
            }
        }
        CheckKind::Latency(a) => {
            per_target_default(&a.threshold)?;
            positive(&a.threshold)?;
            if a.iterations == 0 {
                return bad("iterations", "must be at least 1".into());
            }
        }
        CheckKind::ColdStart(a) | CheckKind::Memory(a) => {
            per_target_default(&a.threshold)?;
            positive(&a.threshold)?;
        }
        CheckKind::Parity(a) => {
            if a.cases.is_empty() {
                return bad("cases", "list the cases to compare".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Suite> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.png"), b"").unwrap();
        std::fs::write(dir.path().join("b.png"), b"").unwrap();
        let path = dir.path().join("suite.toml");
        std::fs::write(&path, text).unwrap();
        Suite::load(&path)
    }

    const CASES: &str = "name = \"t\"\n[[cases]]\nglob = \"*.png\"\ntags = [\"x\"]\nobjects = 1\n";

    #[test]
    fn parses_every_kind() {
        let text = format!(
            "{CASES}
[[checks]]
name = \"recall\"
kind = \"accuracy\"
severity = \"critical\"
metric = \"recall\"
slice = [\"x\"]
threshold = {{ default = 0.9, rpi4 = 0.8 }}
[[checks]]
name = \"p99\"
kind = \"latency\"
severity = \"critical\"
stat = \"p99\"
threshold = 50.0
[[checks]]
name = \"noise\"
kind = \"invariance\"
severity = \"major\"
perturbations = [{{ name = \"gaussian_noise\", severity = 1 }}]
threshold = 0.9
"
        );
        let s = load(&text).unwrap();
        assert_eq!(s.cases.len(), 2);
        assert_eq!(s.cases[0].id, "a");
        assert_eq!(s.checks.len(), 3);
        let CheckKind::Accuracy(a) = &s.checks[0].kind else { panic!() };
        assert_eq!(a.threshold.for_target(Some("rpi4")), 0.8);
        assert_eq!(a.threshold.for_target(Some("other")), 0.9);
        assert_eq!(a.threshold.for_target(None), 0.9);
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let text = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"latency\"\nseverity = \"minor\"\nstat = \"p99\"\nthreshold = 5.0\ntreshold = 5.0\n");
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains("checks[0]") && err.contains("unknown field `treshold`"), "{err}");
        let text = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"accuracy\"\nseverity = \"minor\"\nmetric = \"recall\"\nthreshold = 0.5\nslices = [\"x\"]\n");
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains("checks[0]") && err.contains("unknown field `slices`"), "{err}");
        let err = load(&format!("{CASES}colour = 1\n")).unwrap_err().to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn impossible_thresholds_are_refused() {
        let acc = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"accuracy\"\nseverity = \"major\"\nmetric = \"recall\"\nthreshold = 1.5\n");
        let err = load(&acc).unwrap_err().to_string();
        assert!(err.contains("checks[0].threshold") && err.contains("0..=1"), "{err}");
        let lat = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"latency\"\nseverity = \"major\"\nstat = \"p99\"\nthreshold = {{ rpi4 = -1.0 }}\n");
        assert!(load(&lat).unwrap_err().to_string().contains("default"));
    }

    #[test]
    fn directional_takes_a_direction_or_an_expected_label() {
        let head = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"directional\"\nseverity = \"major\"\nthreshold = 0.9\nperturbation = {{ name = \"upside_down\", severity = 1 }}\n");
        let s = load(&format!("{head}expect = \"180\"\n")).unwrap();
        let CheckKind::Directional(d) = &s.checks[0].kind else { panic!() };
        assert_eq!((d.expect.as_deref(), d.direction), (Some("180"), None));
        assert!(load(&format!("{head}direction = \"decrease\"\n")).is_ok());
        for bad in [head.clone(), format!("{head}expect = \"180\"\ndirection = \"decrease\"\n")] {
            let err = load(&bad).unwrap_err().to_string();
            assert!(err.contains("checks[0].direction") && err.contains("exactly one"), "{err}");
        }
    }

    #[test]
    fn text_labels_and_text_metrics() {
        let text = "name = \"s\"\n[[cases]]\nimage = \"a.png\"\ntext = \"Region-based\"\n[[checks]]\nname = \"n\"\nkind = \"accuracy\"\nseverity = \"major\"\nmetric = \"cer\"\ncases = [\"a\"]\nthreshold = 0.05\n";
        let s = load(text).unwrap();
        assert_eq!(s.cases[0].text.as_deref(), Some("Region-based"));
        let CheckKind::Accuracy(a) = &s.checks[0].kind else { panic!() };
        assert!(a.metric.lower_is_better() && !Metric::TextMatch.lower_is_better());
    }

    #[test]
    fn bad_kind_severity_and_perturbation() {
        let k =
            format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"vibes\"\nseverity = \"major\"\n");
        assert!(load(&k).unwrap_err().to_string().contains("checks[0].kind"));
        let s = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"memory\"\nseverity = \"urgent\"\nthreshold = 1.0\n");
        assert!(load(&s).unwrap_err().to_string().contains("checks[0].severity"));
        let p = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"invariance\"\nseverity = \"major\"\nthreshold = 1.0\nperturbations = [{{ name = \"fog\", severity = 1 }}]\n");
        let err = load(&p).unwrap_err().to_string();
        assert!(err.contains("checks[0].perturbations[0].name"), "{err}");
    }

    #[test]
    fn selection_by_tag_ids_and_limit() {
        let s = load(CASES).unwrap();
        let by_tag = Selection { slice: vec!["x".into()], ..Default::default() };
        assert_eq!(s.select(&by_tag).unwrap().len(), 2);
        let limited = Selection { limit: Some(1), ..by_tag };
        assert_eq!(s.select(&limited).unwrap().len(), 1);
        let missing = Selection { cases: vec!["zzz".into()], ..Default::default() };
        assert_eq!(s.select(&missing).unwrap_err(), vec!["zzz".to_string()]);
    }

    #[test]
    fn case_paths_may_not_leave_the_suite_directory() {
        let err = load("name = \"t\"\n[[cases]]\nimage = \"../x.png\"\n").unwrap_err().to_string();
        assert!(err.contains("cases[0].image"), "{err}");
    }
}
