//! The startup gate: open the bundle, run its suite on this hardware, and serve only when the
//! verdict allows. This is what firmware embeds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use image::DynamicImage;

use super::health::{Health, HealthMonitor, HealthStatus, DEFAULT_OUTSIDE_ALARM};
use crate::error::{Error, Result};
use crate::model::bundle::{Bundle, MANIFEST_FILE};
use crate::model::decode::{DecodeOptions, Detection, Prediction};
use crate::model::manifest::Tier;
use crate::model::signature::{verified, PublicKey, TrustPolicy};
use crate::model::{Inference, Model};
use crate::suite::gate::Verdict;
use crate::suite::report::{Report, Started};
use crate::suite::run::{run_checks, RunContext};
use crate::suite::spec::{CheckKind, Stat, Suite};
use crate::target::{unit_id, TargetProfile, UnitId};

/// How to run the self-test.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Hardware profile; per-target thresholds use its name.
    pub target: Option<TargetProfile>,
    /// Seed for perturbations (reports with the same seed are comparable).
    pub seed: u64,
    /// A suite to run instead of the bundle's own.
    pub suite: Option<PathBuf>,
    /// Which of the bundle's suites to run (default: the boot suite).
    pub tier: Tier,
    /// Threads for the suite's inputs (default: the target profile's `jobs`, else one per
    /// core). Timed checks always run alone.
    pub jobs: Option<usize>,
    /// Inference threads (default: the target profile's `threads`, else one; 0: one per
    /// core).
    pub threads: Option<usize>,
    /// Treat a degraded verdict as failed.
    pub strict: bool,
    /// Keys the bundle must be signed by, besides the target profile's `trusted_keys`. With
    /// none from either, signatures are not required.
    pub trust: TrustPolicy,
    /// The unit's identity for the report (a serial number); default
    /// `$PREFLIGHT_UNIT_ID`, else `/etc/machine-id`.
    pub unit_id: Option<String>,
    /// Accept a (non-emulated) target profile made for another CPU architecture, to preview
    /// its thresholds; the report says the profile does not describe this machine. An
    /// emulated profile of another architecture is refused regardless: it would skip timing.
    pub target_mismatch_ok: bool,
    /// Let the suite's capture commands run (cases captured live from the unit's camera);
    /// a target profile's `allow_capture` allows them too.
    pub allow_capture: bool,
    /// Where captured frames are written (default: a directory under the system's temp
    /// directory, kept after the run as evidence).
    pub capture_dir: Option<PathBuf>,
}

impl StartOptions {
    /// The trust policy this run applies: these options' keys and the target profile's.
    pub fn trust_policy(&self) -> Result<TrustPolicy> {
        let mut policy = self.trust.clone();
        if let Some(target) = &self.target {
            for (i, text) in target.trusted_keys.iter().enumerate() {
                let key = PublicKey::parse(text)
                    .map_err(|m| Error::config(&target.source, format!("trusted_keys[{i}]"), m))?;
                policy.keys.push(key);
            }
        }
        Ok(policy)
    }

    /// The inference threads this run uses.
    pub fn inference_threads(&self) -> usize {
        self.threads.or(self.target.as_ref().map(|t| t.threads as usize)).unwrap_or(1)
    }

    pub(super) fn context(
        &self,
        cold_start: Option<std::time::Duration>,
        started: &Started,
        unit: Option<UnitId>,
    ) -> RunContext {
        RunContext {
            unit,
            target_mismatch: self.target.as_ref().is_some_and(|t| t.check_host().is_err()),
            target: self.target.clone(),
            seed: self.seed,
            cold_start,
            jobs: self.jobs.or(self.target.as_ref().and_then(|t| t.jobs)).unwrap_or(0),
            started: Some(started.instant()),
            latency_stall: None,
        }
    }
}

/// Why [`Runtime::start`] did not return a serving runtime.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The suite ran and the gate refused; the report says why.
    #[error("the {} gate refused to serve: verdict {}", report.bundle.name, report.verdict.name())]
    Refused {
        /// The full report.
        report: Box<Report>,
    },
    /// The self-test could not run at all.
    #[error(transparent)]
    Error(#[from] Error),
}

/// A model that has passed its self-test on this hardware, and keeps watching itself while it
/// serves. `Send + Sync`: serve from several threads. [`Runtime::reload`] swaps in a newly
/// installed bundle once it has passed its own gate, while the old one keeps serving.
#[derive(Debug)]
pub struct Runtime {
    serving: RwLock<Arc<Serving>>,
    dir: PathBuf,
    options: StartOptions,
}

/// One gated bundle: what serves until the next reload.
#[derive(Debug)]
struct Serving {
    model: Arc<Model>,
    report: Arc<Report>,
    suite: Suite,
    health: Arc<HealthMonitor>,
}

/// What [`Runtime::infer_into`] served.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Served {
    /// Results written into the caller's buffer.
    pub stored: usize,
    /// End-to-end latency of this inference.
    pub latency: std::time::Duration,
    /// Whether the frame was inside the operating envelope (`None` without one).
    pub inside: Option<bool>,
}

impl Runtime {
    /// Opens the bundle in `dir`, runs its suite and returns a runtime that may serve, or the
    /// report of why it may not. `dir` may be an install root (`preflight install`): its
    /// `current` slot serves.
    pub fn start(
        dir: impl AsRef<Path>,
        options: &StartOptions,
    ) -> std::result::Result<Runtime, StartError> {
        let dir = dir.as_ref().to_path_buf();
        let serving = gate(&dir, options)?;
        Ok(Runtime { serving: RwLock::new(Arc::new(serving)), dir, options: options.clone() })
    }

    /// Opens the directory the runtime was started from again — for an install root, the slot
    /// `current` names now — runs its suite and, when the gate allows, serves it from the next
    /// inference on. Until then, and whenever the gate refuses or the bundle cannot be read,
    /// the bundle already loaded keeps serving. Health starts afresh with the new bundle.
    pub fn reload(&self) -> std::result::Result<(), StartError> {
        let next = gate(&self.dir, &self.options)?;
        *self.serving.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(())
    }

    fn current(&self) -> Arc<Serving> {
        Arc::clone(&self.serving.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The self-test report of the bundle serving.
    pub fn report(&self) -> Arc<Report> {
        Arc::clone(&self.current().report)
    }

    /// The model serving.
    pub fn model(&self) -> Arc<Model> {
        Arc::clone(&self.current().model)
    }

    /// Runs one image end to end and records its latency for [`Runtime::health`].
    pub fn infer(&self, image: &DynamicImage) -> Result<Inference> {
        let serving = self.current();
        let inference = serving.model.infer(image, DecodeOptions::default())?;
        let outside = inference.envelope.as_ref().map(|v| !v.inside);
        serving.health.record_frame(inference.elapsed, outside);
        Ok(inference)
    }

    /// Runs one image and writes its detections, best first, into a fixed-capacity buffer
    /// (cleared first). When there are more than `N`, the best `N` are kept and
    /// [`Error::Capacity`] reports how many there were: never a silent truncation.
    pub fn infer_into<const N: usize>(
        &self,
        image: &DynamicImage,
        out: &mut heapless::Vec<Detection, N>,
    ) -> Result<Served> {
        out.clear();
        let inference = self.infer(image)?;
        let Prediction::Detections { detections, .. } = inference.prediction else {
            return Err(Error::inference(
                self.model().engine().model_path(),
                "infer_into needs a detection bundle",
            ));
        };
        let found = detections.len();
        for d in detections {
            if out.push(d).is_err() {
                return Err(Error::Capacity { capacity: N, found });
            }
        }
        let inside = inference.envelope.map(|v| v.inside);
        Ok(Served { stored: found, latency: inference.elapsed, inside })
    }

    /// Latency health over the last [`HEALTH_WINDOW`](super::health::HEALTH_WINDOW) inferences.
    pub fn health(&self) -> Health {
        self.current().health.health()
    }

    /// The monitor of the bundle serving, e.g. to record latencies of frames timed elsewhere.
    pub fn health_monitor(&self) -> Arc<HealthMonitor> {
        Arc::clone(&self.current().health)
    }

    /// The self-test report and what the runtime has served since, as Prometheus metrics
    /// (text exposition format), for firmware that serves its own `/metrics`.
    pub fn metrics(&self) -> String {
        use crate::suite::metrics::Metrics;
        let mut m = Metrics::default();
        let serving = self.current();
        serving.report.write_metrics(&mut m);
        let health = serving.health.health();
        let b = ("bundle", serving.report.bundle.name.as_str());
        m.family("preflight_inferences_served_total", "counter", "Inferences served since start.")
            .series("preflight_inferences_served_total", &[b], health.served as f64);
        m.family(
            "preflight_serving_latency_seconds",
            "gauge",
            "End-to-end latency of the last served inferences (up to 128): p50 and p99.",
        );
        if health.samples > 0 {
            for (stat, v) in [("p50", health.p50_ms), ("p99", health.p99_ms)] {
                m.series(
                    "preflight_serving_latency_seconds",
                    &[b, ("stat", stat)],
                    f64::from(v) / 1e3,
                );
            }
        }
        m.family(
            "preflight_health",
            "gauge",
            "Serving health as a state set: ok, over_budget (p99 over the suite's budget), no_data, \
             outside_envelope (too many recent frames outside the proven conditions).",
        );
        for (name, state) in [
            ("ok", HealthStatus::Ok),
            ("over_budget", HealthStatus::OverBudget),
            ("no_data", HealthStatus::NoData),
            ("outside_envelope", HealthStatus::OutsideEnvelope),
        ] {
            m.series(
                "preflight_health",
                &[b, ("status", name)],
                f64::from(u8::from(health.status == state)),
            );
        }
        if let Some(share) = health.outside_share {
            m.family(
                "preflight_envelope_outside_ratio",
                "gauge",
                "Share of the last served frames (up to 128) outside the operating envelope.",
            );
            m.series("preflight_envelope_outside_ratio", &[b], f64::from(share));
        }
        m.finish()
    }

    /// Re-runs the checks the suite lists under `recheck` (say, parity on three cases) on the
    /// loaded model, without reloading it, and returns their report.
    pub fn recheck(&self) -> Report {
        let started = Started::now();
        let serving = self.current();
        let subset = serving.suite.recheck_subset();
        let ctx = self.options.context(None, &started, serving.report.host.unit.clone());
        let results = run_checks(&*serving.model, &subset, &ctx, &mut |_, _, _| {});
        Report::new(&*serving.model, &subset, &ctx, self.options.strict, results, &started)
    }
}

/// Opens, self-tests and, when the verdict allows, readies a bundle to serve.
fn gate(dir: &Path, options: &StartOptions) -> std::result::Result<Serving, StartError> {
    let (mut model, suite, report) = run(dir, options, &mut |_, _, _| {})?;
    // A bundle without a recorded envelope serves with the one its boot suite derived.
    // A recorded one wins: its author chose the suite (usually the acceptance suite, with
    // more cases per curve than a boot can afford).
    if model.envelope().is_none() {
        if let Some(e) = report.envelope.as_ref().filter(|e| !e.bounds.is_empty()) {
            model.set_envelope(Some(e.clone()));
        }
    }
    if !report.serving_allowed {
        return Err(StartError::Refused { report: Box::new(report) });
    }
    if report.verdict != Verdict::Pass {
        log::warn!("{}: serving with verdict {}", report.bundle.name, report.verdict.name());
    }
    let alarm = suite.outside_alarm.map_or(DEFAULT_OUTSIDE_ALARM, |a| a as f32);
    let health = HealthMonitor::with_alarm(p99_budget(&suite, options), alarm);
    Ok(Serving {
        model: Arc::new(model),
        report: Arc::new(report),
        suite,
        health: Arc::new(health),
    })
}

/// The p99 budget of the suite's first p99 latency check, for this target.
fn p99_budget(suite: &Suite, options: &StartOptions) -> Option<f32> {
    let target = options.target.as_ref().map(|t| t.name.as_str());
    suite.checks.iter().find_map(|c| match &c.kind {
        CheckKind::Latency(l) if l.stat == Stat::P99 => Some(l.threshold.for_target(target) as f32),
        _ => None,
    })
}

/// Opens the bundle, times the cold start, runs the suite and builds the report, whatever the
/// verdict. `progress(done, total, check)` is called before each check.
pub fn check(
    dir: &Path,
    options: &StartOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<(Model, Suite, Report)> {
    run(dir, options, progress)
}

/// Refuses a target profile made for another architecture, unless the options accept it.
pub(super) fn check_target(options: &StartOptions) -> Result<()> {
    if let Some(target) = &options.target {
        match target.check_host() {
            Err(_) if options.target_mismatch_ok && !target.emulated => log::warn!(
                "target {} is for {}: its thresholds do not describe this machine",
                target.name,
                target.triple
            ),
            other => other?,
        }
    }
    Ok(())
}

pub(super) fn run(
    dir: &Path,
    options: &StartOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<(Model, Suite, Report)> {
    let started = Started::now();
    check_target(options)?;
    let dir = &super::slots::serving_dir(dir);
    let policy = options.trust_policy()?;
    let unit = unit_id(options.unit_id.as_deref())?;
    let bundle = verified(Bundle::open(dir)?, &policy)?;
    let suite = match (&options.suite, bundle.tier_path(options.tier)) {
        (Some(p), _) => Suite::load(p)?,
        (None, Some(p)) => Suite::load(&p)?,
        // Without a suite of its own, the re-check is the boot suite's `recheck` subset.
        (None, None) if options.tier == Tier::Recheck && bundle.suite_path().is_some() => {
            let boot = Suite::load(&bundle.suite_path().expect("checked above"))?;
            if boot.recheck.is_empty() {
                return Err(Error::config(
                    &boot.path,
                    "recheck",
                    "lists no checks, and the bundle names no recheck suite",
                ));
            }
            boot.recheck_subset()
        }
        (None, None) => {
            let (key, message) = match options.tier {
                Tier::Boot => {
                    ("suites.boot", "the bundle has no suite; give one with --suite".to_string())
                }
                tier => (
                    "suites",
                    format!(
                        "the bundle names no {} suite (`[suites] {}`)",
                        tier.name(),
                        tier.name()
                    ),
                ),
            };
            return Err(Error::config(dir.join(MANIFEST_FILE), key, message));
        }
    };
    suite.refuse_undecidable(&bundle.manifest().output)?;
    let mut suite = suite;
    if suite.captures() {
        let allowed =
            options.allow_capture || options.target.as_ref().is_some_and(|t| t.allow_capture);
        let dir = options.capture_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("preflight-capture-{}", std::process::id()))
        });
        suite.capture_frames(&dir, allowed)?;
        log::info!("captured frames in {}", dir.display());
    }
    let mut model = Model::from_bundle(bundle)?;
    model.set_threads(options.inference_threads())?;
    // Cold start: from nothing loaded to the first result, on the first case. A case that
    // cannot be read or run is not an error here: the checks that use it fail with the
    // reason, and so does the cold-start check (not timed).
    let first = suite.cases.first().and_then(|c| model.load_image(&c.path).ok());
    let cold_start = first
        .and_then(|img| model.infer(&img, DecodeOptions::default()).ok())
        .map(|_| started.elapsed());

    let ctx = options.context(cold_start, &started, unit);
    let results = run_checks(&model, &suite, &ctx, progress);
    let report = Report::new(&model, &suite, &ctx, options.strict, results, &started);
    Ok((model, suite, report))
}
