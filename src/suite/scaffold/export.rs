//! `init --cases`: the annotation export a team brings, found and checked where it lies (so
//! errors name the team's own files), then copied into the new bundle — only the files it
//! uses: the annotation files, the class list and the images of its cases.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::head::Head;
use crate::suite::datasets::{read_export, DatasetSpec, Export, Format};

/// Where the export is and how to read it.
#[derive(Debug, Clone)]
pub struct CasesOptions {
    /// The export: a COCO or CSV file, a YOLO labels folder (or the folder holding `labels/`
    /// and `images/`), a VOC annotations folder (or the folder holding `Annotations/`), or a
    /// folder of class folders.
    pub path: PathBuf,
    /// Its format; told from `path` when absent.
    pub format: Option<Format>,
    /// The images' folder, where the format's default does not hold.
    pub images: Option<PathBuf>,
    /// YOLO: the class list, where it is not `classes.txt` in or beside the labels.
    pub classes: Option<PathBuf>,
    /// Class names in the model's class order (one per line), where neither the model's file
    /// nor the export orders them.
    pub labels: Option<PathBuf>,
    /// Each accuracy threshold is the fit part's figure less this (or less one labelled
    /// unit's share of the fit part, if that is more).
    pub margin: f64,
    /// Seed of the fit / held-apart split.
    pub seed: u64,
    /// The decoder, where the model's outputs do not say it.
    pub decoder: Option<Decoder>,
}

/// Decoders `init --cases` writes, named where the outputs leave them open (a symbolic
/// candidate count, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// An Ultralytics v8 / YOLO11 head, `[1, 4 + C, N]`.
    YoloV8,
    /// An Ultralytics v5 head, `[1, N, 5 + C]`.
    YoloV5,
    /// Class scores, a softmax applied.
    Classification,
}

impl Decoder {
    /// The head it stands for, scoring `classes` classes.
    pub(super) fn head(self, classes: usize) -> Head {
        match self {
            Decoder::YoloV8 => Head::Yolo { layout: "v8", classes, candidates: 0 },
            Decoder::YoloV5 => Head::Yolo { layout: "v5", classes, candidates: 0 },
            Decoder::Classification => Head::Classification { classes, softmaxed: false },
        }
    }
}

/// An export read in place.
pub(super) struct Located {
    /// The folder its files are copied from, keeping their places below it.
    pub(super) root: PathBuf,
    /// The `[[datasets]]` entry, relative to `root`.
    pub(super) spec: DatasetSpec,
    /// What it holds.
    pub(super) export: Export,
}

/// Finds the export, tells its format and reads it where it lies.
pub(super) fn locate(o: &CasesOptions) -> Result<Located> {
    let path = o.path.canonicalize().map_err(|e| Error::io(&o.path, e))?;
    let (format, path) = match o.format {
        Some(f) => (f, path),
        None => guess(&path)?,
    };
    let (format, path) = descend(format, path);
    // The folder whose files the export names: the annotation file's (COCO, CSV), the one
    // holding the labels or annotations folder (YOLO, VOC), the class folders' own.
    let mut root = match format {
        Format::Coco | Format::Csv | Format::Yolo | Format::Voc => {
            path.parent().map_or_else(|| path.clone(), Path::to_path_buf)
        }
        Format::Folders => path.clone(),
    };
    let extra = [&o.images, &o.classes];
    for p in extra.into_iter().flatten() {
        let p = p.canonicalize().map_err(|e| Error::io(p, e))?;
        root = common_ancestor(&root, &p);
    }
    let rel = |p: &Path| -> String {
        let r = p.strip_prefix(&root).unwrap_or(p).to_string_lossy().replace('\\', "/");
        if r.is_empty() {
            ".".into()
        } else {
            r
        }
    };
    let canon = |p: &Option<PathBuf>| -> Result<Option<String>> {
        p.as_ref()
            .map(|p| p.canonicalize().map(|c| rel(&c)).map_err(|e| Error::io(p, e)))
            .transpose()
    };
    let spec = DatasetSpec::new(format, rel(&path), canon(&o.images)?, canon(&o.classes)?);
    let export = read_export(&root, &spec)?;
    Ok(Located { root, spec, export })
}

/// The format a path's name and contents say.
fn guess(path: &Path) -> Result<(Format, PathBuf)> {
    let ext = |p: &Path| p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if path.is_file() {
        return match ext(path).as_deref() {
            Some("json") => Ok((Format::Coco, path.to_path_buf())),
            Some("csv") => Ok((Format::Csv, path.to_path_buf())),
            _ => Err(not_told(path)),
        };
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let has = |want: &str| entries.iter().any(|p| ext(p).as_deref() == Some(want));
    let sub =
        |name: &str| entries.iter().any(|p| p.is_dir() && p.file_name().is_some_and(|n| n == name));
    if sub("Annotations") || has("xml") {
        return Ok((Format::Voc, path.to_path_buf()));
    }
    if sub("labels") || has("txt") {
        return Ok((Format::Yolo, path.to_path_buf()));
    }
    let jsons: Vec<&PathBuf> =
        entries.iter().filter(|p| ext(p).as_deref() == Some("json")).collect();
    if let [one] = jsons.as_slice() {
        return Ok((Format::Coco, one.to_path_buf()));
    }
    if entries.iter().any(|p| p.is_dir()) {
        return Ok((Format::Folders, path.to_path_buf()));
    }
    Err(not_told(path))
}

fn not_told(path: &Path) -> Error {
    Error::io(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "cannot tell the export's format: give --format coco|yolo|voc|folders|csv",
        ),
    )
}

/// A YOLO or VOC export's root stands for its labels or annotations folder.
fn descend(format: Format, path: PathBuf) -> (Format, PathBuf) {
    let inner = match format {
        Format::Yolo => path.join("labels"),
        Format::Voc => path.join("Annotations"),
        _ => return (format, path),
    };
    if inner.is_dir() {
        (format, inner)
    } else {
        (format, path)
    }
}

fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for (x, y) in a.components().zip(b.components()) {
        if x != y {
            break;
        }
        out.push(x.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(Component::RootDir.as_os_str());
    }
    out
}

/// Copies what the export uses from `from.root` into `to`, each file at its place below the
/// root; returns how many files.
pub(super) fn copy(from: &Located, to: &Path) -> Result<usize> {
    let root = &from.root;
    let mut files: Vec<PathBuf> = from.export.cases.iter().map(|c| c.path.clone()).collect();
    let annotations = root.join(from.spec.path());
    match from.spec.format() {
        Format::Coco | Format::Csv => files.push(annotations),
        Format::Yolo | Format::Voc => {
            let want = if from.spec.format() == Format::Yolo { "txt" } else { "xml" };
            let listed = std::fs::read_dir(&annotations).map_err(|e| Error::io(&annotations, e))?;
            files.extend(
                listed
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == want)),
            );
            // The class list beside the labels, where the reader found it.
            let parent = annotations.parent().unwrap_or(root).join("classes.txt");
            if from.spec.format() == Format::Yolo && parent.is_file() {
                files.push(parent);
            }
        }
        Format::Folders => {}
    }
    if let Some(c) = from.spec.classes() {
        files.push(root.join(c));
    }
    files.sort();
    files.dedup();
    for file in &files {
        let canon = file.canonicalize().map_err(|e| Error::io(file, e))?;
        let rel = canon.strip_prefix(root).map_err(|_| {
            Error::io(
                file,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "lies outside the export"),
            )
        })?;
        let dest = to.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::copy(&canon, &dest).map_err(|e| Error::io(&dest, e))?;
    }
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ancestors() {
        assert_eq!(common_ancestor(Path::new("/a/b/c"), Path::new("/a/b/d")), Path::new("/a/b"));
        assert_eq!(common_ancestor(Path::new("/a"), Path::new("/b")), Path::new("/"));
    }

    #[test]
    fn formats_are_told_from_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.json"), "{}").unwrap();
        std::fs::write(d.join("b.csv"), "").unwrap();
        std::fs::write(d.join("c.bin"), "").unwrap();
        assert_eq!(guess(&d.join("a.json")).unwrap().0, Format::Coco);
        assert_eq!(guess(&d.join("b.csv")).unwrap().0, Format::Csv);
        let e = guess(&d.join("c.bin")).unwrap_err().to_string();
        assert!(e.contains("c.bin") && e.contains("--format"), "{e}");
        std::fs::create_dir_all(d.join("yolo/labels")).unwrap();
        assert_eq!(guess(&d.join("yolo")).unwrap().0, Format::Yolo);
        assert_eq!(descend(Format::Yolo, d.join("yolo")).1, d.join("yolo/labels"));
        std::fs::create_dir_all(d.join("voc/Annotations")).unwrap();
        assert_eq!(guess(&d.join("voc")).unwrap().0, Format::Voc);
        std::fs::create_dir_all(d.join("cls/cat")).unwrap();
        assert_eq!(guess(&d.join("cls")).unwrap().0, Format::Folders);
    }
}
