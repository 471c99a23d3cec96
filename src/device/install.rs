//! Installing a model in the field: copy the new bundle into a slot, verify it, prove it on
//! this hardware, compare it with the bundle that serves today, and only then switch.
//!
//! The gate for an update is stricter than the gate for a boot: besides passing its own suite,
//! the new bundle may not fail a critical or major check that passes with the installed one
//! today (same check name, same tier, run on this board in the same install). The decisions
//! that change on the cases both suites share are listed in the install report, so a person
//! sees what an update changes before a fleet does.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::history::prune;
use super::runtime::{check, StartOptions};
use super::slots::{copy_file, copy_tree, current_slot, LogEntry, Root, REPORTS};
use crate::error::{Error, Result};
use crate::files::write_atomically;
use crate::model::bundle::{Bundle, BUNDLED_CACHE_DIR};
use crate::model::signature::{hash_file, verify};
use crate::model::{DecodeOptions, Model, Prediction};
use crate::suite::inputs::parallel;
use crate::suite::report::{Report, Started};
use crate::suite::spec::{Case, Severity, Suite};

/// Schema name of the install report.
pub const INSTALL_SCHEMA: &str = "preflight-install/1";

/// How to install.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// How both suites run (tier, target, trust policy, jobs, seed, strict).
    pub start: StartOptions,
    /// Slots kept after a switch, the new one included (at least 1; default 2: the new one
    /// and the one to roll back to).
    pub keep: usize,
}

impl Default for InstallOptions {
    fn default() -> InstallOptions {
        InstallOptions { start: StartOptions::default(), keep: 2 }
    }
}

/// A step of an install, reported to the caller's hook before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Stage {
    /// Copying a file into the new slot (the hook gets its path inside the bundle).
    Copy,
    /// Checking the copy: hashes, manifest, signature.
    Verify,
    /// Running the new bundle's suite, then the installed one's.
    Suite,
    /// Comparing checks and decisions.
    Compare,
    /// The new link exists; `current` is about to be replaced by it.
    Switch,
    /// `current` names the new slot; the log and clean-up follow.
    Switched,
}

/// A check that passes with the installed bundle and fails with the new one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Regression {
    /// Check name.
    pub check: String,
    /// Its severity in the installed bundle's suite.
    pub severity: Severity,
    /// What the installed bundle measured.
    pub current: String,
    /// What the new bundle measured.
    pub new: String,
}

/// A case both suites share whose decision differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangedDecision {
    /// Case id.
    pub case: String,
    /// The installed bundle's decision.
    pub current: String,
    /// The new bundle's decision.
    pub new: String,
}

/// What an install did and why.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// Always [`INSTALL_SCHEMA`].
    pub schema: &'static str,
    /// The new slot's name.
    pub slot: String,
    /// Where the bundle came from.
    pub source: String,
    /// Whether `current` now names the new slot.
    pub switched: bool,
    /// The slot that served before (none on a first install).
    pub previous: Option<String>,
    /// One line: why it switched or was refused.
    pub reason: String,
    /// Critical or major checks that pass with the installed bundle and fail with the new.
    pub regressions: Vec<Regression>,
    /// Critical or major checks passing today that the new suite no longer has.
    pub dropped_checks: Vec<String>,
    /// Cases both suites share whose decision changed.
    pub changed_decisions: Vec<ChangedDecision>,
    /// How many shared cases were compared.
    pub compared_cases: usize,
    /// What this install removed: leftovers of earlier crashes, slots past `keep`.
    pub removed: Vec<String>,
    /// The new bundle's self-test on this hardware.
    pub new: Report,
    /// The installed bundle's self-test, run in the same install (absent on a first
    /// install, or when it could not run: `current_error` says why).
    pub current: Option<Report>,
    /// Why the installed bundle's suite could not run, if it could not.
    pub current_error: Option<String>,
}

impl InstallReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an install report serializes")
    }
}

/// Installs the bundle in `source` into the install root `dir` (created if needed). Returns
/// the report whether it switched or was refused; an error means nothing was switched and
/// the new slot is gone (the log says so when it got that far). `hook` is called before each
/// stage; an error from it stops the install there, as a failed write would.
pub fn install(
    dir: &Path,
    source: &Path,
    options: &InstallOptions,
    hook: &mut dyn FnMut(Stage, &str) -> std::io::Result<()>,
) -> Result<InstallReport> {
    let started = Started::now();
    // The log names where a bundle came from, wherever the command was run.
    let source_name = source.canonicalize().unwrap_or_else(|_| source.to_path_buf());
    let root = Root::lock(dir, true)?;
    let removed = root.clean()?;
    let policy = options.start.trust_policy()?;
    let bundle = Bundle::open(source)?;
    verify(&bundle, &policy)?;
    let manifest = bundle.manifest();
    let name = root.next_slot(&manifest.name, &manifest.version)?;

    let staging = root.staging(&name);
    let copied = copy_slot(&bundle, &staging, hook).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&staging);
    })?;
    stage(hook, Stage::Verify, "")?;
    let mismatch = verify_copy(&bundle, &staging, &copied);
    if let Err(e) = mismatch.and_then(|()| {
        let copy = Bundle::open(&staging)?;
        verify(&copy, &policy)
    }) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    let slot = root.commit_slot(&name)?;

    let entry = |outcome: &str, previous: Option<String>, reason: String| LogEntry {
        time: started.at().to_string(),
        unix: started.unix(),
        action: "install".into(),
        slot: name.clone(),
        outcome: outcome.into(),
        previous,
        bundle: format!("{} {}", manifest.name, manifest.version),
        model_sha256: bundle.model_sha256().to_string(),
        source: Some(source_name.display().to_string()),
        reason,
    };
    let previous = current_slot(dir)?;
    let judged = judge(&root, &slot, previous.as_deref(), options, hook);
    let mut report = match judged {
        Ok(r) => r,
        Err(e) => {
            let _ = root.remove_slot(&name);
            root.log(&entry("refused", previous, format!("error: {e}")))?;
            return Err(e);
        }
    };
    report.slot = name.clone();
    report.source = source_name.display().to_string();
    report.removed = removed;
    std::fs::create_dir_all(dir.join(REPORTS)).map_err(|e| Error::io(dir.join(REPORTS), e))?;
    if !report.switched {
        write_atomically(&root.report(&name), report.to_json().as_bytes())?;
        root.remove_slot(&name)?;
        root.log(&entry("refused", previous, report.reason.clone()))?;
        return Ok(report);
    }
    stage(hook, Stage::Switch, "")?;
    root.switch(&name, &mut || {
        // A crash here leaves the new link unrenamed: `current` is still the old slot.
        let _ = hook(Stage::Switch, "link");
    })?;
    stage(hook, Stage::Switched, "")?;
    report.removed.extend(prune(&root, &name, options.keep.max(1))?);
    write_atomically(&root.report(&name), report.to_json().as_bytes())?;
    root.log(&entry("switched", previous, report.reason.clone()))?;
    Ok(report)
}

fn stage(
    hook: &mut dyn FnMut(Stage, &str) -> std::io::Result<()>,
    stage: Stage,
    what: &str,
) -> Result<()> {
    let name: &'static str = stage.into();
    hook(stage, what).map_err(|e| Error::io(Path::new(name), e))
}

/// Copies the bundle, and a model it reads from the cache, into `to`.
fn copy_slot(
    bundle: &Bundle,
    to: &Path,
    hook: &mut dyn FnMut(Stage, &str) -> std::io::Result<()>,
) -> Result<Vec<String>> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut copied = copy_tree(bundle.dir(), to, &mut |rel| hook(Stage::Copy, rel))?;
    if let Some(rel) = &bundle.manifest().model.cache {
        let dest = to.join(BUNDLED_CACHE_DIR).join(rel);
        if !dest.exists() {
            let parent = dest.parent().unwrap_or(to);
            let rel_path = format!("{BUNDLED_CACHE_DIR}/{rel}");
            std::fs::create_dir_all(parent)
                .and_then(|()| hook(Stage::Copy, &rel_path))
                .and_then(|()| copy_file(bundle.model_path(), &dest))
                .map_err(|e| Error::io(&dest, e))?;
            let mut dir = parent;
            while dir != to {
                super::slots::sync_dir(dir)?;
                dir = dir.parent().unwrap_or(to);
            }
            super::slots::sync_dir(to)?;
            copied.push(rel_path);
        }
    }
    Ok(copied)
}

/// Every copied file has the same bytes as its source (read back after fsync).
fn verify_copy(bundle: &Bundle, copy: &Path, files: &[String]) -> Result<()> {
    for rel in files {
        let from = match rel.strip_prefix(&format!("{BUNDLED_CACHE_DIR}/")) {
            Some(_) if !bundle.dir().join(rel).exists() => bundle.model_path().to_path_buf(),
            _ => bundle.dir().join(rel),
        };
        let to = copy.join(rel);
        if hash_file(&from)? != hash_file(&to)? {
            return Err(Error::io(
                &to,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the copy differs from its source (storage error?)",
                ),
            ));
        }
    }
    Ok(())
}

/// Runs both suites and decides. The report's slot and source are filled by the caller.
fn judge(
    root: &Root,
    slot: &Path,
    current: Option<&str>,
    options: &InstallOptions,
    hook: &mut dyn FnMut(Stage, &str) -> std::io::Result<()>,
) -> Result<InstallReport> {
    stage(hook, Stage::Suite, "new")?;
    let (new_model, new_suite, new) = check(slot, &options.start, &mut |_, _, _| {})?;
    let mut report = InstallReport {
        schema: INSTALL_SCHEMA,
        slot: String::new(),
        source: String::new(),
        switched: false,
        previous: current.map(str::to_string),
        reason: String::new(),
        regressions: Vec::new(),
        dropped_checks: Vec::new(),
        changed_decisions: Vec::new(),
        compared_cases: 0,
        removed: Vec::new(),
        new,
        current: None,
        current_error: None,
    };
    let installed = match current {
        Some(name) => {
            stage(hook, Stage::Suite, "current")?;
            match check(&root.slot(name), &options.start, &mut |_, _, _| {}) {
                Ok(ran) => Some(ran),
                Err(e) => {
                    report.current_error = Some(e.to_string());
                    None
                }
            }
        }
        None => None,
    };
    stage(hook, Stage::Compare, "")?;
    if let Some((model, suite, current)) = installed {
        compare_checks(&current, &mut report);
        let target_jobs = options.start.target.as_ref().and_then(|t| t.jobs);
        let jobs = options.start.jobs.or(target_jobs).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let (compared, changed) =
            compare_decisions((&model, &suite), (&new_model, &new_suite), jobs);
        report.compared_cases = compared;
        report.changed_decisions = changed;
        report.current = Some(current);
    }
    let verdict = report.new.verdict.name();
    report.reason = if !report.new.serving_allowed {
        format!("refused: the new bundle's own gate refused (verdict {verdict})")
    } else if !report.regressions.is_empty() {
        let names: Vec<&str> = report.regressions.iter().map(|r| r.check.as_str()).collect();
        format!("refused: passing today, failing with the new bundle: {}", names.join(", "))
    } else {
        report.switched = true;
        let against = match (&report.current, &report.current_error) {
            (Some(_), _) => format!(
                "no regression against the installed bundle, {} of {} shared cases decided \
                 differently",
                report.changed_decisions.len(),
                report.compared_cases
            ),
            (None, Some(_)) => "the installed bundle could not run its suite".into(),
            (None, None) => "first install".into(),
        };
        format!("switched: verdict {verdict}; {against}")
    };
    Ok(report)
}

/// Fills regressions and dropped checks: critical and major checks passing today.
fn compare_checks(current: &Report, report: &mut InstallReport) {
    for old in current.checks.iter().filter(|c| c.severity <= Severity::Major) {
        if old.passed != Some(true) {
            continue;
        }
        match report.new.checks.iter().find(|c| c.name == old.name) {
            Some(new) if new.passed == Some(false) => report.regressions.push(Regression {
                check: old.name.clone(),
                severity: old.severity,
                current: old.detail.clone(),
                new: new.detail.clone(),
            }),
            Some(_) => {}
            None => report.dropped_checks.push(old.name.clone()),
        }
    }
}

/// Runs both models on the cases both suites name (same id), on `jobs` threads, and lists
/// differing decisions.
fn compare_decisions(
    old: (&Model, &Suite),
    new: (&Model, &Suite),
    jobs: usize,
) -> (usize, Vec<ChangedDecision>) {
    let pairs: Vec<(&PathBuf, &Case)> = new
        .1
        .cases
        .iter()
        .filter_map(|c| old.1.cases.iter().find(|o| o.id == c.id).map(|o| (&o.path, c)))
        .collect();
    let decide = |model: &Model, path: &PathBuf| -> Option<String> {
        let image = model.load_image(path).ok()?;
        model.infer(&image, DecodeOptions::default()).ok().and_then(|i| decision(&i.prediction))
    };
    let decided = parallel(&pairs, jobs, |(old_path, case)| {
        Some((decide(old.0, old_path)?, decide(new.0, &case.path)?))
    });
    let mut compared = 0;
    let mut changed = Vec::new();
    for ((_, case), d) in pairs.iter().zip(decided) {
        let Some((old, new)) = d else { continue };
        compared += 1;
        if old != new {
            changed.push(ChangedDecision { case: case.id.clone(), current: old, new });
        }
    }
    (compared, changed)
}

/// What a person compares between two versions: how many objects, which class, which text.
fn decision(p: &Prediction) -> Option<String> {
    match p {
        Prediction::Detections { detections, .. } => Some(match detections.len() {
            1 => "1 object".into(),
            n => format!("{n} objects"),
        }),
        Prediction::Classes { classes } => {
            Some(classes.first().map_or("no class".into(), |c| format!("class {}", c.label)))
        }
        Prediction::Text { text, .. } => Some(format!("text {text:?}")),
        Prediction::Lines { lines } => {
            Some(format!("text {:?}", crate::model::pipeline::page_text(lines)))
        }
        // Undecoded outputs have no decision to compare.
        Prediction::Raw {} => None,
    }
}
