//! `preflight check`: the suite on this hardware, the gate, and the report files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use preflight::device::display::ScreenSize;
use preflight::files::write_atomically;
use preflight::prelude::*;

use crate::args::Format;

/// Failing cases pictured in the HTML report: per check, and in all (each is two small PNGs).
const EVIDENCE_PER_CHECK: usize = 2;
const EVIDENCE_TOTAL: usize = 16;

/// Files `check` writes besides stdout.
pub(crate) struct Outputs {
    pub(crate) report: Option<PathBuf>,
    pub(crate) junit: Option<PathBuf>,
    pub(crate) html: Option<PathBuf>,
    pub(crate) metrics: Option<PathBuf>,
    pub(crate) screen: Option<(PathBuf, ScreenSize)>,
}

pub(crate) fn check(
    dir: &Path,
    options: &StartOptions,
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
    // A pipeline's failing cases are whole pages: the HTML report lists them without pictures.
    let (report, evidence_of) = if preflight::model::pipeline::is_pipeline(dir) {
        let (_, report) = preflight::device::pipeline::check_pipeline(dir, options, &mut progress)?;
        (report, None)
    } else {
        let (model, suite, report) =
            preflight::device::runtime::check(dir, options, &mut progress)?;
        (report, Some((model, suite)))
    };
    // Write the files before printing, so a closed stdout never loses a report.
    if let Some(p) = &outputs.report {
        write_atomically(p, report.to_json().as_bytes())?;
    }
    if let Some(p) = &outputs.junit {
        write_atomically(p, report.to_junit().as_bytes())?;
    }
    if let Some(p) = &outputs.html {
        let evidence = evidence_of.as_ref().map_or_else(Vec::new, |(model, suite)| {
            preflight::suite::evidence::failing_cases(
                model,
                suite,
                &report,
                EVIDENCE_PER_CHECK,
                EVIDENCE_TOTAL,
            )
        });
        write_atomically(p, report.to_html(&evidence).as_bytes())?;
    }
    if let Some(p) = &outputs.metrics {
        write_atomically(p, report.to_prometheus().as_bytes())?;
    }
    if let Some((p, size)) = &outputs.screen {
        let img = preflight::device::display::render(&report, None, *size);
        let mut png = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .with_context(|| format!("{}: cannot encode the screen", p.display()))?;
        write_atomically(p, &png)?;
    }
    // A closed stdout (`| head`) loses only the printout: the files are written and the exit
    // code is still the verdict's.
    let printed = match format {
        Format::Json => outln!("{}", report.to_json()),
        Format::Text => out!("{}", report.to_text()),
    };
    match printed {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    if report.verdict == Verdict::Degraded && report.serving_allowed {
        log::warn!("verdict degraded: a major check does not hold (use --strict to refuse)");
    }
    Ok(if report.serving_allowed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
