//! The floor plan stays true: `model` imports neither `suite` nor `device`, `suite` does not
//! import `device`, the crate-wide helpers at the top of src/ import no layer, and no source
//! file grows past ~500 lines (a file that long holds two responsibilities).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<module>` a file names, in `use` lines and in paths alike.
fn crate_modules(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
        })
        .collect()
}

#[test]
fn layers_import_only_downward() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let forbidden: [(&str, &[&str]); 3] =
        [("model", &["suite", "device"]), ("suite", &["device"]), ("device", &[])];
    let mut violations = Vec::new();
    for (layer, above) in forbidden {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "src/{layer} has no files");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for module in crate_modules(&text) {
                if above.contains(&module.as_str()) {
                    violations.push(format!("{} uses crate::{module}", file.display()));
                }
            }
            // `super::super::` would climb out of a layer without saying `crate::`.
            if text.contains("super::super::") {
                violations.push(format!("{} climbs with super::super::", file.display()));
            }
        }
    }
    for helper in ["error.rs", "files.rs", "latency.rs", "target.rs", "text.rs"] {
        let text = std::fs::read_to_string(src.join(helper)).unwrap();
        for module in crate_modules(&text) {
            if ["model", "suite", "device"].contains(&module.as_str()) {
                violations.push(format!("src/{helper} (a bottom file) uses crate::{module}"));
            }
        }
    }
    assert!(violations.is_empty(), "imports that go upward:\n{}", violations.join("\n"));
}

#[test]
fn no_source_file_holds_two_responsibilities() {
    let mut files = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .map(|f| (f, std::fs::read_to_string(f).unwrap().lines().count()))
        .filter(|(_, n)| *n > 500)
        .map(|(f, n)| format!("{} has {n} lines", f.display()))
        .collect();
    assert!(long.is_empty(), "split these files:\n{}", long.join("\n"));
}
