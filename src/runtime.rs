//! The startup gate: open the bundle, run its suite on this hardware, and serve only when the
//! verdict allows. This is what firmware embeds.

use std::path::{Path, PathBuf};
use std::time::Instant;

use image::DynamicImage;

use crate::bundle::Bundle;
use crate::check::{run_checks, RunContext};
use crate::decode::{DecodeOptions, Detection, Prediction};
use crate::error::{Error, Result};
use crate::gate::verdict;
use crate::health::{Health, HealthMonitor};
use crate::model::{Inference, Model};
use crate::preprocess::load_image;
use crate::report::{now_rfc3339, BundleInfo, HostInfo, Report, RuntimeInfo, REPORT_SCHEMA};
use crate::suite::Suite;
use crate::suite::{CheckKind, Stat};
use crate::target::{host_cores, host_cpu, host_triple, TargetProfile};

/// How to run the self-test.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Hardware profile; per-target thresholds use its name.
    pub target: Option<TargetProfile>,
    /// Seed for perturbations (reports with the same seed are comparable).
    pub seed: u64,
    /// A suite to run instead of the bundle's own.
    pub suite: Option<PathBuf>,
    /// Treat a degraded verdict as failed.
    pub strict: bool,
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
/// serves. `Send + Sync`: serve from several threads.
#[derive(Debug)]
pub struct Runtime {
    model: Model,
    report: Report,
    suite: Suite,
    options: StartOptions,
    health: HealthMonitor,
}

/// What [`Runtime::infer_into`] served.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Served {
    /// Results written into the caller's buffer.
    pub stored: usize,
    /// End-to-end latency of this inference.
    pub latency: std::time::Duration,
}

impl Runtime {
    /// Opens the bundle in `dir`, runs its suite and returns a runtime that may serve, or the
    /// report of why it may not.
    pub fn start(
        dir: impl AsRef<Path>,
        options: &StartOptions,
    ) -> std::result::Result<Runtime, StartError> {
        let (model, suite, report) = run(dir.as_ref(), options, &mut |_, _, _| {})?;
        if report.serving_allowed {
            if report.verdict != crate::gate::Verdict::Pass {
                log::warn!(
                    "{}: serving with verdict {}",
                    report.bundle.name,
                    report.verdict.name()
                );
            }
            let health = HealthMonitor::new(p99_budget(&suite, options));
            Ok(Runtime { model, report, suite, options: options.clone(), health })
        } else {
            Err(StartError::Refused { report: Box::new(report) })
        }
    }

    /// The self-test report.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// The loaded model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Runs one image end to end and records its latency for [`Runtime::health`].
    pub fn infer(&self, image: &DynamicImage) -> Result<Inference> {
        let inference = self.model.infer(image, DecodeOptions::default())?;
        self.health.record(inference.elapsed);
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
                self.model.engine().model_path(),
                "infer_into needs a detection bundle",
            ));
        };
        let found = detections.len();
        for d in detections {
            if out.push(d).is_err() {
                return Err(Error::Capacity { capacity: N, found });
            }
        }
        Ok(Served { stored: found, latency: inference.elapsed })
    }

    /// Latency health over the last [`crate::HEALTH_WINDOW`] inferences.
    pub fn health(&self) -> Health {
        self.health.health()
    }

    /// The monitor itself, e.g. to record latencies of frames timed elsewhere.
    pub fn health_monitor(&self) -> &HealthMonitor {
        &self.health
    }

    /// Re-runs the checks the suite lists under `recheck` (say, parity on three cases) on the
    /// loaded model, without reloading it, and returns their report.
    pub fn recheck(&self) -> Report {
        let started_at = now_rfc3339();
        let start = Instant::now();
        let subset = self.suite.recheck_subset();
        let ctx = RunContext {
            target: self.options.target.clone(),
            seed: self.options.seed,
            cold_start: None,
        };
        let (checks, timing) = run_checks(&self.model, &subset, &ctx, &mut |_, _, _| {});
        build_report(&self.model, &subset, &self.options, checks, timing, started_at, start)
    }
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
) -> Result<(Model, Report)> {
    run(dir, options, progress).map(|(model, _, report)| (model, report))
}

fn run(
    dir: &Path,
    options: &StartOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<(Model, Suite, Report)> {
    let started_at = now_rfc3339();
    let start = Instant::now();
    let bundle = Bundle::open(dir)?;
    let suite_path = match (&options.suite, bundle.suite_path()) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => p,
        (None, None) => {
            return Err(Error::config(
                dir.join(crate::bundle::MANIFEST_FILE),
                "suite.path",
                "the bundle has no suite; give one with --suite",
            ))
        }
    };
    let suite = Suite::load(&suite_path)?;
    let model = Model::from_bundle(bundle)?;
    // Cold start: from nothing loaded to the first result, on the first case.
    let first = suite.cases.first().map(|c| load_image(&c.path)).transpose()?;
    if let Some(img) = &first {
        model.infer(img, DecodeOptions::default())?;
    }
    let cold_start = first.is_some().then(|| start.elapsed());

    let ctx = RunContext { target: options.target.clone(), seed: options.seed, cold_start };
    let (checks, timing) = run_checks(&model, &suite, &ctx, progress);
    let report = build_report(&model, &suite, options, checks, timing, started_at, start);
    Ok((model, suite, report))
}

fn build_report(
    model: &Model,
    suite: &Suite,
    options: &StartOptions,
    checks: Vec<crate::check::CheckResult>,
    timing: crate::check::Timing,
    started_at: String,
    start: Instant,
) -> Report {
    let verdict = verdict(checks.iter().map(|c| (c.severity, c.status)));
    let manifest = model.bundle().manifest();
    Report {
        schema: REPORT_SCHEMA.into(),
        verdict,
        strict: options.strict,
        serving_allowed: verdict.allows_serving(options.strict),
        started_at,
        duration_ms: (start.elapsed().as_secs_f64() * 1e4).round() / 10.0,
        seed: options.seed,
        bundle: BundleInfo {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            model_sha256: model.bundle().model_sha256().into(),
            suite: suite.name.clone(),
            suite_sha256: suite.sha256.clone(),
        },
        runtime: RuntimeInfo {
            version: env!("CARGO_PKG_VERSION").into(),
            tract_version: crate::TRACT_VERSION.into(),
        },
        host: HostInfo {
            triple: host_triple().into(),
            // Under qemu-user /proc/cpuinfo is the host's: say what is being emulated.
            cpu: match &options.target {
                Some(t) if t.emulated => format!("{} (on {})", t.cpu, host_cpu()),
                _ => host_cpu(),
            },
            cores: host_cores(),
            target: options.target.as_ref().map(|t| t.name.clone()),
            emulated: options.target.as_ref().is_some_and(|t| t.emulated),
        },
        timing,
        checks,
    }
}
