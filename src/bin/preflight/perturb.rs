//! `preflight perturb`: writes a perturbed copy of an image, to see what a suite's corruption
//! does.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use preflight::prelude::*;
use preflight::suite::perturb::Perturbation;

pub(crate) fn perturb(
    image: &Path,
    name: &str,
    severity: u8,
    seed: u64,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let p: Perturbation = name.parse().map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    let img = load_image(image)?.to_rgb8();
    p.apply(&img, severity, seed)
        .save(out)
        .with_context(|| format!("{}: cannot write image", out.display()))?;
    Ok(ExitCode::SUCCESS)
}
