//! YOLO label folders: one `<image stem>.txt` per image, a line per box — `class cx cy w h`,
//! the centre and size as shares of the image's width and height — and the class names one per
//! line in `classes.txt`. Every image of the images folder is a case; one without a label file
//! (or with an empty one) holds no object, as YOLO trainers read it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{check_box, DatasetSpec, Read, Record, Source, MAX_BOXES_PER_IMAGE};
use crate::error::{Error, Result};
use crate::files::read_text;

/// The image files a folder export holds, by extension: the formats preflight decodes.
pub(super) const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The files of `dir` (not its subfolders), sorted by name.
pub(super) fn files_of(dir: &Path, what: &Path, key: &str) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::config(what, key, format!("{}: {e}", dir.display())))?;
    let mut out: Vec<PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect();
    out.sort();
    Ok(out)
}

pub(super) fn is_image(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The records of a YOLO export; returns the labels folder too, for errors about the whole.
pub(super) fn read(source: &Source, spec: &DatasetSpec) -> Result<Read> {
    let labels = source.resolve("path", &spec.path)?;
    if !labels.is_dir() {
        return Err(Error::config(
            source.suite,
            format!("{}.path", source.key),
            format!("{} is not a folder of label files", labels.display()),
        ));
    }
    let images = match &spec.images {
        Some(rel) => source.resolve("images", rel)?,
        None => labels.parent().unwrap_or(&labels).join("images"),
    };
    let classes_file = match &spec.classes {
        Some(rel) => source.resolve("classes", rel)?,
        None => {
            [labels.join("classes.txt"), labels.parent().unwrap_or(&labels).join("classes.txt")]
                .into_iter()
                .find(|p| p.is_file())
                .ok_or_else(|| {
                    Error::config(
                        source.suite,
                        format!("{}.classes", source.key),
                        format!(
                            "no classes.txt in or beside {}: name the class list",
                            labels.display()
                        ),
                    )
                })?
        }
    };
    let names: Vec<String> = read_text(&classes_file)?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if names.is_empty() {
        return Err(Error::config(&classes_file, "(lines)", "no class names"));
    }
    let key = format!("{}.images", source.key);
    let mut stems: HashMap<String, PathBuf> = HashMap::new();
    let mut records = Vec::new();
    for image in files_of(&images, source.suite, &key)?.into_iter().filter(|p| is_image(p)) {
        let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let name = image.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let image = source.image(&images, source.suite, &key, &name)?;
        if stems.insert(stem.clone(), image.clone()).is_some() {
            return Err(Error::config(&images, &stem, format!("two images named {stem:?}")));
        }
        records.push(Record { id: stem, image, ..Record::default() });
    }
    for file in files_of(&labels, source.suite, &format!("{}.path", source.key))? {
        let is_list = file.file_name().is_some_and(|n| n == "classes.txt") || file == classes_file;
        if file.extension().is_none_or(|e| e != "txt") || is_list {
            continue;
        }
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(record) = records.iter_mut().find(|r| r.id == stem) else {
            return Err(Error::config(
                &file,
                "(file)",
                format!("missing image {stem}.* in {}", images.display()),
            ));
        };
        let (w, h) = image::image_dimensions(&record.image).map_err(|e| {
            Error::config(&file, "(image)", format!("{}: {e}", record.image.display()))
        })?;
        let (w, h) = (w as f32, h as f32);
        for (n, line) in read_text(&file)?.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let key = format!("line {}", n + 1);
            let v: Vec<&str> = line.split_whitespace().collect();
            let nums: Option<Vec<f32>> = v.iter().skip(1).map(|s| s.parse().ok()).collect();
            let class: Option<usize> = v[0].parse().ok();
            let (Some(class), Some(nums)) = (class, nums.filter(|n| n.len() == 4)) else {
                return Err(Error::config(
                    &file,
                    key,
                    format!("{line:?} is not `class cx cy w h` (a box line)"),
                ));
            };
            let Some(name) = names.get(class) else {
                return Err(Error::config(
                    &file,
                    key,
                    format!(
                        "unknown class {class} ({} has {})",
                        classes_file.display(),
                        names.len()
                    ),
                ));
            };
            if nums.iter().any(|v| !(0.0..=1.0).contains(v)) {
                return Err(Error::config(
                    &file,
                    key,
                    format!("{line:?}: coordinates are shares of the image, within 0..=1"),
                ));
            }
            let (cx, cy, bw, bh) = (nums[0] * w, nums[1] * h, nums[2] * w, nums[3] * h);
            let b = [cx - bw / 2.0, cy - bh / 2.0, cx + bw / 2.0, cy + bh / 2.0];
            let b = check_box(&file, &key, b, Some((w, h)))?;
            if record.boxes.len() >= MAX_BOXES_PER_IMAGE {
                return Err(Error::config(
                    &file,
                    key,
                    format!("more than {MAX_BOXES_PER_IMAGE} boxes"),
                ));
            }
            record.boxes.push((b, name.clone()));
        }
    }
    Ok(Read { file: labels, records, classes: Some(names) })
}
