//! CSV: a header row, then a row per image or per box. Column `image` names the file (relative
//! to `images`, default the CSV's folder); `label` makes it a classification set; `x0`, `y0`,
//! `x1`, `y1` (pixels) with `class` make it a detection set, one row per box, an image's rows
//! gathered in order, a row with the box columns empty holding no object. Other columns are
//! fields `tags_from` can name.

use std::collections::HashMap;

use super::{check_box, DatasetSpec, Read, Record, Source, MAX_BOXES_PER_IMAGE};
use crate::error::{Error, Result};
use crate::files::{dir_of, read_bounded};

/// The records of a CSV export; returns the file too, for errors about the whole.
pub(super) fn read(source: &Source, spec: &DatasetSpec) -> Result<Read> {
    let file = source.resolve("path", &spec.path)?;
    let bytes = read_bounded(&file, super::MAX_ANNOTATION_BYTES)?;
    let images = match &spec.images {
        Some(rel) => source.resolve("images", rel)?,
        None => dir_of(&file).to_path_buf(),
    };
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::config(&file, "(header)", e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let Some(image_col) = col("image") else {
        return Err(Error::config(&file, "(header)", "no `image` column"));
    };
    let label_col = col("label");
    let coords = [col("x0"), col("y0"), col("x1"), col("y1")];
    let boxed = coords.iter().all(Option::is_some);
    if !boxed && coords.iter().any(Option::is_some) {
        return Err(Error::config(&file, "(header)", "boxes need all of x0, y0, x1, y1"));
    }
    if boxed == label_col.is_some() {
        return Err(Error::config(
            &file,
            "(header)",
            "give either a `label` column or box columns x0, y0, x1, y1 (with `class`)",
        ));
    }
    let class_col = col("class");
    let mut records: Vec<Record> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, row) in reader.records().enumerate() {
        // Row 1 is the header.
        let at = format!("row {}", n + 2);
        let row = row.map_err(|e| Error::config(&file, &at, e.to_string()))?;
        let cell = |c: usize| row.get(c).map(str::trim).unwrap_or("");
        let name = cell(image_col);
        if name.is_empty() {
            return Err(Error::config(&file, &at, "the `image` cell is empty"));
        }
        let i = match index.get(name) {
            Some(&i) if boxed => i,
            Some(_) => return Err(Error::config(&file, &at, format!("{name} is listed twice"))),
            None => {
                let image = source.image(&images, &file, &at, name)?;
                let id =
                    image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let fields = header
                    .iter()
                    .enumerate()
                    .filter(|&(c, _)| c != image_col)
                    .map(|(c, h)| (h.clone(), cell(c).to_string()))
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                records.push(Record { id, image, fields, ..Record::default() });
                index.insert(name.to_string(), records.len() - 1);
                records.len() - 1
            }
        };
        let record = &mut records[i];
        if let Some(c) = label_col {
            let label = cell(c);
            if label.is_empty() {
                return Err(Error::config(&file, &at, "the `label` cell is empty"));
            }
            record.label = Some(label.to_string());
            continue;
        }
        let values: Vec<&str> = coords.iter().flatten().map(|&c| cell(c)).collect();
        if values.iter().all(|v| v.is_empty()) {
            continue;
        }
        let nums: Option<Vec<f32>> = values.iter().map(|v| v.parse().ok()).collect();
        let Some(b) = nums else {
            return Err(Error::config(&file, &at, format!("box {values:?} is not four numbers")));
        };
        let b = check_box(&file, &at, [b[0], b[1], b[2], b[3]], None)?;
        let class = class_col.map(cell).unwrap_or("").to_string();
        if record.boxes.len() >= MAX_BOXES_PER_IMAGE {
            return Err(Error::config(&file, at, format!("more than {MAX_BOXES_PER_IMAGE} boxes")));
        }
        record.boxes.push((b, class));
    }
    Ok(Read { file, records, classes: None })
}
