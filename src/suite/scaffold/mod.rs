//! `preflight init`: a bundle to start from, made from a bare ONNX file, that `check` runs at
//! once. It proves what can be proven without knowing what the model means: the model loads
//! and runs here, as fast as when the bundle was made (latency, cold start, memory), with the
//! same numbers (parity against outputs recorded at init). Decisions are the model author's
//! to add: an output kind and labelled cases.

mod export;
mod from_cases;
mod gates;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::suite::datasets::Format as ExportFormat;
pub use export::{CasesOptions, Decoder};

use image::{Rgb, RgbImage};

use super::golden::{parity_cases, record};
use super::Suite;
use crate::error::{Error, Result};
use crate::latency::nearest_rank;
use crate::model::bundle::MANIFEST_FILE;
use crate::model::onnx_file::OnnxSummary;
use crate::model::{DecodeOptions, Model};

/// How to scaffold.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Bundle name (default: the model file's stem).
    pub name: Option<String>,
    /// Input height and width, for a model whose file leaves them open.
    pub input_size: Option<(usize, usize)>,
    /// A labelled export to gate decisions on (`--cases`).
    pub cases: Option<CasesOptions>,
}

/// What `init` wrote and measured.
#[derive(Debug, Clone)]
pub struct Scaffold {
    /// Files written, relative to the bundle directory.
    pub files: Vec<PathBuf>,
    /// p99 of the timed runs at init (ms).
    pub p99_ms: f64,
    /// The latency budget written into the suite (ms).
    pub budget_ms: f64,
    /// What was recognised, measured and set, a line each.
    pub notes: Vec<String>,
}

/// Timed runs at init; the suite's latency budget is 4× their p99 (at least 10 ms): a
/// starting point with room for a busy machine, to be tightened on the target board.
const TIMED_RUNS: usize = 20;

/// Writes a new bundle for the ONNX file `model` into `dir` (which must not exist or be
/// empty): the model, `bundle.toml` (`kind = "raw"`), a test-pattern case, a boot suite and
/// the golden outputs of the pattern. On an error nothing is left behind.
pub fn init(model: &Path, dir: &Path, options: &InitOptions) -> Result<Scaffold> {
    let not_empty = std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(false);
    if not_empty || dir.is_file() {
        return Err(Error::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not empty: init writes a new bundle",
            ),
        ));
    }
    let summary = OnnxSummary::read(model)?;
    if let Some(op) = &summary.unsupported {
        return Err(Error::model(model, format!("unsupported ONNX operator {op}")));
    }
    let stem = model.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let name = options.name.clone().unwrap_or(stem);
    let created = !dir.exists();
    let result = match &options.cases {
        Some(cases) => from_cases::write(model, dir, &name, &summary, options.input_size, cases),
        None => {
            let extra = "\n[suites]\nboot = \"suite.toml\"\n";
            let manifest = summary
                .complete_manifest(&name, options.input_size, extra)
                .map_err(|m| Error::model(model, m))?;
            write(model, dir, &name, &manifest)
        }
    };
    if result.is_err() {
        // Leave nothing half-made: what init created goes, a directory it was given stays.
        let _ = if created { std::fs::remove_dir_all(dir) } else { clear(dir) };
    }
    result
}

fn write(model_file: &Path, dir: &Path, name: &str, manifest: &str) -> Result<Scaffold> {
    let io = |p: &Path, e: std::io::Error| Error::io(p, e);
    std::fs::create_dir_all(dir.join("cases")).map_err(|e| io(dir, e))?;
    let file = model_file.file_name().map_or("model.onnx".into(), |f| f.to_owned());
    std::fs::copy(model_file, dir.join(&file)).map_err(|e| io(&dir.join(&file), e))?;
    std::fs::write(dir.join(MANIFEST_FILE), manifest)
        .map_err(|e| io(&dir.join(MANIFEST_FILE), e))?;
    // The pattern is made at the input size, so no resampling stands between it and the model.
    let bundle = crate::model::Bundle::open(dir)?;
    let (h, w) = bundle.manifest().input.size();
    let pattern = dir.join("cases/pattern.png");
    test_pattern(w as u32, h as u32)
        .save(&pattern)
        .map_err(|e| Error::model(&pattern, format!("cannot write the test pattern: {e}")))?;
    let model = Model::from_bundle(bundle)?;
    let image = model.load_image(&pattern)?;
    let p99 = time_p99(&model, &image)?;
    let budget = (p99 * 4.0).max(10.0).ceil();
    let suite_path = dir.join("suite.toml");
    std::fs::write(&suite_path, suite_text(name, p99, budget)).map_err(|e| io(&suite_path, e))?;
    let suite = Suite::load(&suite_path)?;
    let (cases, golden_path) = parity_cases(&suite);
    let golden = record(&model, &suite, &cases)?;
    golden.save(&golden_path.unwrap_or_else(|| dir.join("golden.json")))?;
    let files = [file.into(), MANIFEST_FILE.into(), "suite.toml".into(), "golden.json".into()]
        .into_iter()
        .chain(std::iter::once(PathBuf::from("cases/pattern.png")))
        .collect();
    Ok(Scaffold { files, p99_ms: p99, budget_ms: budget, notes: vec![] })
}

/// The p99 of [`TIMED_RUNS`] runs on `image` after three warm-up runs (ms).
fn time_p99(model: &Model, image: &image::DynamicImage) -> Result<f64> {
    let mut ms = Vec::with_capacity(TIMED_RUNS);
    for i in 0..TIMED_RUNS + 3 {
        let start = Instant::now();
        model.infer(image, DecodeOptions::default())?;
        if i >= 3 {
            ms.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    ms.sort_by(f64::total_cmp);
    Ok(nearest_rank(&ms, 0.99))
}

fn clear(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

fn suite_text(name: &str, p99: f64, budget: f64) -> String {
    let checks = budget_checks("pattern", p99, budget, &["pattern".to_string()]);
    format!(
        r#"# Written by `preflight init`: it proves the model loads and runs on this hardware, as
# fast as when the bundle was made (latency, cold start, memory) and with the same numbers
# (parity against golden.json, recorded at init). It checks no decisions: for that, set
# [output] kind in bundle.toml (classification, detection, segmentation, ctc), fix the
# normalisation, add labelled cases and accuracy or invariance checks (docs/own-model.md in
# preflight's repository). Re-record golden.json (`preflight record`) whenever the model or its inputs change.
name = "{name}-boot"
description = "The model runs here within its latency budget and with the outputs recorded at init."

[[cases]]
id = "pattern"
image = "cases/pattern.png"
tags = ["pattern"]

{checks}"#
    )
}

/// A deterministic picture with something for every kind of filter to respond to: colour
/// ramps, a checkerboard of fine and coarse squares, a disc and a diagonal edge.
fn test_pattern(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w.max(1), h.max(1), |x, y| {
        let (fx, fy) = (x as f32 / w.max(1) as f32, y as f32 / h.max(1) as f32);
        let (cx, cy) = (fx - 0.65, fy - 0.35);
        if cx * cx + cy * cy < 0.03 {
            return Rgb([230, 60, 40]);
        }
        if fx < 0.5 && fy > 0.5 {
            let cell = if fx < 0.25 { 2 } else { 8 };
            let on = ((x / cell) + (y / cell)) % 2 == 0;
            return if on { Rgb([250, 250, 250]) } else { Rgb([10, 10, 10]) };
        }
        if fx > fy + 0.3 {
            return Rgb([40, 80, 200]);
        }
        Rgb([(fx * 255.0) as u8, (fy * 255.0) as u8, ((1.0 - fx) * 160.0) as u8])
    })
}

/// Latency, parity, cold start and memory: what every scaffolded suite gates.
fn budget_checks(case: &str, p99: f64, budget: f64, parity: &[String]) -> String {
    let ids: Vec<String> = parity.iter().map(|i| format!("{i:?}")).collect();
    let ids = ids.join(", ");
    format!(
        r#"
[[checks]]
name = "latency-p99"
kind = "latency"
severity = "critical"
description = "End-to-end p99 on case {case} within budget (measured {p99:.2} ms at init; 4x headroom, at least 10 ms: tighten it on the target board)."
stat = "p99"
case = {case:?}
warmup = 3
iterations = 20
threshold = {budget:.1}

[[checks]]
name = "parity"
kind = "parity"
severity = "major"
description = "Raw outputs match those recorded at init (approximate: what other CPUs are held to)."
golden = "golden.json"
tolerance = "approximate"
cases = [{ids}]

[[checks]]
name = "cold-start"
kind = "cold_start"
severity = "minor"
description = "Bundle open to first result."
threshold = 5000.0

[[checks]]
name = "peak-memory"
kind = "memory"
severity = "minor"
description = "Peak resident memory of the whole process."
threshold = 1024.0
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_deterministic_and_varied() {
        let a = test_pattern(64, 48);
        assert_eq!(a, test_pattern(64, 48));
        let colours: std::collections::HashSet<[u8; 3]> = a.pixels().map(|p| p.0).collect();
        assert!(colours.len() > 100, "{}", colours.len());
        assert_eq!(test_pattern(0, 0).dimensions(), (1, 1));
    }
}
