//! `preflight bench`: end-to-end latency percentiles and cold start.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use preflight::latency::Percentiles;
use preflight::prelude::*;
use serde_json::json;

use crate::args::Format;
use crate::round3;

pub(crate) fn bench(
    dir: &Path,
    iterations: usize,
    warmup: usize,
    image: Option<PathBuf>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let img = match &image {
        Some(p) => load_image(p)?,
        None => synthetic_image(dir)?,
    };
    let (model, cold) = preflight::model::timing::cold_start(dir, &img)?;
    let samples = preflight::model::timing::measure(&model, &img, warmup, iterations)?;
    let p = Percentiles::of(&samples).expect("iterations >= 1");
    let cold_ms = cold.as_secs_f64() * 1e3;
    if format == Format::Json {
        let doc = json!({
            "bundle": model.bundle().manifest().name,
            "iterations": iterations,
            "warmup": warmup,
            "latency_ms": { "p50": round3(p.p50), "p90": round3(p.p90), "p99": round3(p.p99), "max": round3(p.max), "mean": round3(p.mean) },
            "cold_start_ms": round3(cold_ms),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        outln!(
            "{} ({} runs after {} warm-up)",
            model.bundle().manifest().name,
            iterations,
            warmup
        )?;
        outln!(
            "latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}",
            p.p50,
            p.p90,
            p.p99,
            p.max,
            p.mean
        )?;
        outln!("cold start  {cold_ms:.1} ms (bundle open -> first result)")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A deterministic gradient at the model's input size, so bench needs no image file.
fn synthetic_image(dir: &Path) -> anyhow::Result<image::DynamicImage> {
    let bundle = preflight::model::Bundle::open(dir)?;
    let (h, w) = bundle.manifest().input.size();
    let img = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        image::Rgb([(x * 255 / w as u32) as u8, (y * 255 / h as u32) as u8, 128])
    });
    Ok(image::DynamicImage::ImageRgb8(img))
}
