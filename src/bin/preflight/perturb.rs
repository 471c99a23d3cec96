//! `preflight perturb`: writes a perturbed copy of an image, to see what a suite's corruption
//! does.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use preflight::files::write_atomically;
use preflight::suite::perturb::Perturbation;

/// Suites perturb images at the model's input size; a camera-sized photo would take minutes
/// to blur at severity 5 (its kernel grows with the image).
const PERTURB_MAX_PIXELS: u64 = 4 << 20;

pub(crate) fn perturb(
    image: &Path,
    name: &str,
    severity: u8,
    seed: u64,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let p: Perturbation = name.parse().map_err(|e| anyhow::anyhow!("--name: {e}"))?;
    // Decide the format before touching `out`: an existing file is replaced whole or kept.
    let format = match image::ImageFormat::from_path(out) {
        Ok(f @ (image::ImageFormat::Png | image::ImageFormat::Jpeg)) => f,
        _ => bail!("{}: write a .png or .jpg file", out.display()),
    };
    let img =
        preflight::model::preprocess::load_image_limited(image, PERTURB_MAX_PIXELS)?.to_rgb8();
    let mut bytes = Vec::new();
    p.apply(&img, severity, seed)
        .write_to(&mut std::io::Cursor::new(&mut bytes), format)
        .with_context(|| format!("{}: cannot encode the image", out.display()))?;
    write_atomically(out, &bytes)?;
    Ok(ExitCode::SUCCESS)
}
