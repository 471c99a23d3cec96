//! What an install root's log says: which slots served and in what order, hence what a
//! rollback returns to, what pruning keeps, and what `status` shows.

use std::path::Path;

use serde::Serialize;

use super::runtime::StartOptions;
use super::slots::{current_slot, names, read_log, LogEntry, Root, SLOTS};
use crate::error::{Error, Result};
use crate::model::bundle::Bundle;
use crate::model::signature::verify;
use crate::suite::report::Started;

/// Slots that served, most recently first: from the log's switches and the slot each one
/// replaced (a crash between a switch and its log line loses only that line), with the slot
/// `current` names first.
pub(crate) fn served_order(entries: &[LogEntry], current: Option<&str>) -> Vec<String> {
    let mut order: Vec<String> = current.map(str::to_string).into_iter().collect();
    for e in entries.iter().rev().filter(|e| e.outcome == "switched") {
        for slot in std::iter::once(&e.slot).chain(e.previous.as_ref()) {
            if !order.contains(slot) {
                order.push(slot.clone());
            }
        }
    }
    order
}

/// After a switch to `current`: removes served slots past the `keep` most recent. Returns
/// the names removed.
pub(crate) fn prune(root: &Root, current: &str, keep: usize) -> Result<Vec<String>> {
    let (entries, _) = read_log(root.dir())?;
    let existing = names(&root.dir().join(SLOTS))?;
    let order: Vec<String> = served_order(&entries, Some(current))
        .into_iter()
        .filter(|s| existing.contains(s))
        .collect();
    let mut removed = Vec::new();
    for name in order.iter().skip(keep) {
        root.remove_slot(name)?;
        removed.push(format!("{SLOTS}/{name}"));
    }
    Ok(removed)
}

/// What a rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollback {
    /// The slot that served before.
    pub from: String,
    /// The slot that serves now.
    pub to: String,
}

/// Switches `current` back to the slot that served before it. The slot's hashes (and its
/// signature, under `options`' trust policy) are checked first; its suite is not re-run: it
/// passed on this hardware when it was installed, and a rollback is the way out of trouble.
pub fn rollback(dir: &Path, options: &StartOptions) -> Result<Rollback> {
    let root = Root::lock(dir, false)?;
    let refuse = |message: &str| {
        Error::io(dir, std::io::Error::new(std::io::ErrorKind::NotFound, message.to_string()))
    };
    let Some(from) = current_slot(dir)? else {
        return Err(refuse("nothing installed: no `current` to roll back from"));
    };
    let (entries, _) = read_log(dir)?;
    let existing = names(&dir.join(SLOTS))?;
    let to = served_order(&entries, Some(&from))
        .into_iter()
        .skip(1)
        .find(|s| existing.contains(s))
        .ok_or_else(|| refuse("no earlier slot to roll back to (installs keep 2 by default)"))?;
    let bundle = Bundle::open(root.slot(&to))?;
    verify(&bundle, &options.trust_policy()?)?;
    root.switch(&to, &mut || {})?;
    let started = Started::now();
    let manifest = bundle.manifest();
    root.log(&LogEntry {
        time: started.at().to_string(),
        unix: started.unix(),
        action: "rollback".into(),
        slot: to.clone(),
        outcome: "switched".into(),
        previous: Some(from.clone()),
        bundle: format!("{} {}", manifest.name, manifest.version),
        model_sha256: bundle.model_sha256().to_string(),
        source: None,
        reason: format!("rolled back from {from}"),
    })?;
    Ok(Rollback { from, to })
}

/// One slot as `status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotStatus {
    /// Slot name.
    pub name: String,
    /// Whether `current` names it.
    pub current: bool,
    /// Bundle name and version (from its log line, else its manifest).
    pub bundle: String,
    /// When it was last switched to, RFC 3339 (none if the log lost that line).
    pub switched_at: Option<String>,
    /// How: `install` or `rollback`.
    pub action: Option<String>,
    /// Why, from the log.
    pub reason: Option<String>,
}

/// The state of an install root, read without its lock (an install may be under way).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// The slot serving, if any.
    pub current: Option<String>,
    /// Installed slots, the current one first, then by when they last served.
    pub slots: Vec<SlotStatus>,
    /// The whole log, oldest first.
    pub log: Vec<LogEntry>,
    /// Log lines that could not be read (torn by a crash mid-write).
    pub unreadable_log_lines: Vec<usize>,
    /// Copies in progress or left by a crash (the next install removes them).
    pub staging: Vec<String>,
}

/// Reads the install root `dir`.
pub fn status(dir: &Path) -> Result<Status> {
    if !super::slots::is_root(dir) {
        return Err(Error::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "not an install root (no slots/ directory; `preflight install` makes one)",
            ),
        ));
    }
    let current = current_slot(dir)?;
    let (log, torn) = read_log(dir)?;
    let existing = names(&dir.join(SLOTS))?;
    let mut order = served_order(&log, current.as_deref());
    order.extend(existing.iter().filter(|s| !order.contains(s)).cloned().collect::<Vec<_>>());
    let slots = order
        .into_iter()
        .filter(|s| existing.contains(s))
        .map(|name| {
            let last = log.iter().rev().find(|e| e.slot == name && e.outcome == "switched");
            let bundle = last.map(|e| e.bundle.clone()).unwrap_or_else(|| {
                Bundle::open(dir.join(SLOTS).join(&name)).map_or_else(
                    |e| format!("unreadable: {e}"),
                    |b| format!("{} {}", b.manifest().name, b.manifest().version),
                )
            });
            SlotStatus {
                current: current.as_deref() == Some(name.as_str()),
                bundle,
                switched_at: last.map(|e| e.time.clone()),
                action: last.map(|e| e.action.clone()),
                reason: last.map(|e| e.reason.clone()),
                name,
            }
        })
        .collect();
    Ok(Status {
        current,
        slots,
        log,
        unreadable_log_lines: torn,
        staging: names(&dir.join(".staging"))?,
    })
}

impl Status {
    /// A table a person reads.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match &self.current {
            Some(c) => out.push_str(&format!("current: {c}\n")),
            None => out.push_str("current: none (nothing installed yet)\n"),
        }
        for s in &self.slots {
            out.push_str(&format!(
                "{} {:<28} {:<24} {:<20} {}\n",
                if s.current { "*" } else { " " },
                s.name,
                s.bundle,
                s.switched_at.as_deref().unwrap_or("-"),
                match (&s.action, &s.reason) {
                    (Some(a), Some(r)) => format!("{a}: {r}"),
                    _ => "not in the log".into(),
                }
            ));
        }
        let refused = self.log.iter().filter(|e| e.outcome == "refused").count();
        out.push_str(&format!(
            "log: {} entries ({} switches, {refused} refused)",
            self.log.len(),
            self.log.len() - refused
        ));
        if let Some(e) = self.log.last() {
            out.push_str(&format!("; last: {} {} {} ({})", e.time, e.action, e.slot, e.outcome));
        }
        out.push('\n');
        if !self.unreadable_log_lines.is_empty() {
            out.push_str(&format!(
                "log lines not readable (a crash mid-write): {:?}\n",
                self.unreadable_log_lines
            ));
        }
        if !self.staging.is_empty() {
            out.push_str(&format!(
                "in .staging (an install under way, or left by a crash; the next install removes \
                 it): {}\n",
                self.staging.join(", ")
            ));
        }
        out
    }
}
