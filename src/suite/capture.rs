//! Cases captured live at check time: a case may name a command (`capture = ["cmd", ...]`)
//! that writes a frame from the unit's own camera, so the sensor, lens and ISP are part of
//! what the suite proves, not only stored images. Commands run only when the operator allows
//! it (`--allow-capture`, or `allow_capture = true` in the target profile), from the suite's
//! directory, with `{out}` in their arguments (and `$PREFLIGHT_CAPTURE_OUT`) naming the file
//! to write, within a timeout.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::spec::Suite;
use crate::error::{Error, Result};

/// Default time a capture command may take.
pub const DEFAULT_CAPTURE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a case is captured.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// The command and its arguments; `{out}` is replaced by the file to write.
    pub command: Vec<String>,
    /// How long it may take before it is killed.
    pub timeout: Duration,
}

impl Suite {
    /// Whether any case is captured at check time.
    pub fn captures(&self) -> bool {
        self.cases.iter().any(|c| c.capture.is_some())
    }

    /// Runs every case's capture command, writing its frame into `dir` (created if needed) and
    /// pointing the case at it. Refused, naming the case, unless `allowed`; a command that
    /// fails, times out or writes nothing is an error naming the case.
    pub fn capture_frames(&mut self, dir: &Path, allowed: bool) -> Result<()> {
        let suite_dir = self.path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let file = self.path.clone();
        for (i, case) in self.cases.iter_mut().enumerate() {
            let Some(capture) = &case.capture else { continue };
            let key = format!("cases[{i}].capture");
            if !allowed {
                return Err(Error::config(
                    &file,
                    key,
                    format!(
                        "case {:?} captures a frame with `{}`: pass --allow-capture (or set \
                         allow_capture = true in the target profile) to run it",
                        case.id,
                        capture.command.join(" ")
                    ),
                ));
            }
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            // The command runs from the suite's directory: a relative --capture-dir must not
            // be read from there.
            let dir = std::path::absolute(dir).map_err(|e| Error::io(dir, e))?;
            let out = dir.join(format!("{}.png", case.id));
            let _ = std::fs::remove_file(&out);
            run(capture, &suite_dir, &out).map_err(|m| {
                Error::config(&file, key.clone(), format!("case {:?}: {m}", case.id))
            })?;
            if !out.is_file() {
                return Err(Error::config(
                    &file,
                    key,
                    format!("case {:?}: the command wrote no {}", case.id, out.display()),
                ));
            }
            case.path = out;
        }
        Ok(())
    }
}

fn run(capture: &Capture, cwd: &Path, out: &Path) -> std::result::Result<(), String> {
    let out_text = out.to_string_lossy();
    let args: Vec<String> = capture.command.iter().map(|a| a.replace("{out}", &out_text)).collect();
    let (program, rest) = args.split_first().ok_or("the command is empty")?;
    let mut child = Command::new(program)
        .args(rest)
        .current_dir(cwd)
        .env("PREFLIGHT_CAPTURE_OUT", out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| format!("`{program}`: {e}"))? {
            Some(status) => break status,
            None if started.elapsed() >= capture.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{program}` did not finish within {:.1} s (capture_timeout_s)",
                    capture.timeout.as_secs_f64()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut said = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read as _;
        let _ = err.by_ref().take(4096).read_to_string(&mut said);
    }
    let said = said.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    Err(format!(
        "`{program}` failed ({status}){}",
        if said.is_empty() { String::new() } else { format!(": {said}") }
    ))
}
