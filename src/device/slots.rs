//! The on-disk layout of an install root, and the few operations that must survive a power
//! cut: copying a bundle into a slot, switching the `current` link, appending to the log.
//!
//! ```text
//! DIR/current -> slots/0002-blazeface-1.3.0   the bundle that serves (a relative symlink)
//! DIR/slots/0001-blazeface-1.2.0/             one bundle per slot, copied verbatim
//! DIR/reports/0002-blazeface-1.3.0.json       each install's report
//! DIR/install.log                             append-only JSON lines: what happened, when, why
//! DIR/.staging/                               copies in progress; removed by the next install
//! DIR/.lock                                   one install, rollback or clean-up at a time
//! ```
//!
//! Every write is made durable before the step that depends on it: files and directories
//! are fsync'd before a slot is renamed into `slots/`, the new link is renamed over
//! `current` and the root fsync'd, and a log line is fsync'd after it is appended. A crash
//! leaves `current` pointing at a complete slot, old or new; half-copied slots sit in
//! `.staging/` and slots never switched to are removed by the next install.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The link naming the slot that serves.
pub const CURRENT: &str = "current";
/// Directory of installed slots.
pub const SLOTS: &str = "slots";
/// Directory of install reports.
pub const REPORTS: &str = "reports";
/// The install log.
pub const LOG: &str = "install.log";
const STAGING: &str = ".staging";
const LOCK: &str = ".lock";
const NEW_LINK: &str = ".current.new";

/// What one line of the install log records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// When, RFC 3339 UTC.
    pub time: String,
    /// When, Unix seconds.
    pub unix: u64,
    /// `install` or `rollback`.
    pub action: String,
    /// The slot concerned.
    pub slot: String,
    /// `switched` (the slot now serves) or `refused` (it does not; `current` untouched).
    pub outcome: String,
    /// The slot that served before.
    #[serde(default)]
    pub previous: Option<String>,
    /// Bundle name and version of the slot.
    pub bundle: String,
    /// sha256 of the slot's model.
    pub model_sha256: String,
    /// Where the bundle was installed from (installs only).
    #[serde(default)]
    pub source: Option<String>,
    /// Why, in one line: the verdict and the comparison, or the reason for a refusal.
    pub reason: String,
}

/// An install root opened for changes: holds its lock until dropped.
#[derive(Debug)]
pub struct Root {
    dir: PathBuf,
    _lock: std::fs::File,
}

impl Root {
    /// Opens (creating it when `create`) the install root `dir` and takes its lock; another
    /// install, rollback or clean-up under way is an error, not a wait.
    pub fn lock(dir: &Path, create: bool) -> Result<Root> {
        if create {
            std::fs::create_dir_all(dir.join(SLOTS)).map_err(|e| Error::io(dir, e))?;
        } else if !dir.join(SLOTS).is_dir() {
            return Err(not_a_root(dir));
        }
        let path = dir.join(LOCK);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match lock.try_lock() {
            Ok(()) => Ok(Root { dir: dir.to_path_buf(), _lock: lock }),
            Err(std::fs::TryLockError::WouldBlock) => Err(Error::io(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "another install, rollback or clean-up holds this install root",
                ),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of slot `name`.
    pub fn slot(&self, name: &str) -> PathBuf {
        self.dir.join(SLOTS).join(name)
    }

    /// Where a slot is copied before it is complete.
    pub fn staging(&self, name: &str) -> PathBuf {
        self.dir.join(STAGING).join(name)
    }

    /// The slot's install report.
    pub fn report(&self, name: &str) -> PathBuf {
        self.dir.join(REPORTS).join(format!("{name}.json"))
    }

    /// Removes what a crash or a refusal left behind: copies in `.staging/`, a link never
    /// renamed, and slots that never served (no `switched` line names them and `current`
    /// does not). Returns the names removed.
    pub fn clean(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let staging = self.dir.join(STAGING);
        if staging.exists() {
            for name in names(&staging)? {
                remove_tree(&staging.join(&name))?;
                removed.push(format!("{STAGING}/{name}"));
            }
        }
        let link = self.dir.join(NEW_LINK);
        if link.symlink_metadata().is_ok() {
            std::fs::remove_file(&link).map_err(|e| Error::io(&link, e))?;
        }
        let (log, _) = read_log(&self.dir)?;
        let current = current_slot(&self.dir)?;
        let served = super::history::served_order(&log, current.as_deref());
        for name in names(&self.dir.join(SLOTS))? {
            if !served.contains(&name) {
                remove_tree(&self.slot(&name))?;
                removed.push(format!("{SLOTS}/{name}"));
            }
        }
        sync_dir(&self.dir.join(SLOTS))?;
        Ok(removed)
    }

    /// A new slot name: the next number, then the bundle's name and version.
    pub fn next_slot(&self, bundle: &str, version: &str) -> Result<String> {
        let (log, _) = read_log(&self.dir)?;
        let mut taken: Vec<String> = names(&self.dir.join(SLOTS))?;
        taken.extend(log.into_iter().map(|e| e.slot));
        let highest = taken
            .iter()
            .filter_map(|n| n.split('-').next().and_then(|d| d.parse::<u32>().ok()))
            .max()
            .unwrap_or(0);
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' })
                .take(48)
                .collect()
        };
        Ok(format!("{:04}-{}-{}", highest + 1, clean(bundle), clean(version)))
    }

    /// Moves a complete, fsync'd copy from `.staging/` into `slots/`.
    pub fn commit_slot(&self, name: &str) -> Result<PathBuf> {
        let to = self.slot(name);
        std::fs::rename(self.staging(name), &to).map_err(|e| Error::io(&to, e))?;
        sync_dir(&self.dir.join(SLOTS))?;
        sync_dir(&self.dir.join(STAGING))?;
        Ok(to)
    }

    /// Points `current` at slot `name`: a new link renamed over the old one (atomic on
    /// POSIX file systems), then the root fsync'd.
    pub fn switch(&self, name: &str, before_rename: &mut dyn FnMut()) -> Result<()> {
        let link = self.dir.join(NEW_LINK);
        let _ = std::fs::remove_file(&link);
        let target = Path::new(SLOTS).join(name);
        #[cfg(unix)]
        let made = std::os::unix::fs::symlink(&target, &link);
        #[cfg(not(unix))]
        let made: std::io::Result<()> = Err(std::io::ErrorKind::Unsupported.into());
        made.map_err(|e| Error::io(&link, e))?;
        before_rename();
        let current = self.dir.join(CURRENT);
        std::fs::rename(&link, &current).map_err(|e| Error::io(&current, e))?;
        sync_dir(&self.dir)
    }

    /// Appends one line to the install log and fsyncs it.
    pub fn log(&self, entry: &LogEntry) -> Result<()> {
        let path = self.dir.join(LOG);
        let mut line = serde_json::to_string(entry).expect("a log entry serializes");
        line.push('\n');
        let result = (|| {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            f.write_all(line.as_bytes())?;
            f.sync_all()
        })();
        result.map_err(|e| Error::io(&path, e))
    }

    /// Removes slot `name` (after a refusal, or when pruning).
    pub fn remove_slot(&self, name: &str) -> Result<()> {
        remove_tree(&self.slot(name))?;
        sync_dir(&self.dir.join(SLOTS))
    }
}

fn not_a_root(dir: &Path) -> Error {
    Error::io(
        dir,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not an install root (no slots/ directory; `preflight install` makes one)",
        ),
    )
}

/// Whether `dir` looks like an install root (a `slots/` directory).
pub fn is_root(dir: &Path) -> bool {
    dir.join(SLOTS).is_dir()
}

/// The bundle directory to open for `dir`: its `current` slot when `dir` is an install root
/// without a manifest of its own, else `dir` itself.
pub fn serving_dir(dir: &Path) -> PathBuf {
    let manifest = dir.join(crate::model::bundle::MANIFEST_FILE);
    if !manifest.exists() && is_root(dir) && dir.join(CURRENT).symlink_metadata().is_ok() {
        dir.join(CURRENT)
    } else {
        dir.to_path_buf()
    }
}

/// The slot `current` names, if any. A link pointing anywhere but a slot is an error.
pub fn current_slot(dir: &Path) -> Result<Option<String>> {
    let path = dir.join(CURRENT);
    match std::fs::read_link(&path) {
        Ok(target) => {
            let mut parts = target.components();
            let slot = match (parts.next(), parts.next(), parts.next()) {
                (Some(a), Some(b), None) if a.as_os_str() == SLOTS => {
                    b.as_os_str().to_str().map(str::to_string)
                }
                _ => None,
            };
            slot.map(Some).ok_or_else(|| {
                Error::io(
                    &path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("points at {}, not at a slot under {SLOTS}/", target.display()),
                    ),
                )
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// The log's entries, oldest first, and the numbers of lines that could not be read (a line
/// torn by a crash mid-append is skipped, not fatal).
pub fn read_log(dir: &Path) -> Result<(Vec<LogEntry>, Vec<usize>)> {
    let path = dir.join(LOG);
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut entries = Vec::new();
    let mut torn = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match serde_json::from_str(line) {
            Ok(e) => entries.push(e),
            Err(_) => torn.push(i + 1),
        }
    }
    Ok((entries, torn))
}

/// Names of the entries of `dir`, sorted.
pub fn names(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        out.push(entry.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    Ok(out)
}

fn remove_tree(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// fsync of a directory: makes the names created, renamed or removed in it durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| Error::io(dir, e))
}

/// Copies the regular files of `from` into the new directory `to`, each fsync'd, then every
/// directory fsync'd; `each(relative path)` is called before each file and may stop the copy
/// with an error. Symlinks are followed only to files inside `from` (as signing does).
/// Returns the files copied, relative, `/`-separated.
pub fn copy_tree(
    from: &Path,
    to: &Path,
    each: &mut dyn FnMut(&str) -> std::io::Result<()>,
) -> Result<Vec<String>> {
    let root = from.canonicalize().map_err(|e| Error::io(from, e))?;
    let mut copied = Vec::new();
    copy_dir(from, to, &root, "", 0, each, &mut copied)?;
    Ok(copied)
}

fn copy_dir(
    from: &Path,
    to: &Path,
    root: &Path,
    prefix: &str,
    depth: usize,
    each: &mut dyn FnMut(&str) -> std::io::Result<()>,
    copied: &mut Vec<String>,
) -> Result<()> {
    let refuse = |path: &Path, what: &str| {
        Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string()))
    };
    if depth > 16 {
        return Err(refuse(from, "directories nested too deep to install"));
    }
    std::fs::create_dir(to).map_err(|e| Error::io(to, e))?;
    for name in names(from)? {
        let path = from.join(&name);
        let rel = format!("{prefix}{name}");
        let real = path.canonicalize().map_err(|e| Error::io(&path, e))?;
        if !real.starts_with(root) {
            return Err(refuse(&path, "symlink leaves the bundle directory"));
        }
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            copy_dir(&path, &to.join(&name), root, &format!("{rel}/"), depth + 1, each, copied)?;
        } else if meta.is_file() {
            let dest = to.join(&name);
            each(&rel).and_then(|()| copy_file(&path, &dest)).map_err(|e| Error::io(&dest, e))?;
            copied.push(rel);
        } else {
            return Err(refuse(&path, "not a regular file"));
        }
    }
    sync_dir(to)
}

/// Copies one file with its permissions (a capture script stays executable) and fsyncs it.
pub fn copy_file(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut src = std::fs::File::open(from)?;
    let mut dst = std::fs::File::create_new(to)?;
    std::io::copy(&mut src, &mut dst)?;
    dst.set_permissions(src.metadata()?.permissions())?;
    dst.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn entry(slot: &str, outcome: &str) -> LogEntry {
        LogEntry {
            time: "2026-01-01T00:00:00Z".into(),
            unix: 0,
            action: "install".into(),
            slot: slot.into(),
            outcome: outcome.into(),
            previous: None,
            bundle: "b 1".into(),
            model_sha256: "00".into(),
            source: None,
            reason: String::new(),
        }
    }

    /// Regression: an installed capture command lost its executable bit (docs/factory.md).
    #[test]
    fn copied_files_keep_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("grab-frame"), tmp.path().join("copy"));
        std::fs::write(&from, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o750)).unwrap();
        copy_file(&from, &to).unwrap();
        assert_eq!(std::fs::metadata(&to).unwrap().permissions().mode() & 0o777, 0o750);
    }

    #[test]
    fn slot_names_count_up_past_every_name_ever_used() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::lock(tmp.path(), true).unwrap();
        assert_eq!(root.next_slot("face det", "1.0/x").unwrap(), "0001-face_det-1.0_x");
        std::fs::create_dir(root.slot("0004-a-1")).unwrap();
        root.log(&entry("0007-a-2", "refused")).unwrap();
        assert_eq!(root.next_slot("a", "3").unwrap(), "0008-a-3");
    }

    #[test]
    fn a_torn_log_line_is_skipped_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::lock(tmp.path(), true).unwrap();
        root.log(&entry("0001-a-1", "switched")).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(tmp.path().join(LOG)).unwrap();
        f.write_all(b"{\"time\":\"2026").unwrap();
        let (entries, torn) = read_log(tmp.path()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(torn, vec![2]);
    }

    #[test]
    fn clean_keeps_served_and_current_slots_only() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::lock(tmp.path(), true).unwrap();
        for s in ["0001-a-1", "0002-a-2", "0003-a-3"] {
            std::fs::create_dir(root.slot(s)).unwrap();
        }
        std::fs::create_dir_all(root.staging("0004-a-4")).unwrap();
        root.log(&entry("0001-a-1", "switched")).unwrap();
        root.switch("0002-a-2", &mut || {}).unwrap();
        let removed = root.clean().unwrap();
        assert_eq!(removed, vec![".staging/0004-a-4", "slots/0003-a-3"]);
        assert_eq!(names(&tmp.path().join(SLOTS)).unwrap(), vec!["0001-a-1", "0002-a-2"]);
        assert_eq!(current_slot(tmp.path()).unwrap().as_deref(), Some("0002-a-2"));
    }

    #[test]
    fn a_second_lock_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _held = Root::lock(tmp.path(), true).unwrap();
        let err = Root::lock(tmp.path(), false).unwrap_err().to_string();
        assert!(err.contains("another install"), "{err}");
    }

    #[test]
    fn current_must_point_at_a_slot() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", tmp.path().join(CURRENT)).unwrap();
        let err = current_slot(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not at a slot"), "{err}");
    }
}
