//! Pascal VOC: one XML file per image (`filename`, `size/width|height`, an `object` per box with
//! `name` and `bndbox/xmin|ymin|xmax|ymax`). VOC counts pixels from 1 and includes both ends, so
//! a box becomes `[xmin − 1, ymin − 1, xmax, ymax]` in preflight's continuous coordinates.

use super::yolo::files_of;
use super::{check_box, DatasetSpec, Read, Record, Source, MAX_BOXES_PER_IMAGE};
use crate::error::{Error, Result};
use crate::files::read_text;

/// The records of a VOC annotation folder; returns the folder too, for errors about the whole.
pub(super) fn read(source: &Source, spec: &DatasetSpec) -> Result<Read> {
    let folder = source.resolve("path", &spec.path)?;
    let images = match &spec.images {
        Some(rel) => source.resolve("images", rel)?,
        None => folder.parent().unwrap_or(&folder).join("JPEGImages"),
    };
    let key = format!("{}.path", source.key);
    let mut records = Vec::new();
    for file in files_of(&folder, source.suite, &key)? {
        if file.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let text = read_text(&file)?;
        let doc = roxmltree::Document::parse(&text)
            .map_err(|e| Error::config(&file, "(xml)", format!("not XML: {e}")))?;
        let root = doc.root_element();
        let Some(name) = text_of(root, "filename") else {
            return Err(Error::config(&file, "filename", "missing"));
        };
        let image = source.image(&images, &file, "filename", &name)?;
        let number = |node, path: &str| -> Result<f32> {
            text_of(node, path)
                .and_then(|t| t.parse::<f32>().ok())
                .ok_or_else(|| Error::config(&file, path, "missing, or not a number"))
        };
        let size = match root.children().find(|c| c.has_tag_name("size")) {
            Some(_) => Some((number(root, "size/width")?, number(root, "size/height")?)),
            None => None,
        };
        let mut record = Record {
            id: image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
            image,
            ..Record::default()
        };
        for field in ["folder", "source/database", "segmented"] {
            if let Some(v) = text_of(root, field) {
                record.fields.push((field.to_string(), v));
            }
        }
        for (i, object) in root.children().filter(|c| c.has_tag_name("object")).enumerate() {
            let at = format!("object[{i}]");
            let Some(class) = text_of(object, "name").filter(|n| !n.is_empty()) else {
                return Err(Error::config(&file, format!("{at}.name"), "missing"));
            };
            let coord = |c: &str| {
                text_of(object, &format!("bndbox/{c}"))
                    .and_then(|t| t.parse::<f32>().ok())
                    .ok_or_else(|| {
                        Error::config(&file, format!("{at}.bndbox.{c}"), "missing, or not a number")
                    })
            };
            let b = [coord("xmin")? - 1.0, coord("ymin")? - 1.0, coord("xmax")?, coord("ymax")?];
            let b = check_box(&file, &at, b, size)?;
            if record.boxes.len() >= MAX_BOXES_PER_IMAGE {
                return Err(Error::config(
                    &file,
                    at,
                    format!("more than {MAX_BOXES_PER_IMAGE} boxes"),
                ));
            }
            record.boxes.push((b, class));
        }
        records.push(record);
    }
    Ok(Read { file: folder, records, classes: None })
}

/// The trimmed text of the element at `path` (`a/b`) below `node`.
fn text_of(node: roxmltree::Node<'_, '_>, path: &str) -> Option<String> {
    let mut at = node;
    for part in path.split('/') {
        at = at.children().find(|c| c.has_tag_name(part))?;
    }
    at.text().map(|t| t.trim().to_string())
}
