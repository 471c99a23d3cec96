//! A suite's `[[cases]]` as written and as resolved: each entry an image, a glob or a capture
//! command, every path kept inside the suite's directory, every id unique, boxes well formed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::spec::Case;
use crate::error::{Error, Result};
use crate::files::resolve;

/// One `[[cases]]` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCase {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    objects: Option<usize>,
    #[serde(default)]
    boxes: Vec<[f32; 4]>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    text: Option<String>,
    /// A command writing the case's frame at check time (`{out}`: the file to write).
    #[serde(default)]
    capture: Option<Vec<String>>,
    #[serde(default)]
    capture_timeout_s: Option<f64>,
}

/// A case's capture command and timeout, checked.
fn capture_of(
    file: &Path,
    key: &dyn Fn(&str) -> String,
    rc: &RawCase,
) -> Result<Option<super::capture::Capture>> {
    let Some(command) = &rc.capture else {
        if rc.capture_timeout_s.is_some() {
            return Err(Error::config(file, key("capture_timeout_s"), "set without `capture`"));
        }
        return Ok(None);
    };
    if command.first().is_none_or(|p| p.trim().is_empty()) {
        return Err(Error::config(file, key("capture"), "the command is empty"));
    }
    if rc.image.is_some() || rc.glob.is_some() {
        return Err(Error::config(
            file,
            key("capture"),
            "give exactly one of `image`, `glob` or `capture`",
        ));
    }
    let timeout = match rc.capture_timeout_s {
        None => super::capture::DEFAULT_CAPTURE_TIMEOUT,
        Some(t) if t.is_finite() && t > 0.0 && t <= 600.0 => std::time::Duration::from_secs_f64(t),
        Some(t) => {
            return Err(Error::config(
                file,
                key("capture_timeout_s"),
                format!("must be within 0..=600 seconds, got {t}"),
            ))
        }
    };
    Ok(Some(super::capture::Capture { command: command.clone(), timeout }))
}

/// The suite's `[[cases]]` as cases: explicit images, globs expanded in sorted order, and
/// captured frames, each path inside the suite's directory, each id once.
pub(super) fn resolve_cases(file: &Path, dir: &Path, raw: Vec<RawCase>) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mut ids = HashSet::new();
    for (i, rc) in raw.into_iter().enumerate() {
        let key = |k: &str| format!("cases[{i}].{k}");
        let capture = capture_of(file, &key, &rc)?;
        let paths: Vec<PathBuf> = match (&rc.image, &rc.glob) {
            // The frame is written at check time; until then the case names where.
            (None, None) if capture.is_some() => {
                let id = rc.id.as_deref().ok_or_else(|| {
                    Error::config(file, format!("cases[{i}]"), "a captured case needs an `id`")
                })?;
                vec![dir.join(format!("{id}.png"))]
            }
            (Some(image), None) => vec![resolve(dir, file, &key("image"), image)?],
            (None, Some(pattern)) => {
                resolve(dir, file, &key("glob"), pattern)?;
                let full = dir.join(pattern);
                let found: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
                    .map_err(|e| Error::config(file, key("glob"), e.to_string()))?
                    .filter_map(|p| p.ok())
                    .collect();
                // Matches obey the same containment as explicit paths: a symlink (or a
                // symlinked directory) leading out of the suite's directory is refused.
                let root = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
                for p in &found {
                    let real = p.canonicalize().map_err(|e| Error::io(p, e))?;
                    if !real.starts_with(&root) {
                        return Err(Error::config(
                            file,
                            key("glob"),
                            format!("{} resolves outside the suite's directory", p.display()),
                        ));
                    }
                }
                if found.is_empty() {
                    return Err(Error::config(
                        file,
                        key("glob"),
                        format!("{pattern:?} matches no file"),
                    ));
                }
                if rc.id.is_some() {
                    return Err(Error::config(
                        file,
                        key("id"),
                        "a glob entry takes its ids from the file names",
                    ));
                }
                found
            }
            _ => {
                return Err(Error::config(
                    file,
                    format!("cases[{i}]"),
                    "give exactly one of `image`, `glob` or `capture`",
                ))
            }
        };
        if rc.boxes.iter().any(|b| !(b[2] > b[0] && b[3] > b[1])) {
            return Err(Error::config(
                file,
                key("boxes"),
                "each box is [x0, y0, x1, y1] with x1 > x0 and y1 > y0",
            ));
        }
        for path in paths {
            let id = match &rc.id {
                Some(id) => id.clone(),
                None => {
                    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
                }
            };
            if !ids.insert(id.clone()) {
                return Err(Error::config(
                    file,
                    format!("cases[{i}]"),
                    format!("duplicate case id {id:?}"),
                ));
            }
            cases.push(Case {
                id,
                path,
                tags: rc.tags.clone(),
                objects: rc.objects.or(if rc.boxes.is_empty() {
                    None
                } else {
                    Some(rc.boxes.len())
                }),
                boxes: rc.boxes.clone(),
                box_classes: vec![],
                label: rc.label.clone(),
                text: rc.text.clone(),
                capture: capture.clone(),
            });
        }
    }
    Ok(cases)
}
