//! COCO JSON (`images`, `annotations`, `categories`): boxes `[x, y, width, height]` in pixels.
//! Crowd regions (`iscrowd: 1`) are not imported: they mark many objects at once and are
//! neither found nor missed.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::{
    check_box, DatasetSpec, Read, Record, Source, MAX_ANNOTATION_BYTES, MAX_BOXES_PER_IMAGE,
};
use crate::error::{Error, Result};
use crate::files::{dir_of, read_bounded};

/// The records of a COCO file; returns the file too, for errors about the whole.
pub(super) fn read(source: &Source, spec: &DatasetSpec) -> Result<Read> {
    let file = source.resolve("path", &spec.path)?;
    let bytes = read_bounded(&file, MAX_ANNOTATION_BYTES)?;
    let root: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::config(&file, "(top level)", format!("not JSON: {e}")))?;
    let images_dir = match &spec.images {
        Some(rel) => source.resolve("images", rel)?,
        None => dir_of(&file).to_path_buf(),
    };
    let list = |key: &str| -> Result<&Vec<Value>> {
        root.get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| Error::config(&file, key, "missing, or not a list"))
    };
    let bad = |record: String, message: String| Error::config(&file, record, message);

    let mut classes: HashMap<i64, String> = HashMap::new();
    for (i, c) in list("categories")?.iter().enumerate() {
        let key = format!("categories[{i}]");
        let id = c.get("id").and_then(Value::as_i64);
        let name = c.get("name").and_then(Value::as_str);
        let (Some(id), Some(name)) = (id, name) else {
            return Err(bad(key, "needs an integer `id` and a `name`".into()));
        };
        if classes.insert(id, name.to_string()).is_some() {
            return Err(bad(key, format!("duplicate category id {id}")));
        }
    }

    let mut order = Vec::new();
    let mut by_id: HashMap<i64, Record> = HashMap::new();
    let mut sizes: HashMap<i64, (f32, f32)> = HashMap::new();
    for (i, img) in list("images")?.iter().enumerate() {
        let key = format!("images[{i}]");
        let id = img.get("id").and_then(Value::as_i64);
        let name = img.get("file_name").and_then(Value::as_str);
        let (Some(id), Some(name)) = (id, name) else {
            return Err(bad(key, "needs an integer `id` and a `file_name`".into()));
        };
        let image = source.image(&images_dir, &file, &key, name)?;
        let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let w = img.get("width").and_then(Value::as_f64);
        let h = img.get("height").and_then(Value::as_f64);
        if let (Some(w), Some(h)) = (w, h) {
            sizes.insert(id, (w as f32, h as f32));
        }
        let mut fields = scalars(img);
        if let Some(attrs) = img.get("attributes") {
            fields.extend(scalars(attrs));
        }
        let record = Record { id: stem, image, fields, ..Record::default() };
        if by_id.insert(id, record).is_some() {
            return Err(bad(key, format!("duplicate image id {id}")));
        }
        order.push(id);
    }

    let mut seen = HashSet::new();
    for (i, a) in list("annotations")?.iter().enumerate() {
        let key = format!("annotations[{i}]");
        if let Some(id) = a.get("id").and_then(Value::as_i64) {
            if !seen.insert(id) {
                return Err(bad(key, format!("duplicate annotation id {id}")));
            }
        }
        let image = a.get("image_id").and_then(Value::as_i64);
        let category = a.get("category_id").and_then(Value::as_i64);
        let bbox: Option<Vec<f64>> = a
            .get("bbox")
            .and_then(Value::as_array)
            .and_then(|b| b.iter().map(Value::as_f64).collect());
        let (Some(image), Some(category), Some(bbox)) = (image, category, bbox) else {
            return Err(bad(key, "needs `image_id`, `category_id` and `bbox`".into()));
        };
        if bbox.len() != 4 {
            return Err(bad(
                key,
                format!("bbox has {} numbers, not [x, y, width, height]", bbox.len()),
            ));
        }
        let Some(class) = classes.get(&category) else {
            return Err(bad(key, format!("unknown category {category}")));
        };
        let Some(record) = by_id.get_mut(&image) else {
            return Err(bad(key, format!("unknown image {image}")));
        };
        if a.get("iscrowd").and_then(Value::as_i64) == Some(1) {
            continue;
        }
        let b = [bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1] + bbox[3]].map(|v| v as f32);
        let b = check_box(&file, &key, b, sizes.get(&image).copied())?;
        if record.boxes.len() >= MAX_BOXES_PER_IMAGE {
            return Err(bad(
                key,
                format!("image {image} holds more than {MAX_BOXES_PER_IMAGE} boxes"),
            ));
        }
        record.boxes.push((b, class.clone()));
    }
    let records = order.into_iter().filter_map(|id| by_id.remove(&id)).collect();
    let mut ids: Vec<(&i64, &String)> = classes.iter().collect();
    ids.sort();
    let classes = ids.into_iter().map(|(_, name)| name.clone()).collect();
    Ok(Read { file, records, classes: Some(classes) })
}

/// An object's scalar fields as text (strings as they are, numbers and booleans written out).
fn scalars(v: &Value) -> Vec<(String, String)> {
    let Some(map) = v.as_object() else { return vec![] };
    let sorted: BTreeMap<&String, &Value> = map.iter().collect();
    sorted
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect()
}
