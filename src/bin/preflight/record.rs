//! `preflight record`: golden outputs of the suite's parity cases, for parity checks elsewhere;
//! with `--envelope`, the operating envelope the suite's robustness checks prove.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use preflight::model::bundle::MANIFEST_FILE;
use preflight::model::manifest::Tier;
use preflight::model::Bundle;
use preflight::prelude::*;
use preflight::suite::golden::{parity_cases, record as record_golden};
use preflight::suite::run::{run_checks, RunContext};
use preflight::suite::spec::CheckKind;
use preflight::suite::Suite;

pub(crate) fn record(
    dir: &Path,
    suite: Option<PathBuf>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let model = Model::open(dir)?;
    let suite_path = match suite.or_else(|| model.bundle().suite_path()) {
        Some(p) => p,
        None => bail!("{}: the bundle has no suite; give one with --suite", dir.display()),
    };
    let suite = Suite::load(&suite_path)?;
    let (cases, golden) = parity_cases(&suite);
    let (false, Some(out)) = (cases.is_empty(), out.or(golden)) else {
        bail!("{}: no parity check names cases to record", suite_path.display());
    };
    let golden = record_golden(&model, &suite, &cases)?;
    golden.save(&out)?;
    outln!("recorded {} case(s) on {} to {}", cases.len(), golden.recorded_on, out.display())?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn envelope(
    dir: &Path,
    suite: Option<PathBuf>,
    out: Option<PathBuf>,
    seed: u64,
) -> anyhow::Result<ExitCode> {
    let bundle = Bundle::open(dir)?;
    let Some(out) = out.or_else(|| bundle.envelope_path()) else {
        bail!(
            "{}: the manifest names no envelope file: add `envelope = \"envelope.json\"` to it, \
             or give --out",
            dir.join(MANIFEST_FILE).display()
        );
    };
    let suite_path = suite
        .or_else(|| bundle.tier_path(Tier::Acceptance))
        .or_else(|| bundle.suite_path())
        .ok_or_else(|| {
            anyhow::anyhow!("{}: the bundle has no suite; give one with --suite", dir.display())
        })?;
    let suite = Suite::load(&suite_path)?;
    let model = Model::without_envelope(bundle)?;
    let ctx = RunContext { seed, ..Default::default() };
    let ran = run_checks(&model, &suite, &ctx, &mut |_, _, _| {});
    // A flag fitted but not shipped: the envelope check says on which faults it missed.
    let unshipped: Vec<String> = suite
        .checks
        .iter()
        .zip(&ran.checks)
        .filter(|(c, r)| {
            matches!(&c.kind, CheckKind::Envelope(a) if !a.faults.is_empty())
                && r.passed != Some(true)
        })
        .map(|(c, r)| format!("none   flag ({}): {}", c.name, r.detail))
        .collect();
    let envelope = ran.envelope;
    if envelope.bounds.is_empty() && envelope.risk.is_none() {
        bail!(
            "{}: no robustness check gives a bound ({} could not separate): nothing to record",
            suite_path.display(),
            envelope.unseparated.len()
        );
    }
    let file_name =
        suite_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    envelope.save(&out, model.bundle().model_sha256(), &file_name)?;
    for b in &envelope.bounds {
        let v = b.validation.map_or(String::new(), |v| {
            format!(
                "; held-apart cases: {:.0}% of clean flagged, {:.0}% past breaking",
                v.clean_outside * 100.0,
                v.broken_outside * 100.0
            )
        });
        outln!(
            "bound  {} {} {:.4e} (from {}, held through severity {}){v}",
            b.measure.name(),
            b.direction.symbol(),
            b.bound,
            b.check,
            b.held_through
        )?;
    }
    for u in &envelope.unseparated {
        outln!("none   {}: {}", u.check, u.reason)?;
    }
    for line in &unshipped {
        outln!("{line}")?;
    }
    if let Some(r) = &envelope.risk {
        let f = &r.fitted;
        outln!(
            "flag   {} features fitted on {} cases ({} inputs, {} with decisions changed); it decides alone",
            r.features.len(),
            f.cases,
            f.rows,
            f.broken
        )?;
        for x in &f.held_apart {
            let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.0}%", v * 100.0));
            outln!(
                "       held-apart {}: {} of {} broken flagged, {} of {} held",
                x.fault,
                pct(x.broken_rate()),
                x.broken,
                pct(x.held_rate()),
                x.held
            )?;
        }
    }
    outln!(
        "recorded {} bound(s){} to {}",
        envelope.bounds.len(),
        if envelope.risk.is_some() { " and a fitted flag" } else { "" },
        out.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
