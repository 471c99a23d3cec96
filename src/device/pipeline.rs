//! `check` on a pipeline: every stage's suite of the tier (each stage gated as a bundle of its
//! own), then the pipeline's suite over whole images, folded into one report and one verdict.

use std::path::Path;

use super::runtime::{check_target, run, StartOptions};
use crate::error::{Error, Result};
use crate::model::manifest::Tier;
use crate::model::pipeline::{Pipeline, PipelineManifest, StageModels, PIPELINE_FILE};
use crate::suite::report::{Report, Started};
use crate::suite::run::run_checks;
use crate::suite::spec::Suite;
use crate::target::unit_id;

/// Checks the pipeline in `dir`: its stages' suites and its own, for `options.tier`
/// (`options.suite`, if given, replaces the pipeline's own suite; the stages keep theirs).
pub fn check_pipeline(
    dir: &Path,
    options: &StartOptions,
    progress: &mut dyn FnMut(usize, usize, &str),
) -> Result<(Pipeline, Report)> {
    let started = Started::now();
    check_target(options)?;
    let unit = unit_id(options.unit_id.as_deref())?;
    let manifest = PipelineManifest::load(dir)?;
    let file = dir.join(PIPELINE_FILE);
    let suite = match (&options.suite, manifest.suite_for(options.tier)) {
        (Some(p), _) => Suite::load(p)?,
        (None, Some(rel)) => Suite::load(&dir.join(rel))?,
        (None, None)
            if options.tier == Tier::Recheck && manifest.suite_for(Tier::Boot).is_some() =>
        {
            let boot = Suite::load(&dir.join(manifest.suite_for(Tier::Boot).expect("checked")))?;
            boot.recheck_subset()
        }
        (None, None) => {
            return Err(Error::config(
                &file,
                "suites",
                format!(
                    "the pipeline names no {} suite (`[suites] {}`)",
                    options.tier.name(),
                    options.tier.name()
                ),
            ))
        }
    };
    let stage_dirs = manifest.stage_dirs(dir)?;
    // Each stage is checked exactly as `check <stage>` would check it (its trust policy, its
    // suite of the tier, its cold start); a --suite given for the pipeline is the pipeline's.
    let stage_options = StartOptions { suite: None, ..options.clone() };
    let mut reports = Vec::new();
    let mut check_stage = |stage: &Path| -> Result<crate::model::Model> {
        let (model, _, report) = run(stage, &stage_options, progress)?;
        reports.push(report);
        Ok(model)
    };
    let detector = check_stage(&stage_dirs.detector)?;
    let direction = stage_dirs.direction.as_deref().map(&mut check_stage).transpose()?;
    let recognizer = check_stage(&stage_dirs.recognizer)?;
    let mut pipeline =
        Pipeline::from_models(dir, manifest, StageModels { detector, direction, recognizer })?;
    pipeline.set_threads(options.inference_threads())?;
    // The pipeline's cold start is its stages' (each reported): nothing is timed here.
    let ctx = options.context(None, &started, unit);
    let ran = run_checks(&pipeline, &suite, &ctx, progress);
    let report = Report::new(&pipeline, &suite, &ctx, options.strict, ran, &started);
    Ok((pipeline, report.with_stages(reports)))
}
