//! `preflight bench`: end-to-end latency percentiles and cold start.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use preflight::latency::Percentiles;
use preflight::prelude::*;
use serde_json::json;

use crate::args::Format;
use crate::round3;

/// What `bench` runs.
pub(crate) struct Options {
    pub(crate) iterations: usize,
    pub(crate) warmup: usize,
    pub(crate) image: Option<PathBuf>,
    pub(crate) threads: usize,
    pub(crate) profile: bool,
}

/// Operators listed by `--profile`.
const PROFILE_TOP: usize = 10;

pub(crate) fn bench(dir: &Path, options: Options, format: Format) -> anyhow::Result<ExitCode> {
    let Options { iterations, warmup, image, threads, profile } = options;
    if iterations == 0 {
        bail!("--iterations must be at least 1");
    }
    let img = match &image {
        Some(p) => load_image(p)?,
        None => synthetic_image(dir)?,
    };
    let (model, cold) = preflight::model::timing::cold_start(dir, &img, threads)?;
    let samples = preflight::model::timing::measure(&model, &img, warmup, iterations)?;
    let p = Percentiles::of(&samples).expect("iterations >= 1");
    let cold_ms = cold.as_secs_f64() * 1e3;
    let profile = if profile {
        let (input, _) = model.prepare(&img);
        Some(model.engine().profile(&input, iterations, PROFILE_TOP)?)
    } else {
        None
    };
    let ms = |d: std::time::Duration| round3(d.as_secs_f64() * 1e3);
    let threads = model.engine().threads();
    if format == Format::Json {
        let mut doc = json!({
            "bundle": model.bundle().manifest().name,
            "iterations": iterations,
            "warmup": warmup,
            "threads": threads,
            "latency_ms": { "p50": round3(p.p50), "p90": round3(p.p90), "p99": round3(p.p99), "max": round3(p.max), "mean": round3(p.mean) },
            "cold_start_ms": round3(cold_ms),
        });
        if let Some(profile) = &profile {
            doc["profile"] = json!({
                "runs": profile.runs,
                "plan_mean_ms": ms(profile.mean),
                "by_op": profile.by_op.iter().map(|(op, share)| json!({"op": op, "share": round3(*share)})).collect::<Vec<_>>(),
                "top_nodes": profile.nodes.iter().map(|n| json!({"node": n.node, "op": n.op, "mean_ms": ms(n.mean), "share": round3(n.share)})).collect::<Vec<_>>(),
                "kernels": profile.kernels,
            });
        }
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{} ({} runs after {} warm-up, {} inference thread{})",
        model.bundle().manifest().name,
        iterations,
        warmup,
        threads,
        if threads == 1 { "" } else { "s" }
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
    if let Some(profile) = &profile {
        outln!(
            "\nplan: {:.3} ms per run over {} runs, summed over operators",
            profile.mean.as_secs_f64() * 1e3,
            profile.runs
        )?;
        let kinds: Vec<String> = profile
            .by_op
            .iter()
            .take(6)
            .map(|(op, share)| format!("{op} {:.1}%", share * 100.0))
            .collect();
        outln!("by operator: {}", kinds.join(", "))?;
        outln!("{:>6}  {:>9}  {:<16} node", "share", "ms", "operator")?;
        for n in &profile.nodes {
            outln!(
                "{:>5.1}%  {:>9.3}  {:<16} {}",
                n.share * 100.0,
                n.mean.as_secs_f64() * 1e3,
                n.op,
                n.node
            )?;
        }
        outln!("kernels: {}", profile.kernels.join(", "))?;
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
