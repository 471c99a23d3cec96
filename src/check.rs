//! Runs a suite's checks against a loaded model on this hardware. Checks never panic and never
//! skip silently: a check that cannot be evaluated fails with the reason.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::Serialize;

use crate::decode::{iou, DecodeOptions, Prediction};
use crate::engine::Outputs;
use crate::gate::Status;
use crate::golden::{compare, per_output_max, Golden};
use crate::latency::{measure, Percentiles};
use crate::model::Model;
use crate::perturb::{case_seed, Perturbation};
use crate::preprocess::{load_image, Transform};
use crate::suite::*;
use crate::target::TargetProfile;

/// The result of one check, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Check name.
    pub name: String,
    /// Check kind (`accuracy`, `latency`, ...).
    pub kind: String,
    /// Severity.
    pub severity: Severity,
    /// `true` pass, `false` fail, `null` not measured.
    pub passed: Option<bool>,
    /// Pass, fail or not measured.
    pub status: Status,
    /// What was measured (absent when nothing could be).
    pub measured: Option<f64>,
    /// The threshold applied for this target.
    pub threshold: Option<f64>,
    /// Unit of `measured` and `threshold`.
    pub unit: String,
    /// One line a person can read: how it was measured, or why it failed.
    pub detail: String,
    /// Case ids (with `@perturbation` where relevant) that did not meet the expectation.
    pub failures: Vec<String>,
    /// Named extra figures (per-output max abs diff, per-severity metric, percentiles).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
}

/// Where a suite run spent its time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Timing {
    /// Inside the model: preprocessing and the plan (ms).
    pub inference_ms: f64,
    /// Applying perturbations (ms).
    pub perturbation_ms: f64,
    /// Decoding images from disk (ms).
    pub image_decode_ms: f64,
    /// The whole suite (ms).
    pub total_ms: f64,
}

/// What a suite run needs besides the model and the suite.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    /// The hardware profile (per-target thresholds; emulated runs skip timing checks).
    pub target: Option<TargetProfile>,
    /// Seed for perturbations.
    pub seed: u64,
    /// Measured bundle open → first result, for `cold_start` checks.
    pub cold_start: Option<Duration>,
}

type Cached<T> = Result<T, String>;

/// Cases with what the model predicted for them.
type Predicted = Vec<(Case, Prediction)>;

/// Runs every check of `suite` in order; `progress(done, total, name)` is called before each.
pub fn run_checks(
    model: &Model,
    suite: &Suite,
    ctx: &RunContext,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> (Vec<CheckResult>, Timing) {
    let start = Instant::now();
    let mut runner = Runner {
        model,
        suite,
        ctx,
        images: HashMap::new(),
        clean: HashMap::new(),
        timing: Timing::default(),
    };
    let mut results = Vec::new();
    for (i, check) in suite.checks.iter().enumerate() {
        progress(i, suite.checks.len(), &check.name);
        results.push(runner.run(check));
    }
    progress(suite.checks.len(), suite.checks.len(), "");
    let mut timing = runner.timing;
    timing.total_ms = ms(start.elapsed());
    (results, timing)
}

struct Runner<'a> {
    model: &'a Model,
    suite: &'a Suite,
    ctx: &'a RunContext,
    images: HashMap<String, Cached<(RgbImage, Transform)>>,
    clean: HashMap<String, Cached<(Outputs, Transform)>>,
    timing: Timing,
}

/// What a check computed before it becomes a [`CheckResult`].
struct Outcome {
    status: Status,
    measured: Option<f64>,
    threshold: Option<f64>,
    unit: &'static str,
    detail: String,
    failures: Vec<String>,
    values: BTreeMap<String, f64>,
}

impl Outcome {
    fn cannot(reason: impl Into<String>) -> Outcome {
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
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

impl<'a> Runner<'a> {
    fn target_name(&self) -> Option<&str> {
        self.ctx.target.as_ref().map(|t| t.name.as_str())
    }

    fn emulated(&self) -> bool {
        self.ctx.target.as_ref().is_some_and(|t| t.emulated)
    }

    fn run(&mut self, check: &CheckSpec) -> CheckResult {
        let outcome = match &check.kind {
            CheckKind::Accuracy(a) => self.accuracy(a),
            CheckKind::Invariance(a) => self.invariance(a),
            CheckKind::Directional(a) => self.directional(a),
            CheckKind::Robustness(a) => self.robustness(a),
            CheckKind::Latency(a) => self.latency(a),
            CheckKind::ColdStart(a) => self.cold_start(a),
            CheckKind::Memory(a) => self.memory(a),
            CheckKind::Parity(a) => self.parity(a),
        };
        CheckResult {
            name: check.name.clone(),
            kind: check.kind.name().into(),
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

    /// The case's image brought to the model's input size, with the transform back.
    fn image(&mut self, case: &Case) -> Cached<(RgbImage, Transform)> {
        if let Some(img) = self.images.get(&case.id) {
            return img.clone();
        }
        let t = Instant::now();
        let img = load_image(&case.path).map(|i| self.model.resize(&i)).map_err(|e| e.to_string());
        self.timing.image_decode_ms += ms(t.elapsed());
        self.images.insert(case.id.clone(), img.clone());
        img
    }

    fn run_image(&mut self, img: &RgbImage, transform: Transform) -> Cached<(Outputs, Transform)> {
        let t = Instant::now();
        let r = self.model.run_resized(img, transform).map_err(|e| e.to_string());
        self.timing.inference_ms += ms(t.elapsed());
        r
    }

    fn clean_raw(&mut self, case: &Case) -> Cached<(Outputs, Transform)> {
        if let Some(r) = self.clean.get(&case.id) {
            return r.clone();
        }
        let r = self.image(case).and_then(|(img, tr)| self.run_image(&img, tr));
        self.clean.insert(case.id.clone(), r.clone());
        r
    }

    fn perturbed_raw(
        &mut self,
        case: &Case,
        p: Perturbation,
        severity: u8,
    ) -> Cached<(Outputs, Transform)> {
        let (img, transform) = self.image(case)?;
        let t = Instant::now();
        let seed = case_seed(self.ctx.seed, p, severity, &case.id);
        let perturbed = perturb_content(&img, &transform, |region| p.apply(region, severity, seed));
        self.timing.perturbation_ms += ms(t.elapsed());
        self.run_image(&perturbed, transform)
    }

    fn decode(&self, raw: &(Outputs, Transform), score: Option<f32>) -> Cached<Prediction> {
        let options = DecodeOptions { threshold: score, top: None };
        self.model.decode(&raw.0, &raw.1, options).map_err(|e| e.to_string())
    }

    fn select(&self, s: &Selection) -> Result<Vec<Case>, String> {
        match self.suite.select(s) {
            Ok(c) if c.is_empty() => Err(format!("no case in slice {:?}", s.slice)),
            Ok(c) => Ok(c.into_iter().cloned().collect()),
            Err(missing) => Err(format!("no case with id {}", missing.join(", "))),
        }
    }

    /// Predictions for `cases`, clean or perturbed; the first error aborts with its case.
    fn predictions(
        &mut self,
        cases: &[Case],
        perturbation: Option<(Perturbation, u8)>,
        score: Option<f32>,
    ) -> Result<Predicted, String> {
        let mut out = Vec::new();
        for case in cases {
            let raw = match perturbation {
                None => self.clean_raw(case),
                Some((p, s)) => self.perturbed_raw(case, p, s),
            };
            let pred = raw.and_then(|r| self.decode(&r, score));
            match pred {
                Ok(p) => out.push((case.clone(), p)),
                Err(e) => return Err(format!("case {}: {e}", case.id)),
            }
        }
        Ok(out)
    }

    fn accuracy(&mut self, a: &AccuracySpec) -> Outcome {
        let cases = match self.select(&a.select) {
            Ok(c) => c,
            Err(e) => return Outcome::cannot(e),
        };
        let preds = match self.predictions(&cases, None, a.scoring.score_threshold) {
            Ok(p) => p,
            Err(e) => return Outcome::cannot(e),
        };
        let threshold = a.threshold.for_target(self.target_name());
        match metric(a.metric, &preds, a.scoring) {
            Ok(m) => rate_outcome(a.metric, m, threshold, ""),
            Err(e) => Outcome::cannot(e),
        }
    }

    fn invariance(&mut self, a: &InvarianceSpec) -> Outcome {
        let cases = match self.select(&a.select) {
            Ok(c) => c,
            Err(e) => return Outcome::cannot(e),
        };
        let clean = match self.predictions(&cases, None, a.score_threshold) {
            Ok(p) => p,
            Err(e) => return Outcome::cannot(e),
        };
        let (mut agree, mut total, mut failures) = (0usize, 0usize, Vec::new());
        let mut values = BTreeMap::new();
        for p in &a.perturbations {
            let perturbed =
                match self.predictions(&cases, Some((p.name, p.severity)), a.score_threshold) {
                    Ok(x) => x,
                    Err(e) => return Outcome::cannot(e),
                };
            let mut here = 0;
            for ((case, c), (_, q)) in clean.iter().zip(&perturbed) {
                total += 1;
                if decision(c) == decision(q) {
                    agree += 1;
                    here += 1;
                } else {
                    failures.push(format!("{}@{}:{}", case.id, p.name, p.severity));
                }
            }
            values.insert(format!("{}:{}", p.name, p.severity), here as f64 / cases.len() as f64);
        }
        let threshold = a.threshold.for_target(self.target_name());
        let rate = agree as f64 / total as f64;
        let names: Vec<String> =
            a.perturbations.iter().map(|p| format!("{}:{}", p.name, p.severity)).collect();
        Outcome {
            status: if rate >= threshold { Status::Pass } else { Status::Fail },
            measured: Some(rate),
            threshold: Some(threshold),
            unit: "agreement",
            detail: format!(
                "{agree}/{total} decisions unchanged under {} (seed {})",
                names.join(", "),
                self.ctx.seed
            ),
            failures,
            values,
        }
    }

    fn directional(&mut self, a: &DirectionalSpec) -> Outcome {
        if let Some(label) = &a.expect {
            return self.expected_label(a, label);
        }
        let (cases, moved) = match self.perturbed_selection(a) {
            Ok(x) => x,
            Err(e) => return Outcome::cannot(e),
        };
        let clean = match self.predictions(&cases, None, None) {
            Ok(p) => p,
            Err(e) => return Outcome::cannot(e),
        };
        let p = a.perturbation;
        let mut failures = Vec::new();
        for ((case, c), (_, q)) in clean.iter().zip(&moved) {
            let delta = q.top_score() - c.top_score();
            let wrong_way = match a.direction {
                Some(Direction::Decrease) => delta > a.tolerance,
                Some(Direction::Increase) => -delta > a.tolerance,
                None => true,
            };
            if wrong_way {
                failures.push(format!("{}@{}:{}", case.id, p.name, p.severity));
            }
        }
        let obey = (cases.len() - failures.len()) as f64 / cases.len() as f64;
        let threshold = a.threshold.for_target(self.target_name());
        let way = match a.direction {
            Some(Direction::Increase) => "may only rise",
            _ => "may only fall",
        };
        Outcome {
            status: if obey >= threshold { Status::Pass } else { Status::Fail },
            measured: Some(obey),
            threshold: Some(threshold),
            unit: "fraction",
            detail: format!(
                "top score {way} under {}:{} (tolerance {}); {}/{} cases obey",
                p.name,
                p.severity,
                a.tolerance,
                cases.len() - failures.len(),
                cases.len()
            ),
            failures,
            values: BTreeMap::new(),
        }
    }

    /// A directional check's cases and their predictions under its perturbation.
    fn perturbed_selection(
        &mut self,
        a: &DirectionalSpec,
    ) -> Result<(Vec<Case>, Predicted), String> {
        let cases = self.select(&a.select)?;
        let p = a.perturbation;
        let moved = self.predictions(&cases, Some((p.name, p.severity)), None)?;
        Ok((cases, moved))
    }

    /// Directional with `expect`: under the perturbation each case's top class must become
    /// `label` (a direction classifier must notice a line turned upside down).
    fn expected_label(&mut self, a: &DirectionalSpec, label: &str) -> Outcome {
        let (cases, moved) = match self.perturbed_selection(a) {
            Ok(x) => x,
            Err(e) => return Outcome::cannot(e),
        };
        let p = a.perturbation;
        let mut failures = Vec::new();
        for (case, q) in &moved {
            let Prediction::Classes { classes } = q else {
                return Outcome::cannot("`expect` needs a classification model");
            };
            if classes.first().map(|c| c.label.as_str()) != Some(label) {
                failures.push(format!("{}@{}:{}", case.id, p.name, p.severity));
            }
        }
        let obey = (cases.len() - failures.len()) as f64 / cases.len() as f64;
        let threshold = a.threshold.for_target(self.target_name());
        Outcome {
            status: if obey >= threshold { Status::Pass } else { Status::Fail },
            measured: Some(obey),
            threshold: Some(threshold),
            unit: "fraction",
            detail: format!(
                "top class becomes {label:?} under {}:{}; {}/{} cases do",
                p.name,
                p.severity,
                cases.len() - failures.len(),
                cases.len()
            ),
            failures,
            values: BTreeMap::new(),
        }
    }

    fn robustness(&mut self, a: &RobustnessSpec) -> Outcome {
        let cases = match self.select(&a.select) {
            Ok(c) => c,
            Err(e) => return Outcome::cannot(e),
        };
        let threshold = a.threshold.for_target(self.target_name());
        let mut curve = Vec::new();
        let mut breaking = None;
        let mut failures = Vec::new();
        for severity in 1..=5u8 {
            let preds = match self.predictions(
                &cases,
                Some((a.corruption, severity)),
                a.scoring.score_threshold,
            ) {
                Ok(p) => p,
                Err(e) => return Outcome::cannot(e),
            };
            let m = match metric(a.metric, &preds, a.scoring) {
                Ok(m) => m,
                Err(e) => return Outcome::cannot(e),
            };
            let holds = if a.metric.lower_is_better() {
                m.value <= threshold
            } else {
                m.value >= threshold
            };
            if !holds && breaking.is_none() {
                breaking = Some(severity);
                failures = m
                    .failures
                    .iter()
                    .map(|id| format!("{id}@{}:{severity}", a.corruption))
                    .collect();
            }
            curve.push(m.value);
        }
        let held = breaking.map_or(5, |b| b - 1);
        let values = curve
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{}@{}", a.metric.name(), i + 1), *v))
            .collect();
        let curve_s: Vec<String> = curve.iter().map(|v| format!("{v:.2}")).collect();
        let breaks = match breaking {
            Some(b) => format!("breaks at severity {b}"),
            None => "holds through severity 5".into(),
        };
        Outcome {
            status: if held >= a.hold_through { Status::Pass } else { Status::Fail },
            measured: Some(held as f64),
            threshold: Some(a.hold_through as f64),
            unit: "severity held",
            detail: format!(
                "{} under {} at severities 1-5: {} (limit {threshold}); {breaks}",
                a.metric.name(),
                a.corruption,
                curve_s.join(" ")
            ),
            failures,
            values,
        }
    }

    fn latency(&mut self, a: &LatencySpec) -> Outcome {
        let threshold = a.threshold.for_target(self.target_name());
        if self.emulated() {
            return not_measured(threshold, "ms", "latency");
        }
        let case = match &a.case {
            Some(id) => self.suite.case(id).cloned(),
            None => self.suite.cases.first().cloned(),
        };
        let Some(case) = case else {
            return Outcome::cannot(match &a.case {
                Some(id) => format!("no case with id {id}"),
                None => "the suite has no cases".into(),
            });
        };
        // Timed from the decoded original: resizing is part of serving a frame.
        let img = match load_image(&case.path) {
            Ok(i) => i,
            Err(e) => return Outcome::cannot(format!("case {}: {e}", case.id)),
        };
        let t = Instant::now();
        let samples = measure(self.model, &img, a.warmup, a.iterations);
        self.timing.inference_ms += ms(t.elapsed());
        let p = match samples.as_deref().map(Percentiles::of) {
            Ok(Some(p)) => p,
            Ok(None) => return Outcome::cannot("no timed run"),
            Err(e) => return Outcome::cannot(e.to_string()),
        };
        let value = p.get(a.stat.name()).unwrap_or(f64::NAN);
        let values =
            [("p50", p.p50), ("p90", p.p90), ("p99", p.p99), ("max", p.max), ("mean", p.mean)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        Outcome {
            status: if value <= threshold { Status::Pass } else { Status::Fail },
            measured: Some(value),
            threshold: Some(threshold),
            unit: "ms",
            detail: format!(
                "{} of {} end-to-end runs on {} after {} warm-up: p50 {:.2} p90 {:.2} p99 {:.2} max {:.2} ms",
                a.stat.name(),
                a.iterations,
                case.id,
                a.warmup,
                p.p50,
                p.p90,
                p.p99,
                p.max
            ),
            failures: vec![],
            values,
        }
    }

    fn cold_start(&mut self, a: &BudgetSpec) -> Outcome {
        let threshold = a.threshold.for_target(self.target_name());
        if self.emulated() {
            return not_measured(threshold, "ms", "cold start");
        }
        match self.ctx.cold_start {
            Some(d) => budget_outcome(ms(d), threshold, "ms", "bundle open -> first result"),
            None => Outcome::cannot("cold start was not timed in this run"),
        }
    }

    fn memory(&mut self, a: &BudgetSpec) -> Outcome {
        let threshold = a.threshold.for_target(self.target_name());
        if self.emulated() {
            return not_measured(
                threshold,
                "MiB",
                "memory (the emulator's own memory would be counted)",
            );
        }
        match peak_rss_mib() {
            Some(m) => {
                budget_outcome(m, threshold, "MiB", "peak resident memory of the process (VmHWM)")
            }
            None => Outcome::cannot(
                "peak resident memory is not available on this OS (/proc/self/status)",
            ),
        }
    }

    fn parity(&mut self, a: &ParitySpec) -> Outcome {
        let dir = self.suite.path.parent().unwrap_or(std::path::Path::new("."));
        let path = match crate::bundle::resolve(dir, &self.suite.path, "golden", &a.golden) {
            Ok(p) => p,
            Err(e) => return Outcome::cannot(e.to_string()),
        };
        let golden = match Golden::load(&path) {
            Ok(g) => g,
            Err(e) => return Outcome::cannot(e.to_string()),
        };
        if golden.model_sha256 != self.model.bundle().model_sha256() {
            return Outcome::cannot(format!(
                "{} was recorded for model {}, this bundle's is {}",
                path.display(),
                golden.model_sha256,
                self.model.bundle().model_sha256()
            ));
        }
        let (_, _, outlier_ratio) = a.tolerance.limits();
        let mut diffs = Vec::new();
        let mut failures = Vec::new();
        let (mut outliers, mut count) = (0usize, 0usize);
        for id in &a.cases {
            let Some(case) = self.suite.case(id).cloned() else {
                return Outcome::cannot(format!("no case with id {id}"));
            };
            let Some(gold) = golden.cases.iter().find(|c| &c.id == id) else {
                return Outcome::cannot(format!("{} has no outputs for case {id}", path.display()));
            };
            let raw = match self.clean_raw(&case) {
                Ok(r) => r,
                Err(e) => return Outcome::cannot(format!("case {id}: {e}")),
            };
            let mut case_bad = false;
            for g in &gold.outputs {
                let Some(t) = raw.0.get(&g.name) else {
                    return Outcome::cannot(format!(
                        "model has no output {:?} recorded in the golden file",
                        g.name
                    ));
                };
                if t.shape != g.shape {
                    return Outcome::cannot(format!(
                        "output {} has shape {:?}, golden {:?}",
                        g.name, t.shape, g.shape
                    ));
                }
                let d = compare(&g.data, &t.data, a.tolerance);
                outliers += d.outliers;
                count += d.count;
                case_bad |= d.outliers > 0;
                diffs.push((g.name.clone(), d));
            }
            if case_bad {
                failures.push(id.clone());
            }
        }
        let per_output = per_output_max(&diffs);
        let max = per_output.values().copied().fold(0.0f32, f32::max) as f64;
        let ratio = outliers as f64 / count.max(1) as f64;
        let (atol, rtol, _) = a.tolerance.limits();
        let per: Vec<String> = per_output.iter().map(|(k, v)| format!("{k} {v:.3e}")).collect();
        Outcome {
            status: if ratio <= outlier_ratio { Status::Pass } else { Status::Fail },
            measured: Some(max),
            threshold: None,
            unit: "max abs diff",
            detail: format!(
                "{} tolerance (atol {atol:e}, rtol {rtol:e}, outliers <= {outlier_ratio}); {outliers}/{count} values outside; golden from {} ({}); max abs diff per output: {}",
                a.tolerance.name(),
                golden.recorded_on,
                golden.recorded_cpu,
                per.join(", ")
            ),
            failures,
            values: per_output.into_iter().map(|(k, v)| (k, v as f64)).collect(),
        }
    }
}

fn not_measured(threshold: f64, unit: &'static str, what: &str) -> Outcome {
    Outcome {
        status: Status::NotMeasured,
        measured: None,
        threshold: Some(threshold),
        unit,
        detail: format!(
            "not measured: emulated CPU; {what} on an emulator says nothing about the board"
        ),
        failures: vec![],
        values: BTreeMap::new(),
    }
}

fn budget_outcome(value: f64, threshold: f64, unit: &'static str, what: &str) -> Outcome {
    Outcome {
        status: if value <= threshold { Status::Pass } else { Status::Fail },
        measured: Some(value),
        threshold: Some(threshold),
        unit,
        detail: format!("{what}: {value:.1} {unit} (budget {threshold} {unit})"),
        failures: vec![],
        values: BTreeMap::new(),
    }
}

/// Peak resident set size of this process in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Applies `f` to the part of a model-sized image the original covers: padding is not part
/// of the scene, so noise, blur or a turn upside down must not touch it.
fn perturb_content(
    img: &RgbImage,
    transform: &Transform,
    f: impl Fn(&RgbImage) -> RgbImage,
) -> RgbImage {
    let [x0, y0, x1, y1] = transform.content;
    if [x0, y0, x1, y1] == [0, 0, img.width(), img.height()] || x1 <= x0 || y1 <= y0 {
        return f(img);
    }
    let region = image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
    let mut out = img.clone();
    image::imageops::replace(&mut out, &f(&region), x0 as i64, y0 as i64);
    out
}

/// The decision an invariance check compares: detected or not, the top class, or the text.
fn decision(p: &Prediction) -> String {
    match p {
        Prediction::Detections { detections, .. } => (!detections.is_empty()).to_string(),
        Prediction::Classes { classes } => {
            classes.first().map_or(String::new(), |c| c.label.clone())
        }
        Prediction::Text { text, .. } => text.clone(),
        Prediction::Raw {} => String::new(),
    }
}

#[derive(Debug)]
struct MetricValue {
    value: f64,
    hits: usize,
    total: usize,
    failures: Vec<String>,
}

/// Computes `m` over labelled predictions; an error when the cases lack the labels it needs.
fn metric(
    m: Metric,
    preds: &[(Case, Prediction)],
    scoring: Scoring,
) -> Result<MetricValue, String> {
    let (k, iou_min) = (scoring.k, scoring.iou);
    let (mut hits, mut total, mut failures) = (0usize, 0usize, Vec::new());
    for (case, pred) in preds {
        let outcome: Option<bool> = match (m, pred) {
            (Metric::Top1 | Metric::TopK, Prediction::Classes { classes }) => {
                let label = case
                    .label
                    .as_ref()
                    .ok_or_else(|| format!("case {} has no `label`", case.id))?;
                let depth = if m == Metric::Top1 { 1 } else { k };
                Some(classes.iter().take(depth).any(|c| &c.label == label))
            }
            (Metric::Top1 | Metric::TopK, _) => {
                return Err(format!("{} needs a classification model", m.name()))
            }
            (Metric::Cer | Metric::TextMatch, Prediction::Text { text, .. }) => {
                let label =
                    case.text.as_ref().ok_or_else(|| format!("case {} has no `text`", case.id))?;
                // Margins around a line can read as spaces; they are not part of the text.
                let (text, label) = (text.trim(), label.trim());
                let errors = crate::decode::ctc::edit_distance(text, label);
                if m == Metric::Cer {
                    // Counted per character: errors over the labelled characters.
                    hits += errors;
                    total += label.chars().count().max(1);
                    if errors > 0 {
                        failures.push(case.id.clone());
                    }
                    None
                } else {
                    Some(errors == 0)
                }
            }
            (Metric::Cer | Metric::TextMatch, _) => {
                return Err(format!("{} needs a text recognition (ctc) model", m.name()))
            }
            (_, Prediction::Detections { detections, .. }) => {
                let objects = case
                    .objects
                    .ok_or_else(|| format!("case {} has no `objects` label", case.id))?;
                let found = detections.len();
                if !case.boxes.is_empty() && matches!(m, Metric::Recall | Metric::Precision) {
                    let matched = match_boxes(
                        &case.boxes,
                        detections.iter().map(|d| d.bbox).collect(),
                        iou_min,
                    );
                    let (h, t) = if m == Metric::Recall {
                        (matched, case.boxes.len())
                    } else {
                        (matched, found)
                    };
                    hits += h;
                    total += t;
                    if h < t {
                        failures.push(case.id.clone());
                    }
                    None
                } else {
                    match m {
                        Metric::Recall => (objects > 0).then_some(found > 0),
                        Metric::Precision => (found > 0).then_some(objects > 0),
                        // Counted as "hit" = a false positive, so the rate is hits / total.
                        Metric::FalsePositiveRate => (objects == 0).then_some(found == 0),
                        Metric::CountMatch => Some(found == objects),
                        Metric::Top1 | Metric::TopK | Metric::Cer | Metric::TextMatch => {
                            unreachable!("handled above")
                        }
                    }
                }
            }
            (_, _) => return Err(format!("{} needs a detection model", m.name())),
        };
        if let Some(ok) = outcome {
            total += 1;
            if ok {
                hits += 1;
            } else {
                failures.push(case.id.clone());
            }
        }
    }
    if total == 0 {
        return Err(format!("no case in the slice is labelled for {}", m.name()));
    }
    let value = if m == Metric::FalsePositiveRate {
        (total - hits) as f64 / total as f64
    } else {
        hits as f64 / total as f64
    };
    Ok(MetricValue { value, hits, total, failures })
}

/// Greedy one-to-one matching of labelled boxes to detections at `iou_min`.
fn match_boxes(labels: &[[f32; 4]], mut detections: Vec<[f32; 4]>, iou_min: f32) -> usize {
    let mut matched = 0;
    for l in labels {
        let best = detections
            .iter()
            .enumerate()
            .map(|(i, d)| (i, iou(l, d)))
            .filter(|&(_, v)| v >= iou_min)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = best {
            detections.swap_remove(i);
            matched += 1;
        }
    }
    matched
}

fn rate_outcome(m: Metric, v: MetricValue, threshold: f64, extra: &str) -> Outcome {
    let holds = if m.lower_is_better() { v.value <= threshold } else { v.value >= threshold };
    let counted = if m == Metric::FalsePositiveRate { v.total - v.hits } else { v.hits };
    let of = if m == Metric::Cer { " characters wrong" } else { "" };
    Outcome {
        status: if holds { Status::Pass } else { Status::Fail },
        measured: Some(v.value),
        threshold: Some(threshold),
        unit: "rate",
        detail: format!(
            "{} {counted}/{}{of} ({} {threshold}){extra}",
            m.name(),
            v.total,
            if m.lower_is_better() { "max" } else { "min" }
        ),
        failures: v.failures,
        values: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Detection;

    const S: Scoring = Scoring { score_threshold: None, k: 5, iou: 0.5 };

    fn case(id: &str, objects: usize) -> Case {
        Case {
            id: id.into(),
            path: "x.png".into(),
            tags: vec![],
            objects: Some(objects),
            boxes: vec![],
            label: None,
            text: None,
        }
    }

    fn dets(n: usize) -> Prediction {
        let d = Detection { score: 0.9, bbox: [0.0, 0.0, 10.0, 10.0], keypoints: vec![] };
        Prediction::Detections { detections: vec![d; n], max_score: 0.9 }
    }

    #[test]
    fn detection_metrics_from_counts() {
        let preds = vec![
            (case("f1", 1), dets(1)),
            (case("f2", 1), dets(0)),
            (case("n1", 0), dets(2)),
            (case("n2", 0), dets(0)),
        ];
        let r = metric(Metric::Recall, &preds, S).unwrap();
        assert_eq!((r.value, r.failures.clone()), (0.5, vec!["f2".to_string()]));
        let f = metric(Metric::FalsePositiveRate, &preds, S).unwrap();
        assert_eq!((f.value, f.failures.clone()), (0.5, vec!["n1".to_string()]));
        let p = metric(Metric::Precision, &preds, S).unwrap();
        assert_eq!(p.value, 0.5);
        let c = metric(Metric::CountMatch, &preds, S).unwrap();
        assert_eq!((c.value, c.failures.clone()), (0.5, vec!["f2".to_string(), "n1".to_string()]));
    }

    fn text_case(id: &str, text: &str) -> Case {
        Case { text: Some(text.into()), objects: None, ..case(id, 0) }
    }

    fn read(text: &str) -> Prediction {
        Prediction::Text { text: text.into(), confidence: 0.9, char_scores: vec![] }
    }

    #[test]
    fn character_error_rate_counts_characters_and_ignores_edge_spaces() {
        let preds = vec![
            (text_case("a", "Region-based"), read(" Reqion-based ")),
            (text_case("b", "segmentation"), read("segmentation")),
            (text_case("c", "word"), read("wordy")),
        ];
        let m = metric(Metric::Cer, &preds, S).unwrap();
        assert_eq!((m.hits, m.total), (2, 28));
        assert!((m.value - 2.0 / 28.0).abs() < 1e-12);
        assert_eq!(m.failures, vec!["a", "c"]);
        let m = metric(Metric::TextMatch, &preds, S).unwrap();
        assert_eq!((m.hits, m.total), (1, 3));
        let o = rate_outcome(Metric::Cer, metric(Metric::Cer, &preds, S).unwrap(), 0.05, "");
        assert_eq!(o.status, Status::Fail);
        assert!(o.detail.contains("2/28 characters wrong"), "{}", o.detail);
        let err = metric(Metric::Cer, &[(case("d", 1), read("x"))], S).unwrap_err();
        assert!(err.contains("no `text`"), "{err}");
    }

    #[test]
    fn perturbations_leave_padding_alone() {
        let img = RgbImage::from_pixel(10, 4, image::Rgb([128, 128, 128]));
        let mut padded = img.clone();
        for y in 0..4 {
            for x in 0..6 {
                padded.put_pixel(x, y, image::Rgb([x as u8 * 40, 0, 0]));
            }
        }
        let t = Transform {
            scale_x: 1.0,
            scale_y: 1.0,
            offset_x: 0.0,
            offset_y: 0.0,
            width: 6,
            height: 4,
            content: [0, 0, 6, 4],
        };
        let turned = perturb_content(&padded, &t, |r| Perturbation::UpsideDown.apply(r, 1, 0));
        assert_eq!(turned.get_pixel(0, 0).0, [200, 0, 0], "content turned within itself");
        assert_eq!(turned.get_pixel(9, 0).0, [128, 128, 128], "padding untouched");
    }

    #[test]
    fn six_significant_digits() {
        assert_eq!(round6(1.3709e-4), 1.3709e-4);
        assert_eq!(round6(0.123456789), 0.123457);
        assert_eq!(round6(20.1948113), 20.1948);
        assert_eq!(round6(0.0), 0.0);
    }

    #[test]
    fn labelled_boxes_are_matched_by_iou() {
        let mut c = case("b", 1);
        c.boxes = vec![[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]];
        let r = metric(Metric::Recall, &[(c, dets(1))], S).unwrap();
        assert_eq!((r.hits, r.total), (1, 2));
    }

    #[test]
    fn missing_labels_cannot_be_evaluated() {
        let mut c = case("u", 0);
        c.objects = None;
        assert!(metric(Metric::Recall, &[(c, dets(1))], S).unwrap_err().contains("objects"));
        assert!(metric(Metric::Recall, &[(case("n", 0), dets(0))], S)
            .unwrap_err()
            .contains("no case"));
    }
}
