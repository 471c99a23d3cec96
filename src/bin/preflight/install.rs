//! `preflight install`, `rollback` and `status`: model updates in the field.

use std::path::Path;
use std::process::ExitCode;

use preflight::device::history;
use preflight::device::install::{InstallOptions, Stage};
use preflight::prelude::*;

use crate::args::Format;

/// Test-only failure injection: `kill:STAGE[:N]` SIGKILLs this process at the Nth hook call
/// of that stage (1 when omitted), `full:copy:N` fails the Nth file copy as a full disk
/// would. The crash-safety tests drive the real binary with it; nothing else should set it.
const FAILPOINT_ENV: &str = "PREFLIGHT_FAILPOINT";

pub(crate) fn install(
    bundle: &Path,
    into: &Path,
    start: StartOptions,
    keep: usize,
    format: Format,
) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let failpoint = Failpoint::from_env();
    let mut calls: std::collections::HashMap<&'static str, usize> = Default::default();
    let mut hook = |stage: Stage, what: &str| -> std::io::Result<()> {
        let name: &'static str = stage.into();
        let n = calls.entry(name).or_default();
        *n += 1;
        if tty && stage != Stage::Copy {
            eprint!("\r\x1b[K{name} {what}");
        }
        failpoint.as_ref().map_or(Ok(()), |f| f.hit(name, *n))
    };
    let options = InstallOptions { start, keep };
    let report = preflight::device::install::install(into, bundle, &options, &mut hook)?;
    if tty {
        eprint!("\r\x1b[K");
    }
    let printed = match format {
        Format::Json => outln!("{}", report.to_json()),
        Format::Text => {
            let mut text = format!("{}: {}\n", report.slot, report.reason);
            for r in &report.regressions {
                text.push_str(&format!(
                    "  regression {} ({}): today {}; new {}\n",
                    r.check,
                    r.severity.name(),
                    r.current,
                    r.new
                ));
            }
            for d in &report.dropped_checks {
                text.push_str(&format!("  not in the new suite: {d} (passes today)\n"));
            }
            for c in report.changed_decisions.iter().take(20) {
                text.push_str(&format!("  case {}: {} -> {}\n", c.case, c.current, c.new));
            }
            if report.changed_decisions.len() > 20 {
                text.push_str(&format!(
                    "  ... {} more changed decisions in reports/{}.json\n",
                    report.changed_decisions.len() - 20,
                    report.slot
                ));
            }
            if let Some(e) = &report.current_error {
                text.push_str(&format!("  the installed bundle could not run its suite: {e}\n"));
            }
            if !report.removed.is_empty() {
                text.push_str(&format!("  removed: {}\n", report.removed.join(", ")));
            }
            out!("{text}")
        }
    };
    match printed {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(if report.switched { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

pub(crate) fn rollback(into: &Path, trust: &TrustPolicy) -> anyhow::Result<ExitCode> {
    let options = StartOptions { trust: trust.clone(), ..Default::default() };
    let done = history::rollback(into, &options)?;
    outln!("rolled back: {} -> {} serves now", done.from, done.to)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn status(into: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let status = history::status(into)?;
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&status)?)?,
        Format::Text => out!("{}", status.to_text())?,
    }
    Ok(ExitCode::SUCCESS)
}

struct Failpoint {
    action: String,
    stage: String,
    nth: usize,
}

impl Failpoint {
    fn from_env() -> Option<Failpoint> {
        let text = std::env::var(FAILPOINT_ENV).ok()?;
        let mut parts = text.split(':');
        let action = parts.next()?.to_string();
        let stage = parts.next()?.to_string();
        let nth = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1);
        Some(Failpoint { action, stage, nth })
    }

    fn hit(&self, stage: &str, n: usize) -> std::io::Result<()> {
        if stage != self.stage || n != self.nth {
            return Ok(());
        }
        match self.action.as_str() {
            "kill" => {
                // A real SIGKILL, as a power cut or the OOM killer would deliver: no unwinding,
                // no destructors, no flush.
                let pid = std::process::id().to_string();
                let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
                std::thread::sleep(std::time::Duration::from_secs(10));
                Ok(())
            }
            "full" => Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device (injected)",
            )),
            _ => Ok(()),
        }
    }
}
