//! `[[datasets]]`: a team's annotation exports read as cases — COCO JSON, YOLO label folders,
//! Pascal VOC XML, one folder per class, CSV — each image a case with its boxes and their classes (or its label),
//! tagged by what the export records: `class:<name>` for each class present,
//! `size:small|medium|large` by COCO's area rule for each box size present, and the fields
//! named in `tags_from` as `<field>:<value>`.
//!
//! Every record is checked as it is read, and an error names the annotation file and the
//! record: a box outside its image, an unknown class, a missing image, a duplicate id.

mod coco;
mod folders;
mod table;
mod voc;
mod yolo;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::spec::Case;
use crate::error::{Error, Result};
use crate::files::resolve;

/// Largest annotation file read (a COCO export of a large set is tens of megabytes).
pub const MAX_ANNOTATION_BYTES: u64 = 64 << 20;
/// Most images one dataset may bring.
pub const MAX_DATASET_IMAGES: usize = 100_000;
/// Most labelled boxes one image may hold (COCO's densest images hold a few hundred).
pub const MAX_BOXES_PER_IMAGE: usize = 10_000;

/// One `[[datasets]]` entry as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    format: Format,
    /// The annotation file (coco, csv) or folder (yolo: the label files; voc: the XML files;
    /// folders: the class folders).
    path: String,
    /// The images' folder, where the format does not say (default: coco and csv, the
    /// annotation file's folder; yolo, `images` beside the labels folder; voc, `JPEGImages`
    /// beside the annotations folder).
    #[serde(default)]
    images: Option<String>,
    /// yolo: the class names, one per line (`classes.txt` as exported; default: `classes.txt`
    /// in the labels folder or beside it).
    #[serde(default)]
    classes: Option<String>,
    /// Tags every case of the dataset gets.
    #[serde(default)]
    tags: Vec<String>,
    /// Fields of each image's record to tag by (`<field>:<value>`).
    #[serde(default)]
    tags_from: Vec<String>,
}

impl DatasetSpec {
    /// An export as `preflight init --cases` names it: `path` and `images` relative to the
    /// folder the export is read from.
    pub fn new(
        format: Format,
        path: String,
        images: Option<String>,
        classes: Option<String>,
    ) -> Self {
        DatasetSpec { format, path, images, classes, tags: vec![], tags_from: vec![] }
    }

    /// The same export with its paths under `prefix` (where `init` copied it).
    pub fn moved(&self, prefix: &str) -> Self {
        let under = |p: &str| if p == "." { prefix.to_string() } else { format!("{prefix}/{p}") };
        DatasetSpec {
            path: under(&self.path),
            images: self.images.as_deref().map(under),
            classes: self.classes.as_deref().map(under),
            ..self.clone()
        }
    }

    /// The export's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The annotation file or folder.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The class list named, if any.
    pub fn classes(&self) -> Option<&str> {
        self.classes.as_deref()
    }

    /// The entry as suite TOML (`[[datasets]]` and its keys), with `tags_from`.
    pub fn to_toml(&self, tags_from: &[String]) -> String {
        let q = |s: &str| toml_string(s);
        let mut out = format!(
            "[[datasets]]\nformat = \"{}\"\npath = {}\n",
            self.format.name(),
            q(&self.path)
        );
        if let Some(images) = &self.images {
            out.push_str(&format!("images = {}\n", q(images)));
        }
        if let Some(classes) = &self.classes {
            out.push_str(&format!("classes = {}\n", q(classes)));
        }
        if !tags_from.is_empty() {
            let list: Vec<String> = tags_from.iter().map(|t| q(t)).collect();
            out.push_str(&format!("tags_from = [{}]\n", list.join(", ")));
        }
        out
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// The export formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// COCO JSON.
    Coco,
    /// YOLO label folders with `classes.txt`.
    Yolo,
    /// Pascal VOC XML.
    Voc,
    /// One folder per class.
    Folders,
    /// A CSV file, a row per box (or per image).
    Csv,
}

impl Format {
    /// Every format, by name.
    pub const ALL: [Format; 5] =
        [Format::Coco, Format::Yolo, Format::Voc, Format::Folders, Format::Csv];

    /// The name suites use.
    pub fn name(self) -> &'static str {
        match self {
            Format::Coco => "coco",
            Format::Yolo => "yolo",
            Format::Voc => "voc",
            Format::Folders => "folders",
            Format::Csv => "csv",
        }
    }
}

/// What a reader found in an export.
struct Read {
    /// The annotation file or folder, for errors about the whole.
    file: PathBuf,
    records: Vec<Record>,
    /// The class names in the export's own order (COCO: by category id; YOLO: `classes.txt`;
    /// folders: by name), where it has one.
    classes: Option<Vec<String>>,
}

/// An export read on its own, outside a suite (`preflight init --cases`).
#[derive(Debug, Clone)]
pub struct Export {
    /// Every image as a case.
    pub cases: Vec<Case>,
    /// The class names in the export's order, or sorted by name where it has none (VOC, CSV).
    pub classes: Vec<String>,
    /// Whether `classes` is the export's own order (a model's class indices follow it).
    pub ordered: bool,
    /// The fields `tags_from` may name, each with the values its records hold.
    pub fields: BTreeMap<String, BTreeSet<String>>,
}

/// Reads the export `spec` describes, its paths relative to `dir` (nothing outside it is
/// read); errors name the export's files as they are.
pub fn read_export(dir: &Path, spec: &DatasetSpec) -> Result<Export> {
    let anchor = dir.join(&spec.path);
    let source = Source { suite: &anchor, dir, key: "--cases".into() };
    let read = read_one(&source, spec)?;
    let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (k, v) in read.records.iter().flat_map(|r| &r.fields) {
        // A class folder's name is its class, not a condition it was taken in.
        if spec.format == Format::Folders && k == "folder" {
            continue;
        }
        fields.entry(k.clone()).or_default().insert(v.clone());
    }
    let mut taken = HashSet::new();
    let cases = cases_of(&source, spec, read.file, read.records, &mut taken)?;
    let (classes, ordered) = match read.classes {
        Some(c) => (c, true),
        None => {
            let names: BTreeSet<&String> =
                cases.iter().flat_map(|c| c.box_classes.iter().chain(c.label.as_ref())).collect();
            (names.into_iter().cloned().collect(), false)
        }
    };
    Ok(Export { cases, classes, ordered, fields })
}

fn read_one(source: &Source, spec: &DatasetSpec) -> Result<Read> {
    match spec.format {
        Format::Coco => coco::read(source, spec),
        Format::Yolo => yolo::read(source, spec),
        Format::Voc => voc::read(source, spec),
        Format::Folders => folders::read(source, spec),
        Format::Csv => table::read(source, spec),
    }
}

/// One image as its export records it.
#[derive(Debug, Clone, Default)]
struct Record {
    /// The case's id (the image's file stem unless the format says).
    id: String,
    /// The image file, inside the suite's directory.
    image: PathBuf,
    /// Labelled boxes `[x0, y0, x1, y1]` in image pixels with their classes.
    boxes: Vec<([f32; 4], String)>,
    /// Classification: the image's class.
    label: Option<String>,
    /// Fields `tags_from` may name, with their values.
    fields: Vec<(String, String)>,
}

/// Where a reader finds its files and reports its errors.
struct Source<'a> {
    /// The suite file.
    suite: &'a Path,
    /// The suite's directory: nothing outside it is read.
    dir: &'a Path,
    /// `datasets[i]`, for errors in the suite's own keys.
    key: String,
}

impl Source<'_> {
    /// A path the suite names, inside its directory.
    fn resolve(&self, field: &str, rel: &str) -> Result<PathBuf> {
        resolve(self.dir, self.suite, &format!("{}.{field}", self.key), rel)
    }

    /// An image an export names: relative to `images`, a regular file, inside the suite's
    /// directory.
    fn image(&self, images: &Path, file: &Path, record: &str, name: &str) -> Result<PathBuf> {
        let path = images.join(name);
        let inside = path
            .canonicalize()
            .ok()
            .zip(self.dir.canonicalize().ok())
            .is_some_and(|(p, d)| p.starts_with(d));
        if !path.is_file() {
            return Err(Error::config(file, record, format!("missing image {}", path.display())));
        }
        if !inside {
            return Err(Error::config(
                file,
                record,
                format!("{} resolves outside the suite's directory", path.display()),
            ));
        }
        Ok(path)
    }
}

/// Checks a box against its image's size (a pixel of slack for exporters' rounding).
fn check_box(file: &Path, record: &str, b: [f32; 4], size: Option<(f32, f32)>) -> Result<[f32; 4]> {
    if b.iter().any(|v| !v.is_finite()) || !(b[2] > b[0] && b[3] > b[1]) {
        return Err(Error::config(file, record, format!("box {b:?} is empty or not a number")));
    }
    if let Some((w, h)) = size {
        if b[0] < -1.0 || b[1] < -1.0 || b[2] > w + 1.0 || b[3] > h + 1.0 {
            return Err(Error::config(
                file,
                record,
                format!("box {b:?} lies outside the {w}x{h} image"),
            ));
        }
    }
    Ok(b)
}

/// COCO's size of a box by its area in pixels: under 32², under 96², or larger.
pub fn size_tag(b: &[f32; 4]) -> &'static str {
    match super::spec::BoxSize::of(b) {
        super::spec::BoxSize::Small => "size:small",
        super::spec::BoxSize::Medium => "size:medium",
        super::spec::BoxSize::Large => "size:large",
    }
}

/// The cases of every `[[datasets]]` entry; `taken` holds the ids already used (by
/// `[[cases]]`), and receives these.
pub(super) fn load_datasets(
    suite: &Path,
    dir: &Path,
    specs: Vec<DatasetSpec>,
    taken: &mut HashSet<String>,
) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for (i, spec) in specs.into_iter().enumerate() {
        let source = Source { suite, dir, key: format!("datasets[{i}]") };
        let read = read_one(&source, &spec)?;
        cases.extend(cases_of(&source, &spec, read.file, read.records, taken)?);
    }
    Ok(cases)
}

/// One export's records as cases, checked as a whole.
fn cases_of(
    source: &Source,
    spec: &DatasetSpec,
    file: PathBuf,
    records: Vec<Record>,
    taken: &mut HashSet<String>,
) -> Result<Vec<Case>> {
    if records.is_empty() {
        return Err(Error::config(
            source.suite,
            &source.key,
            format!("{} holds no image", file.display()),
        ));
    }
    if records.len() > MAX_DATASET_IMAGES {
        return Err(Error::config(
            &file,
            "(images)",
            format!("{} images, more than {MAX_DATASET_IMAGES}", records.len()),
        ));
    }
    for field in &spec.tags_from {
        if !records.iter().any(|r| r.fields.iter().any(|(k, _)| k == field)) {
            return Err(Error::config(
                source.suite,
                format!("{}.tags_from", source.key),
                format!("no record of {} has a field {field:?}", file.display()),
            ));
        }
    }
    let mut cases = Vec::with_capacity(records.len());
    for r in records {
        if !taken.insert(r.id.clone()) {
            return Err(Error::config(&file, &r.id, format!("duplicate case id {:?}", r.id)));
        }
        cases.push(case_of(r, spec));
    }
    Ok(cases)
}

/// A record as a case, with the tags the dataset gives it.
fn case_of(r: Record, spec: &DatasetSpec) -> Case {
    let mut tags: Vec<String> = spec.tags.clone();
    let classes: BTreeSet<&str> =
        r.boxes.iter().map(|(_, c)| c.as_str()).chain(r.label.as_deref()).collect();
    tags.extend(classes.iter().map(|c| format!("class:{c}")));
    let sizes: BTreeSet<&str> = r.boxes.iter().map(|(b, _)| size_tag(b)).collect();
    tags.extend(sizes.iter().map(|s| s.to_string()));
    for field in &spec.tags_from {
        for (k, v) in &r.fields {
            if k == field {
                tags.push(format!("{k}:{v}"));
            }
        }
    }
    let detection = r.label.is_none();
    Case {
        id: r.id,
        path: r.image,
        tags,
        objects: detection.then_some(r.boxes.len()),
        boxes: r.boxes.iter().map(|(b, _)| *b).collect(),
        box_classes: r.boxes.into_iter().map(|(_, c)| c).collect(),
        label: r.label,
        text: None,
        capture: None,
    }
}

#[cfg(test)]
mod tests;
