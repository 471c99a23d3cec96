//! One folder per class (ImageNet's layout, and what most labelling tools export for
//! classification): every image in `<path>/<class>/` is a case labelled `<class>`.

use std::path::PathBuf;

use super::yolo::{files_of, is_image};
use super::{DatasetSpec, Read, Record, Source};
use crate::error::{Error, Result};

/// The records of a class-folder export; returns its root too, for errors about the whole.
pub(super) fn read(source: &Source, spec: &DatasetSpec) -> Result<Read> {
    let root = source.resolve("path", &spec.path)?;
    let key = format!("{}.path", source.key);
    let entries = std::fs::read_dir(&root)
        .map_err(|e| Error::config(source.suite, &key, format!("{}: {e}", root.display())))?;
    let mut classes: Vec<PathBuf> =
        entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    classes.sort();
    if classes.is_empty() {
        return Err(Error::config(
            source.suite,
            &key,
            format!("{} has no class folders", root.display()),
        ));
    }
    let mut records = Vec::new();
    for folder in classes {
        let class =
            folder.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        for image in files_of(&folder, source.suite, &key)?.into_iter().filter(|p| is_image(p)) {
            let name =
                image.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let image = source.image(&folder, source.suite, &key, &name)?;
            let stem =
                image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            // Exports often number each class's images from 1: the class keeps ids apart.
            records.push(Record {
                id: format!("{class}/{stem}"),
                image,
                label: Some(class.clone()),
                fields: vec![("folder".into(), class.clone())],
                ..Record::default()
            });
        }
    }
    // Folder names sort alphabetically ("10" before "9"): the model's class order only by a
    // training script's convention, so none is claimed.
    Ok(Read { file: root, records, classes: None })
}
