//! `preflight run`: images through a bundle's model, printed as text or JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::bail;
use preflight::model::bundle::MANIFEST_FILE;
use preflight::model::pipeline::is_pipeline;
use preflight::model::signature::{verified, verify};
use preflight::model::Bundle;
use preflight::prelude::*;
use serde_json::json;

use crate::args::Format;
use crate::{default_bundle, is_bundle, round3};

pub(crate) fn run(
    mut paths: Vec<PathBuf>,
    format: Format,
    threshold: Option<f32>,
    top: Option<usize>,
    threads: usize,
    policy: &TrustPolicy,
) -> anyhow::Result<ExitCode> {
    let dir = if is_bundle(&paths[0]) || is_pipeline(&paths[0]) {
        paths.remove(0)
    } else if paths[0].is_dir() {
        bail!("{}: not a bundle (no {MANIFEST_FILE} in it)", paths[0].display());
    } else {
        default_bundle()
    };
    if paths.is_empty() {
        bail!("{}: no image given after the bundle", dir.display());
    }
    if let Some(t) = threshold {
        if !(0.0..=1.0).contains(&t) {
            bail!("--threshold {t}: must be within 0..=1");
        }
    }
    if is_pipeline(&dir) {
        if threshold.is_some() || top.is_some() {
            bail!(
                "{}: --threshold and --top apply to one model; a pipeline's stages keep their own",
                dir.display()
            );
        }
        return read(&dir, &paths, format, threads, policy);
    }
    let bundle = verified(Bundle::open(&dir)?, policy)?;
    let mut model = Model::from_bundle(bundle)?;
    model.set_threads(threads)?;
    let options = DecodeOptions { threshold, top, ..DecodeOptions::default() };
    let mut results = Vec::new();
    for path in &paths {
        let inference = model.infer_path(path, options)?;
        let ms = inference.elapsed.as_secs_f64() * 1e3;
        if format == Format::Text {
            print_prediction(path, ms, &inference.prediction)?;
            if let Some(v) = inference.envelope.as_ref().filter(|v| !v.inside) {
                let past: Vec<String> = v
                    .violations
                    .iter()
                    .map(|x| {
                        format!(
                            "{} {:.3e} past {:.3e} ({})",
                            x.measure.name(),
                            x.value,
                            x.bound,
                            x.check
                        )
                    })
                    .collect();
                let why = match v.risk {
                    Some([z, t]) => format!(
                        "the fitted flag reads {z:.2} past {t:.2} (log-odds that a fault changed \
                         its decisions)"
                    ),
                    None => past.join("; "),
                };
                outln!("  outside the proven envelope: {why}")?;
            }
        }
        let mut entry = serde_json::to_value(&inference.prediction)?;
        if let Some(obj) = entry.as_object_mut() {
            obj.remove("max_score");
            obj.insert("image".into(), json!(path));
            obj.insert("ms".into(), json!(round3(ms)));
            if let (Some(c), Some(v)) = (&inference.condition, &inference.envelope) {
                obj.insert("condition".into(), serde_json::to_value(c)?);
                obj.insert("envelope".into(), serde_json::to_value(v)?);
            }
        }
        results.push(entry);
    }
    if format == Format::Json {
        let doc = json!({ "bundle": model.bundle().manifest().name, "results": results });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_prediction(path: &Path, ms: f64, prediction: &Prediction) -> std::io::Result<()> {
    outln!("{}  ({ms:.1} ms)", path.display())?;
    match prediction {
        Prediction::Detections { detections, max_score } => {
            if detections.is_empty() {
                outln!("  nothing detected (best score {max_score:.2})")?;
            }
            for d in detections {
                let [x0, y0, x1, y1] = d.bbox;
                let class = match (&d.label, d.class) {
                    (Some(label), _) => format!("{label}  "),
                    (None, Some(k)) => format!("class {k}  "),
                    (None, None) => String::new(),
                };
                outln!("  {:.2}  {class}box [{x0:.0}, {y0:.0}, {x1:.0}, {y1:.0}]", d.score)?;
            }
        }
        Prediction::Classes { classes } => {
            for c in classes {
                outln!("  {:.3}  {}", c.score, c.label)?;
            }
        }
        Prediction::Text { text, confidence, .. } => {
            outln!("  {confidence:.3}  {text:?}")?;
        }
        Prediction::Lines { lines } => print_lines(lines)?,
        Prediction::Raw {} => outln!("  (raw outputs; nothing to decode)")?,
    }
    Ok(())
}

/// `run` on a pipeline: each image read end to end, every stage's bundle verified first.
fn read(
    dir: &Path,
    paths: &[PathBuf],
    format: Format,
    threads: usize,
    policy: &TrustPolicy,
) -> anyhow::Result<ExitCode> {
    let mut pipeline = Pipeline::open(dir)?;
    for stage in pipeline.stages() {
        verify(stage.bundle(), policy)?;
    }
    pipeline.set_threads(threads)?;
    let mut results = Vec::new();
    for path in paths {
        let reading = pipeline.read_path(path)?;
        let ms = reading.elapsed.as_secs_f64() * 1e3;
        if format == Format::Text {
            let turned = if reading.upside_down { ", read upside down" } else { "" };
            outln!("{}  ({ms:.1} ms{turned})", path.display())?;
            print_lines(&reading.lines)?;
        }
        let mut entry = serde_json::to_value(&reading)?;
        if let Some(obj) = entry.as_object_mut() {
            obj.insert("image".into(), json!(path));
            obj.insert("text".into(), json!(reading.text()));
            obj.insert("ms".into(), json!(round3(ms)));
        }
        results.push(entry);
    }
    if format == Format::Json {
        let doc = json!({ "pipeline": pipeline.manifest().name, "results": results });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_lines(lines: &[TextLine]) -> std::io::Result<()> {
    if lines.is_empty() {
        outln!("  no text read")?;
    }
    for l in lines {
        let [x0, y0, x1, y1] = l.bbox;
        let turned = if l.turned > 0 { format!("  turned {}°", l.turned) } else { String::new() };
        outln!(
            "  {:.3}  {:?}  box [{x0:.0}, {y0:.0}, {x1:.0}, {y1:.0}]{turned}",
            l.confidence,
            l.text
        )?;
    }
    Ok(())
}
