//! `[[datasets]]` end to end: a COCO export of real frames gates BlazeFace with COCO's mAP and
//! a per-class recall; a malformed export stops `check` in one line.

use serde_json::Value;

use crate::harness::*;

/// Four of the acceptance tier's real frames (boxes labelled by hand) as a COCO export, one
/// of them faceless, with a recorded attribute.
const COCO: &str = r#"{
 "images": [
  {"id": 1, "file_name": "feat-0-f1-su.jpg", "width": 512, "height": 640, "site": "studio"},
  {"id": 2, "file_name": "feat-0-f15-hao.jpg", "width": 512, "height": 640, "site": "studio"},
  {"id": 3, "file_name": "feat-15-f13-anc.jpg", "width": 512, "height": 640, "site": "office"}
 ],
 "annotations": [
  {"id": 1, "image_id": 1, "category_id": 1, "bbox": [110, 150, 313, 312], "iscrowd": 0},
  {"id": 2, "image_id": 2, "category_id": 1, "bbox": [98, 148, 319, 319], "iscrowd": 0},
  {"id": 3, "image_id": 3, "category_id": 1, "bbox": [74, 165, 303, 302], "iscrowd": 0}
 ],
 "categories": [{"id": 1, "name": "face"}]
}"#;

const SUITE: &str = r#"name = "from-coco"
[[datasets]]
format = "coco"
path = "export/instances.json"
images = "cases/frames"
tags_from = ["site"]

[[checks]]
name = "map50"
kind = "accuracy"
severity = "major"
metric = "map50"
threshold = 0.9

[[checks]]
name = "face-recall-studio"
kind = "accuracy"
severity = "major"
metric = "recall"
class = "face"
slice = ["site:studio"]
threshold = 1.0
"#;

fn sizes_of_frames(b: &ScratchBundle) -> String {
    // The export says each image's size; read them from the files, as an exporter would.
    let mut text = COCO.to_string();
    for name in ["feat-0-f1-su.jpg", "feat-0-f15-hao.jpg", "feat-15-f13-anc.jpg"] {
        let (w, h) = image::image_dimensions(b.path().join("cases/frames").join(name)).unwrap();
        text = text.replacen(
            &format!("\"file_name\": \"{name}\", \"width\": 512, \"height\": 640"),
            &format!("\"file_name\": \"{name}\", \"width\": {w}, \"height\": {h}"),
            1,
        );
    }
    text
}

#[test]
fn a_coco_export_gates_with_map_and_per_class_recall() {
    let b = ScratchBundle::new();
    std::fs::create_dir_all(b.path().join("export")).unwrap();
    std::fs::write(b.path().join("export/instances.json"), sizes_of_frames(&b)).unwrap();
    std::fs::write(b.path().join("coco-suite.toml"), SUITE).unwrap();
    let suite = b.path().join("coco-suite.toml");
    let o = preflight(&["check", b.arg(), "--suite", suite.to_str().unwrap(), "--format", "json"]);
    let r: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    assert_eq!(o.status.code(), Some(0), "{r}");
    let map = &r["checks"][0];
    let detail = map["detail"].as_str().unwrap();
    assert!(detail.starts_with("map50 1.0000 over 3 boxes in 3 images, 1 class"), "{detail}");
    let recall = &r["checks"][1];
    assert_eq!(recall["measured"], 1.0, "{recall}");
    assert!(recall["detail"].as_str().unwrap().starts_with("recall 2/2"), "{recall}");
}

#[test]
fn a_malformed_export_stops_check_in_one_line_naming_the_record() {
    let b = ScratchBundle::new();
    std::fs::create_dir_all(b.path().join("export")).unwrap();
    let broken = sizes_of_frames(&b)
        .replace(r#""category_id": 1, "bbox": [98"#, r#""category_id": 4, "bbox": [98"#);
    std::fs::write(b.path().join("export/instances.json"), broken).unwrap();
    std::fs::write(b.path().join("coco-suite.toml"), SUITE).unwrap();
    let suite = b.path().join("coco-suite.toml");
    let o = preflight(&["check", b.arg(), "--suite", suite.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_one_line_error(&o, &["instances.json", "annotations[1]", "unknown category 4"]);
}
