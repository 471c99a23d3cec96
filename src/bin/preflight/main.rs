//! The `preflight` command: a thin shell over the library. Parses arguments, calls the
//! library, prints, and maps the outcome to an exit code (0 ok, 1 gate failed, 2 error).

mod logger;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use preflight::{DecodeOptions, Model, Percentiles, Prediction};
use serde_json::json;

/// The bundle used when none is named.
const DEFAULT_BUNDLE: &str = "models/blazeface";

#[derive(Parser)]
#[command(
    name = "preflight",
    version,
    about = "Prove a vision model still behaves on this hardware, then serve it."
)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); PREFLIGHT_LOG sets it too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScreenArg {
    /// SSD1306-class monochrome OLED.
    #[value(name = "128x64")]
    Mono128x64,
    /// ILI9341-class colour TFT.
    #[value(name = "320x240")]
    Color320x240,
}

#[derive(Subcommand)]
enum Command {
    /// Run images through a bundle's model and print what it found.
    Run {
        /// [BUNDLE] IMAGE...: the bundle directory is optional (default models/blazeface).
        #[arg(required = true, value_name = "[BUNDLE] IMAGE")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Detection score threshold (overrides the manifest).
        #[arg(long)]
        threshold: Option<f32>,
        /// Keep at most K classes or detections.
        #[arg(long, value_name = "K")]
        top: Option<usize>,
    },
    /// Show a bundle's manifest, the model's inputs and outputs, node counts and hashes.
    Inspect {
        /// Bundle directory.
        bundle: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run the bundle's behaviour suite on this hardware and gate on the verdict.
    ///
    /// Exit 0 pass (or degraded without --strict), 1 the gate failed, 2 could not run.
    Check {
        /// Bundle directory.
        bundle: Option<PathBuf>,
        /// Run this suite instead of the bundle's own (e.g. a full acceptance suite).
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Hardware profile name (see targets/) or a profile .toml file.
        #[arg(long)]
        target: Option<String>,
        /// Treat a degraded verdict as failed.
        #[arg(long)]
        strict: bool,
        /// Seed for perturbations.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the JSON report here (atomically).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Write a JUnit XML report here (atomically).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Render the device status screen to this PNG.
        #[arg(long, value_name = "FILE.png")]
        screen: Option<PathBuf>,
        /// Status screen layout.
        #[arg(long, value_enum, default_value_t = ScreenArg::Mono128x64)]
        screen_size: ScreenArg,
    },
    /// Record golden outputs of the suite's parity cases, for parity checks elsewhere.
    Record {
        /// Bundle directory.
        bundle: Option<PathBuf>,
        /// Suite whose parity checks name the cases (default: the bundle's).
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Output file (default: the golden file the first parity check names).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Write a perturbed copy of an image, to see what a suite's corruption does.
    Perturb {
        /// Input image.
        image: PathBuf,
        /// Perturbation name (brightness, contrast, gamma, gaussian_noise, blur, jpeg,
        /// pixelate, rotate, translate, occlude, flip).
        #[arg(long)]
        name: String,
        /// Severity 1..=5.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
        severity: u8,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output PNG.
        #[arg(long)]
        out: PathBuf,
    },
    /// Time end-to-end inference (p50/p90/p99/max/mean) and cold start.
    Bench {
        /// Bundle directory.
        bundle: Option<PathBuf>,
        /// Timed runs.
        #[arg(long, default_value_t = 100)]
        iterations: usize,
        /// Untimed runs first.
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Image to time (default: a synthetic image of the input size).
        #[arg(long)]
        image: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap exits 2 on usage errors too, but --help/--version are successes.
            return if e.use_stderr() { ExitCode::from(2) } else { ExitCode::SUCCESS };
        }
    };
    logger::init(cli.verbose);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("preflight: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { paths, format, threshold, top } => run(paths, format, threshold, top),
        Command::Inspect { bundle, format } => inspect(&bundle_dir(bundle), format),
        Command::Check {
            bundle,
            suite,
            target,
            strict,
            seed,
            report,
            junit,
            format,
            screen,
            screen_size,
        } => {
            let options = preflight::StartOptions {
                target: target.as_deref().map(preflight::TargetProfile::find).transpose()?,
                seed,
                suite,
                strict,
            };
            let screen = screen.map(|p| {
                let size = match screen_size {
                    ScreenArg::Mono128x64 => preflight::ScreenSize::Mono128x64,
                    ScreenArg::Color320x240 => preflight::ScreenSize::Color320x240,
                };
                (p, size)
            });
            check(&bundle_dir(bundle), &options, Outputs { report, junit, screen }, format)
        }
        Command::Record { bundle, suite, out } => record(&bundle_dir(bundle), suite, out),
        Command::Perturb { image, name, severity, seed, out } => {
            let p: preflight::Perturbation =
                name.parse().map_err(|e: String| anyhow::anyhow!("--name: {e}"))?;
            let img = preflight::load_image(&image)?.to_rgb8();
            p.apply(&img, severity, seed)
                .save(&out)
                .with_context(|| format!("{}: cannot write image", out.display()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { bundle, iterations, warmup, image, format } => {
            bench(&bundle_dir(bundle), iterations, warmup, image, format)
        }
    }
}

fn bundle_dir(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| PathBuf::from(DEFAULT_BUNDLE))
}

fn is_bundle(path: &Path) -> bool {
    path.join(preflight::MANIFEST_FILE).is_file()
}

fn run(
    mut paths: Vec<PathBuf>,
    format: Format,
    threshold: Option<f32>,
    top: Option<usize>,
) -> anyhow::Result<ExitCode> {
    let dir = if is_bundle(&paths[0]) { paths.remove(0) } else { PathBuf::from(DEFAULT_BUNDLE) };
    if paths.is_empty() {
        bail!("{}: no image given after the bundle", dir.display());
    }
    if let Some(t) = threshold {
        if !(0.0..=1.0).contains(&t) {
            bail!("--threshold {t}: must be within 0..=1");
        }
    }
    let model = Model::open(&dir)?;
    let options = DecodeOptions { threshold, top };
    let mut results = Vec::new();
    for path in &paths {
        let inference = model.infer_path(path, options)?;
        let ms = inference.elapsed.as_secs_f64() * 1e3;
        if format == Format::Text {
            print_prediction(path, ms, &inference.prediction);
        }
        let mut entry = serde_json::to_value(&inference.prediction)?;
        if let Some(obj) = entry.as_object_mut() {
            obj.remove("max_score");
            obj.insert("image".into(), json!(path));
            obj.insert("ms".into(), json!(round3(ms)));
        }
        results.push(entry);
    }
    if format == Format::Json {
        let doc = json!({ "bundle": model.bundle().manifest().name, "results": results });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_prediction(path: &Path, ms: f64, prediction: &Prediction) {
    println!("{}  ({ms:.1} ms)", path.display());
    match prediction {
        Prediction::Detections { detections, max_score } => {
            if detections.is_empty() {
                println!("  nothing detected (best score {max_score:.2})");
            }
            for d in detections {
                let [x0, y0, x1, y1] = d.bbox;
                println!("  {:.2}  box [{x0:.0}, {y0:.0}, {x1:.0}, {y1:.0}]", d.score);
            }
        }
        Prediction::Classes { classes } => {
            for c in classes {
                println!("  {:.3}  {}", c.score, c.label);
            }
        }
        Prediction::Text { text, confidence, .. } => {
            println!("  {confidence:.3}  {text:?}");
        }
        Prediction::Raw {} => println!("  (raw outputs; nothing to decode)"),
    }
}

/// Files `check` writes besides stdout.
struct Outputs {
    report: Option<PathBuf>,
    junit: Option<PathBuf>,
    screen: Option<(PathBuf, preflight::ScreenSize)>,
}

fn check(
    dir: &Path,
    options: &preflight::StartOptions,
    outputs: Outputs,
    format: Format,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let mut progress = |done: usize, total: usize, name: &str| {
        // Progress only where a person watches; logs and CI get the report alone.
        if tty {
            if done < total {
                eprint!("\r\x1b[K[{}/{total}] {name}", done + 1);
            } else {
                eprint!("\r\x1b[K");
            }
        }
    };
    let (_, report) = preflight::check(dir, options, &mut progress)?;
    // Write the files before printing, so a closed stdout never loses a report.
    if let Some(p) = &outputs.report {
        preflight::write_atomically(p, report.to_json().as_bytes())?;
    }
    if let Some(p) = &outputs.junit {
        preflight::write_atomically(p, report.to_junit().as_bytes())?;
    }
    if let Some((p, size)) = &outputs.screen {
        let img = preflight::render_screen(&report, None, *size);
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .with_context(|| format!("{}: cannot encode the screen", p.display()))?;
        preflight::write_atomically(p, &png)?;
    }
    match format {
        Format::Json => println!("{}", report.to_json()),
        Format::Text => print!("{}", report.to_text()),
    }
    if report.verdict == preflight::Verdict::Degraded && report.serving_allowed {
        log::warn!("verdict degraded: a major check does not hold (use --strict to refuse)");
    }
    Ok(if report.serving_allowed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn record(dir: &Path, suite: Option<PathBuf>, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let model = Model::open(dir)?;
    let suite_path = match suite.or_else(|| model.bundle().suite_path()) {
        Some(p) => p,
        None => bail!("{}: the bundle has no suite; give one with --suite", dir.display()),
    };
    let suite = preflight::Suite::load(&suite_path)?;
    let parity: Vec<&preflight::ParitySpec> = suite
        .checks
        .iter()
        .filter_map(|c| match &c.kind {
            preflight::CheckKind::Parity(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut cases: Vec<String> = Vec::new();
    for p in &parity {
        for id in &p.cases {
            if !cases.contains(id) {
                cases.push(id.clone());
            }
        }
    }
    if cases.is_empty() {
        bail!("{}: no parity check names cases to record", suite_path.display());
    }
    let out = match out {
        Some(o) => o,
        None => suite_path.parent().unwrap_or(Path::new(".")).join(&parity[0].golden),
    };
    let golden = preflight::record(&model, &suite, &cases)?;
    golden.save(&out)?;
    println!("recorded {} case(s) on {} to {}", cases.len(), golden.recorded_on, out.display());
    Ok(ExitCode::SUCCESS)
}

fn inspect(dir: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let model = Model::open(dir)?;
    let bundle = model.bundle();
    let info = model.engine().info();
    let suite_sha256 = match bundle.suite_path() {
        Some(p) => Some(preflight::sha256_hex(
            &std::fs::read(&p).with_context(|| format!("{}: cannot read suite", p.display()))?,
        )),
        None => None,
    };
    if format == Format::Json {
        let doc = json!({
            "bundle": dir,
            "manifest": bundle.manifest(),
            "model": { "path": bundle.model_path(), "sha256": bundle.model_sha256(), "info": info },
            "suite_sha256": suite_sha256,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    let m = bundle.manifest();
    println!("bundle    {} {} ({})", m.name, m.version, dir.display());
    if !m.description.is_empty() {
        println!("          {}", m.description);
    }
    println!("model     {}", bundle.model_path().display());
    println!("sha256    {}", bundle.model_sha256());
    println!("producer  {} (opset {})", info.producer, info.opset);
    println!(
        "nodes     {} in the ONNX graph, {} in the optimized plan",
        info.onnx_nodes, info.plan_nodes
    );
    for f in &info.fixups {
        println!("fix-up    {f}");
    }
    let i = &m.input;
    println!(
        "input     {:?} {:?} layout {:?}, color {:?}, resize {:?}, scale {}, mean {:?}, std {:?}",
        i.name, i.shape, i.layout, i.color, i.resize, i.scale, i.mean, i.std
    );
    println!("sizes     {}", info.input_sizes);
    if !info.metadata_keys.is_empty() {
        println!("metadata  {}", info.metadata_keys.join(", "));
    }
    for t in &info.inputs {
        println!("  in      {} [{}] {}", t.name, t.shape.join(", "), t.dtype);
    }
    for t in &info.outputs {
        println!("  out     {} [{}] {}", t.name, t.shape.join(", "), t.dtype);
    }
    println!("output    {}", serde_json::to_string(&m.output)?);
    match (bundle.suite_path(), suite_sha256) {
        (Some(p), Some(h)) => println!("suite     {} (sha256 {h})", p.display()),
        _ => println!("suite     none"),
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(
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
        Some(p) => preflight::load_image(p)?,
        None => synthetic_image(dir)?,
    };
    let (model, cold) = preflight::cold_start(dir, &img)?;
    let samples = preflight::measure(&model, &img, warmup, iterations)?;
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
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "{} ({} runs after {} warm-up)",
            model.bundle().manifest().name,
            iterations,
            warmup
        );
        println!(
            "latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}",
            p.p50, p.p90, p.p99, p.max, p.mean
        );
        println!("cold start  {cold_ms:.1} ms (bundle open -> first result)");
    }
    Ok(ExitCode::SUCCESS)
}

/// A deterministic gradient at the model's input size, so bench needs no image file.
fn synthetic_image(dir: &Path) -> anyhow::Result<image::DynamicImage> {
    let bundle = preflight::Bundle::open(dir)?;
    let (h, w) = bundle.manifest().input.size();
    let img = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
        image::Rgb([(x * 255 / w as u32) as u8, (y * 255 / h as u32) as u8, 128])
    });
    Ok(image::DynamicImage::ImageRgb8(img))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
