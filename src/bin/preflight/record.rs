//! `preflight record`: golden outputs of the suite's parity cases, for parity checks elsewhere.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use preflight::prelude::*;
use preflight::suite::golden::{parity_cases, record as record_golden};
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
