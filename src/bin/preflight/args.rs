//! The command line: every command and flag, with the help text users see.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "preflight",
    version,
    about = "Prove a vision model still behaves on this hardware, then serve it."
)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); PREFLIGHT_LOG sets it too.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ScreenArg {
    /// SSD1306-class monochrome OLED.
    #[value(name = "128x64")]
    Mono128x64,
    /// ILI9341-class colour TFT.
    #[value(name = "320x240")]
    Color320x240,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TierArg {
    Boot,
    Acceptance,
    Recheck,
    Emulated,
}

impl From<TierArg> for preflight::model::manifest::Tier {
    fn from(t: TierArg) -> Self {
        use preflight::model::manifest::Tier;
        match t {
            TierArg::Boot => Tier::Boot,
            TierArg::Acceptance => Tier::Acceptance,
            TierArg::Recheck => Tier::Recheck,
            TierArg::Emulated => Tier::Emulated,
        }
    }
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
        /// Inference threads (0: one per core; default 1).
        #[arg(long, value_parser = clap::value_parser!(u16).range(0..=256))]
        threads: Option<u16>,
        /// Refuse the bundle unless it is signed by this public key (`preflight keygen`);
        /// repeat for several. A target profile's `trusted_keys` add to them.
        #[arg(long, value_name = "KEY.pub")]
        trust: Vec<PathBuf>,
    },
    /// Show a bundle's manifest, the model's inputs and outputs, node counts and hashes; or,
    /// given a bare .onnx file, what it declares and a manifest to start a bundle from.
    Inspect {
        /// Bundle directory, or an .onnx file.
        bundle: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Refuse the bundle unless it is signed by this public key (`preflight keygen`);
        /// repeat for several. A target profile's `trusted_keys` add to them.
        #[arg(long, value_name = "KEY.pub")]
        trust: Vec<PathBuf>,
    },
    /// Make a bundle from a bare ONNX file that `check` runs at once: the model, a manifest
    /// (raw outputs), a test pattern, a suite gating latency and parity, and the golden
    /// outputs of the pattern recorded here.
    Init {
        /// The ONNX file.
        model: PathBuf,
        /// The new bundle's directory (must not exist, or be empty).
        dir: PathBuf,
        /// Bundle name (default: the model file's name).
        #[arg(long)]
        name: Option<String>,
        /// Input height and width (e.g. 384x384), for a model whose file leaves them open.
        #[arg(long, value_name = "HxW", value_parser = parse_size)]
        input_size: Option<(usize, usize)>,
        /// A labelled export (COCO JSON, YOLO labels, VOC XML, class folders, CSV): the suite
        /// then gates decisions per class and per recorded slice, thresholds set by a first
        /// run on the fit part of a seeded split.
        #[arg(long, value_name = "PATH")]
        cases: Option<PathBuf>,
        /// The export's format (default: told from PATH).
        #[arg(long, value_enum, requires = "cases")]
        format: Option<ExportFormat>,
        /// The export's images folder, where its format's default does not hold.
        #[arg(long, value_name = "DIR", requires = "cases")]
        images: Option<PathBuf>,
        /// YOLO: the class list, where it is not classes.txt in or beside the labels.
        #[arg(long, value_name = "FILE", requires = "cases")]
        classes: Option<PathBuf>,
        /// Class names in the model's class order, one per line, where neither the model
        /// file nor the export orders them.
        #[arg(long, value_name = "FILE", requires = "cases")]
        labels: Option<PathBuf>,
        /// Each threshold is the fit part's figure less this (or one labelled unit's share).
        #[arg(long, default_value_t = 0.05, value_parser = parse_margin, requires = "cases")]
        margin: f64,
        /// Seed of the fit / held-apart split.
        #[arg(long, default_value_t = 0, requires = "cases")]
        seed: u64,
        /// The decoder, where the model's outputs do not say it (a YOLO head of symbolic
        /// size, say).
        #[arg(long, value_enum, requires = "cases")]
        decoder: Option<DecoderArg>,
    },
    /// Run the bundle's behaviour suite on this hardware and gate on the verdict.
    ///
    /// Exit 0 pass (or degraded without --strict), 1 the gate failed, 2 could not run.
    Check {
        /// Bundle directory.
        bundle: Option<PathBuf>,
        /// Run this suite instead of the bundle's own.
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Which of the bundle's suites to run: boot (the start-up gate), acceptance (every
        /// corruption, every case), recheck or emulated.
        #[arg(long, value_enum, default_value_t = TierArg::Boot)]
        tier: TierArg,
        /// Threads that make and run the suite's inputs (default: the target's `jobs`, else
        /// one per core). Timed checks always run alone.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Inference threads (0: one per core; default 1, or the target's `threads`).
        #[arg(long, value_parser = clap::value_parser!(u16).range(0..=256))]
        threads: Option<u16>,
        /// Hardware profile name (see targets/) or a profile .toml file.
        #[arg(long)]
        target: Option<String>,
        /// Accept a --target made for another CPU architecture, to preview its thresholds
        /// (the report says so; emulated profiles are refused regardless).
        #[arg(long)]
        target_mismatch_ok: bool,
        /// Run the suite's capture commands (cases captured live from this unit's camera).
        #[arg(long)]
        allow_capture: bool,
        /// Where captured frames are written (default: a new directory under the system's
        /// temp directory, kept as evidence).
        #[arg(long, value_name = "DIR")]
        capture_dir: Option<PathBuf>,
        /// Treat a degraded verdict as failed.
        #[arg(long)]
        strict: bool,
        /// Refuse the bundle unless it is signed by this public key (`preflight keygen`);
        /// repeat for several. A target profile's `trusted_keys` add to them.
        #[arg(long, value_name = "KEY.pub")]
        trust: Vec<PathBuf>,
        /// Seed for perturbations.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The unit under test (a serial number), named in every report; default
        /// $PREFLIGHT_UNIT_ID, else /etc/machine-id.
        #[arg(long, value_name = "ID")]
        unit_id: Option<String>,
        /// Write the JSON report here (atomically).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Write a JUnit XML report here (atomically).
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Write a self-contained HTML report here (atomically): the verdict, how the device
        /// was tested, every check, robustness curves and failing cases as pictures.
        #[arg(long, value_name = "FILE.html")]
        html: Option<PathBuf>,
        /// Write Prometheus metrics here (atomically), e.g. into node_exporter's textfile
        /// collector directory as `preflight.prom`.
        #[arg(long, value_name = "FILE.prom")]
        metrics: Option<PathBuf>,
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
    /// Install a bundle into a slot of an install root, prove it on this hardware against the
    /// one serving, and switch `current` to it only if nothing regressed.
    ///
    /// Exit 0 switched, 1 refused (its gate failed, or a critical or major check that passes
    /// today fails with it; `current` untouched), 2 could not run.
    Install {
        /// The new bundle's directory.
        bundle: PathBuf,
        /// The install root (created if missing): slots/, current, install.log.
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// Which suites gate the install: boot, or acceptance for the full on-hardware test.
        #[arg(long, value_enum, default_value_t = TierArg::Boot)]
        tier: TierArg,
        /// Slots kept after a switch, the new one included.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
        keep: u16,
        /// Hardware profile name (see targets/) or a profile .toml file.
        #[arg(long)]
        target: Option<String>,
        /// Treat a degraded verdict of the new bundle as failed.
        #[arg(long)]
        strict: bool,
        /// Refuse the bundle unless it is signed by this public key; repeat for several.
        #[arg(long, value_name = "KEY.pub")]
        trust: Vec<PathBuf>,
        /// Threads that make and run the suites' inputs.
        #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
        /// Seed for perturbations (both suites use it).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The unit under test (a serial number), named in the reports; default
        /// $PREFLIGHT_UNIT_ID, else /etc/machine-id.
        #[arg(long, value_name = "ID")]
        unit_id: Option<String>,
        /// What to print on stdout.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Switch an install root back to the slot that served before the current one.
    Rollback {
        /// The install root.
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// Refuse to switch unless that slot is signed by this public key.
        #[arg(long, value_name = "KEY.pub")]
        trust: Vec<PathBuf>,
    },
    /// Show an install root's slots, which one serves, and when and why each was installed.
    Status {
        /// The install root.
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Make an ed25519 key pair for signing bundles: NAME.key (secret, mode 0600) and
    /// NAME.pub (give it to devices as --trust or a target's `trusted_keys`).
    Keygen {
        /// Path and name of the two files, without extension.
        #[arg(value_name = "NAME")]
        name: PathBuf,
    },
    /// Sign every file of a bundle (and the model it names) with a secret key, writing
    /// bundle.sig. Sign last: any later change to any file voids the signature.
    Sign {
        /// Bundle directory.
        bundle: Option<PathBuf>,
        /// Secret key file from `preflight keygen`.
        #[arg(long, value_name = "NAME.key")]
        key: PathBuf,
    },
    /// Record golden outputs of the suite's parity cases, for parity checks elsewhere.
    Record {
        /// Bundle directory.
        bundle: Option<PathBuf>,
        /// Suite whose parity checks name the cases (default: the bundle's).
        #[arg(long)]
        suite: Option<PathBuf>,
        /// Output file (default: the golden file the first parity check names; with
        /// --envelope, the manifest's `envelope`).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Record the operating envelope instead: run the suite's robustness checks on this
        /// hardware and write the bounds they prove (default suite: the acceptance tier's,
        /// else the boot suite).
        #[arg(long)]
        envelope: bool,
        /// Seed for perturbations (--envelope).
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Write a perturbed copy of an image, to see what a suite's corruption does.
    Perturb {
        /// Input image.
        image: PathBuf,
        /// Perturbation name: ImageNet-C's gaussian_noise, shot_noise, impulse_noise,
        /// speckle_noise, gaussian_blur, defocus_blur, motion_blur, zoom_blur, fog, brightness,
        /// contrast, saturate, jpeg_compression, pixelate, elastic_transform; or preflight's
        /// low_light, gamma, rotate, translate, occlude, flip, upside_down.
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
        /// Timed runs (at most 100000).
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        iterations: u32,
        /// Untimed runs first (at most 100000).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=100_000))]
        warmup: u32,
        /// Image to time (default: a synthetic image of the input size).
        #[arg(long)]
        image: Option<PathBuf>,
        /// Inference threads (0: one per core; default 1).
        #[arg(long, value_parser = clap::value_parser!(u16).range(0..=256))]
        threads: Option<u16>,
        /// Also time every operator of the plan and name the kernels tract selected on this
        /// CPU (top 10 operators by share of inference time).
        #[arg(long)]
        profile: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// `HxW`, both 1..=16384.
fn parse_size(text: &str) -> Result<(usize, usize), String> {
    let (h, w) = text.split_once(['x', 'X']).ok_or("expected HxW, e.g. 384x384")?;
    let dim = |d: &str| match d.trim().parse::<usize>() {
        Ok(n) if (1..=16384).contains(&n) => Ok(n),
        _ => Err(format!("{d:?} is not a size from 1 to 16384")),
    };
    Ok((dim(h)?, dim(w)?))
}

/// Annotation export formats `init --cases` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ExportFormat {
    Coco,
    Yolo,
    Voc,
    Folders,
    Csv,
}

fn parse_margin(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(m) if (0.0..1.0).contains(&m) => Ok(m),
        _ => Err(format!("{s:?} is not a margin in [0, 1)")),
    }
}

/// Decoders `init --cases` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DecoderArg {
    YoloV8,
    YoloV5,
    Classification,
}
