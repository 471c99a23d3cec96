//! The `preflight` command: a thin shell over the library. Parses arguments, calls the
//! library, prints, and maps the outcome to an exit code (0 ok, 1 gate failed, 2 error).
//! One file per command; `args` holds the command line.

/// `println!` that returns the write error instead of panicking on a closed stdout.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)
    }};
}

/// `print!` that returns the write error instead of panicking on a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)
    }};
}

mod args;
mod bench;
mod check;
mod inspect;
mod install;
mod logger;
mod perturb;
mod record;
mod run;
mod sign;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{Cli, Command, ScreenArg};
use clap::Parser;
use preflight::device::display::ScreenSize;
use preflight::model::bundle::MANIFEST_FILE;
use preflight::prelude::*;

/// The bundle used when none is named.
const DEFAULT_BUNDLE: &str = "models/blazeface";

fn main() -> ExitCode {
    // tract panics on some malformed models; the library reports those as one-line errors.
    preflight::model::guard::quiet_caught_panics();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are successes, printed as clap formats them.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        // A usage error is one line like every other error (clap's own spreads over two to
        // four: the reason, a tip, the usage, a pointer to --help).
        Err(e) => {
            let text = e.render().to_string();
            let reason = text.lines().next().unwrap_or_default();
            let reason = reason.strip_prefix("error: ").unwrap_or(reason);
            eprintln!("preflight: {reason} (see --help)");
            return ExitCode::from(2);
        }
    };
    logger::init(cli.verbose);
    match dispatch(cli.command) {
        Ok(code) => code,
        // The reader went away (`preflight run ... | head -1`): nothing left to say.
        Err(err)
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("preflight: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run { paths, format, threshold, top, threads, trust } => run::run(
            paths,
            format,
            threshold,
            top,
            threads.map_or(1, usize::from),
            &policy(&trust)?,
        ),
        Command::Inspect { bundle, format, trust } => {
            inspect::inspect(&bundle_dir(bundle), format, &policy(&trust)?)
        }
        Command::Install {
            bundle,
            into,
            tier,
            keep,
            target,
            strict,
            trust,
            jobs,
            seed,
            unit_id,
            format,
        } => {
            let start = StartOptions {
                unit_id,
                target: target.as_deref().map(TargetProfile::find).transpose()?,
                seed,
                tier: tier.into(),
                jobs: jobs.map(usize::from),
                strict,
                trust: policy(&trust)?,
                ..Default::default()
            };
            refuse_pipeline(&bundle, "install")?;
            install::install(&bundle, &into, start, usize::from(keep), format)
        }
        Command::Rollback { into, trust } => install::rollback(&into, &policy(&trust)?),
        Command::Status { into, format } => install::status(&into, format),
        Command::Init {
            model,
            dir,
            name,
            input_size,
            cases,
            format,
            images,
            classes,
            labels,
            margin,
            seed,
            decoder,
        } => {
            use preflight::suite::scaffold::CasesOptions;
            let cases = cases.map(|path| CasesOptions {
                path,
                format: format.map(export_format),
                images,
                classes,
                labels,
                margin,
                seed,
                decoder: decoder.map(|d| match d {
                    args::DecoderArg::YoloV8 => preflight::suite::scaffold::Decoder::YoloV8,
                    args::DecoderArg::YoloV5 => preflight::suite::scaffold::Decoder::YoloV5,
                    args::DecoderArg::Classification => {
                        preflight::suite::scaffold::Decoder::Classification
                    }
                }),
            });
            init(&model, &dir, name, input_size, cases)
        }
        Command::Keygen { name } => sign::keygen(&name),
        Command::Sign { bundle, key } => {
            let dir = bundle_dir(bundle);
            refuse_pipeline(&dir, "sign")?;
            sign::sign(&dir, &key)
        }
        Command::Check {
            bundle,
            suite,
            tier,
            jobs,
            threads,
            target,
            target_mismatch_ok,
            allow_capture,
            capture_dir,
            strict,
            trust,
            seed,
            unit_id,
            report,
            junit,
            html,
            metrics,
            format,
            screen,
            screen_size,
        } => {
            let options = StartOptions {
                target: target.as_deref().map(TargetProfile::find).transpose()?,
                seed,
                suite,
                tier: tier.into(),
                jobs: jobs.map(usize::from),
                threads: threads.map(usize::from),
                strict,
                trust: policy(&trust)?,
                unit_id,
                target_mismatch_ok,
                allow_capture,
                capture_dir,
            };
            let screen = screen.map(|p| {
                let size = match screen_size {
                    ScreenArg::Mono128x64 => ScreenSize::Mono128x64,
                    ScreenArg::Color320x240 => ScreenSize::Color320x240,
                };
                (p, size)
            });
            check::check(
                &bundle_dir(bundle),
                &options,
                check::Outputs { report, junit, html, metrics, screen },
                format,
            )
        }
        Command::Record { bundle, suite, out, envelope, seed } => {
            let dir = bundle_dir(bundle);
            refuse_pipeline(&dir, "record")?;
            if envelope {
                record::envelope(&dir, suite, out, seed)
            } else {
                record::record(&dir, suite, out)
            }
        }
        Command::Perturb { image, name, severity, seed, out } => {
            perturb::perturb(&image, &name, severity, seed, &out)
        }
        Command::Bench { bundle, iterations, warmup, image, threads, profile, format } => {
            let dir = bundle_dir(bundle);
            refuse_pipeline(&dir, "bench")?;
            bench::bench(
                &dir,
                bench::Options {
                    iterations: iterations as usize,
                    warmup: warmup as usize,
                    image,
                    threads: threads.map_or(1, usize::from),
                    profile,
                },
                format,
            )
        }
    }
}

fn init(
    model: &Path,
    dir: &Path,
    name: Option<String>,
    input_size: Option<(usize, usize)>,
    cases: Option<preflight::suite::scaffold::CasesOptions>,
) -> anyhow::Result<ExitCode> {
    use preflight::suite::scaffold::{init, InitOptions};
    let with_cases = cases.is_some();
    let made = init(model, dir, &InitOptions { name, input_size, cases })?;
    let files: Vec<String> = made.files.iter().map(|f| f.display().to_string()).collect();
    if with_cases {
        outln!("wrote {}: {}", dir.display(), files.join(", "))?;
        for n in &made.notes {
            outln!("  {n}")?;
        }
        outln!(
            "measured p99 {:.2} ms; latency budget {} ms\nnext: preflight check {}   (check the \
             normalisation in bundle.toml against the model's training code)",
            made.p99_ms,
            made.budget_ms,
            dir.display()
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "wrote {}: {}\nmeasured p99 {:.2} ms on the test pattern; latency budget {} ms\n\
         next: preflight check {}   (then set [output] kind and the normalisation in bundle.toml, \
         and add labelled cases)",
        dir.display(),
        files.join(", "),
        made.p99_ms,
        made.budget_ms,
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The trust policy of `--trust` files.
fn policy(keys: &[PathBuf]) -> anyhow::Result<TrustPolicy> {
    let keys = keys.iter().map(|p| PublicKey::read(p)).collect::<Result<Vec<_>, _>>()?;
    Ok(TrustPolicy { keys })
}

/// The bundle named, else the default one; an install root stands for its `current` slot.
pub(crate) fn bundle_dir(given: Option<PathBuf>) -> PathBuf {
    preflight::device::slots::serving_dir(&given.unwrap_or_else(default_bundle))
}

/// The bundle used when none is named: `$PREFLIGHT_BUNDLE`, else `models/blazeface` in the
/// working directory, else beside the installed binary (`<bin>/models/blazeface` or
/// `<prefix>/share/preflight/models/blazeface`), else the relative path (whose error names it).
pub(crate) fn default_bundle() -> PathBuf {
    if let Some(dir) = std::env::var_os("PREFLIGHT_BUNDLE").filter(|v| !v.is_empty()) {
        return dir.into();
    }
    let here = PathBuf::from(DEFAULT_BUNDLE);
    if is_bundle(&here) {
        return here;
    }
    let installed = std::env::current_exe().ok().and_then(|exe| {
        let bin = exe.parent()?.to_path_buf();
        [bin.join(DEFAULT_BUNDLE), bin.join("../share/preflight").join(DEFAULT_BUNDLE)]
            .into_iter()
            .find(|d| is_bundle(d))
    });
    installed.unwrap_or(here)
}

/// Commands that take one bundle refuse a pipeline by name, pointing at its stages.
pub(crate) fn refuse_pipeline(dir: &Path, command: &str) -> anyhow::Result<()> {
    if preflight::model::pipeline::is_pipeline(dir) {
        anyhow::bail!(
            "{}: a pipeline; `{command}` takes one bundle (give it a stage bundle: `preflight \
             inspect {}` lists them)",
            dir.display(),
            dir.display()
        );
    }
    Ok(())
}

pub(crate) fn is_bundle(path: &Path) -> bool {
    path.join(MANIFEST_FILE).is_file()
}

/// Milliseconds to three decimals, for JSON output.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn export_format(f: args::ExportFormat) -> preflight::suite::scaffold::ExportFormat {
    use preflight::suite::scaffold::ExportFormat as F;
    match f {
        args::ExportFormat::Coco => F::Coco,
        args::ExportFormat::Yolo => F::Yolo,
        args::ExportFormat::Voc => F::Voc,
        args::ExportFormat::Folders => F::Folders,
        args::ExportFormat::Csv => F::Csv,
    }
}
