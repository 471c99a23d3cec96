//! The OCR pipeline (models/ppocr): whole images read through the three PP-OCR stages, its
//! check (every stage's suite, then its own), and the errors a pipeline manifest can make.
//! Tests named `fetched_*` need `python3 tools/fetch_ppocr.py` first, like tests/ocr.rs.

use std::path::{Path, PathBuf};

use crate::harness::*;
use crate::ocr::require_fetched;

const PAGE: &str = "models/ppocr/cases/page.png";

/// The page's text, line by line, as its case labels it (tools/make_ppocr_cases.py).
fn page_truth() -> String {
    let labels = std::fs::read_to_string(root().join("models/ppocr/cases/labels.json")).unwrap();
    let labels: serde_json::Value = serde_json::from_str(&labels).unwrap();
    labels["page"]["text"].as_str().unwrap().to_string()
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let o = preflight(args);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("valid JSON on stdout")
}

fn cer(read: &str, truth: &str) -> f64 {
    preflight::text::edit_distance(read, truth) as f64 / truth.chars().count() as f64
}

/// A scratch copy of the pipeline and its three stages, side by side as in models/.
fn scratch_pipeline() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for b in ["ppocr", "ppocr-det", "ppocr-cls", "ppocr-rec"] {
        copy_dir(&root().join("models").join(b), &tmp.path().join(b));
    }
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn write(path: PathBuf, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn fetched_pipeline_reads_the_page_in_order_and_nothing_on_the_cat() {
    require_fetched();
    let doc = run_json(&[
        "run",
        "models/ppocr",
        PAGE,
        "models/ppocr/cases/chelsea.png",
        "--format",
        "json",
    ]);
    let page = &doc["results"][0];
    let lines = page["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 7, "{page}");
    let truth = page_truth();
    let text = page["text"].as_str().unwrap();
    assert!(cer(text, &truth) <= 0.05, "CER {} on {text:?}", cer(text, &truth));
    // In reading order, each line where the page prints it.
    let tops: Vec<f64> = lines.iter().map(|l| l["box"][1].as_f64().unwrap()).collect();
    assert!(tops.windows(2).all(|w| w[0] < w[1]), "{tops:?}");
    assert!(lines.iter().all(|l| l["turned"] == 0 && l["confidence"].as_f64().unwrap() >= 0.5));
    assert_eq!(page["upside_down"], false);
    assert_eq!(doc["results"][1]["lines"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(doc["results"][1]["text"], "");
}

#[test]
fn fetched_pipeline_reads_an_upside_down_page_after_the_direction_stage() {
    require_fetched();
    let doc = run_json(&[
        "run",
        "models/ppocr",
        "models/ppocr/cases/page-upside-down.png",
        "--format",
        "json",
    ]);
    let page = &doc["results"][0];
    assert_eq!(page["upside_down"], true, "{page}");
    let lines = page["lines"].as_array().unwrap();
    assert!(lines.iter().all(|l| l["turned"] == 180), "{page}");
    let text = page["text"].as_str().unwrap();
    // The page's first line comes first although it is at the bottom of the image.
    assert!(text.starts_with("Region-based"), "{text:?}");
    assert!(cer(text, &page_truth()) <= 0.08, "{text:?}");
    let o = preflight(&["run", "models/ppocr", "models/ppocr/cases/page-upside-down.png"]);
    assert!(stdout(&o).contains("read upside down") && stdout(&o).contains("turned 180°"));
}

#[test]
fn fetched_library_reads_a_page() {
    require_fetched();
    let pipeline = preflight::prelude::Pipeline::open(root().join("models/ppocr")).unwrap();
    let image = preflight::prelude::load_image(&root().join(PAGE)).unwrap();
    let reading = pipeline.read(&image).unwrap();
    assert_eq!(reading.lines.len(), 7);
    assert!(reading.lines[6].text.contains("np.zeros"), "{:?}", reading.lines);
    assert_eq!(pipeline.stages().len(), 3);
}

#[test]
fn fetched_pipeline_and_every_stage_pass_their_suites() {
    require_fetched();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let o = preflight(&["check", "models/ppocr", "--report", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(doc["verdict"], "pass");
    assert_eq!(doc["bundle"]["name"], "ppocr");
    let stages: Vec<&str> = doc["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["bundle"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["ppocr-det", "ppocr-cls", "ppocr-rec"]);
    assert!(doc["stages"].as_array().unwrap().iter().all(|s| s["verdict"] == "pass"));
    let names: Vec<&str> =
        doc["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in [
        "ppocr-det/page-lines-found",
        "ppocr-cls/upright-is-0",
        "ppocr-rec/page-lines-cer",
        "page-read",
        "upside-down-page-read",
        "no-text-photos",
        "latency-p50",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let page = doc["checks"].as_array().unwrap().iter().find(|c| c["name"] == "page-read").unwrap();
    assert!(page["measured"].as_f64().unwrap() <= 0.05, "{page}");
}

/// Stages cut down to one check each, so a check of the whole pipeline takes seconds.
fn quick_stage_suites(tmp: &Path) {
    for (b, case, check) in [
        ("ppocr-det", "id = \"chelsea\"\nimage = \"cases/chelsea.png\"\nobjects = 0\ntags = [\"no-text\"]", "metric = \"false_positive_rate\"\nslice = [\"no-text\"]\nthreshold = 0.0"),
        ("ppocr-cls", "id = \"up\"\nimage = \"cases/line_00.png\"\nlabel = \"0\"\ntags = [\"up\"]", "metric = \"top1\"\nslice = [\"up\"]\nthreshold = 1.0"),
        ("ppocr-rec", "id = \"r\"\nimage = \"cases/rendered_00.png\"\ntext = \"preflight checks text\"\ntags = [\"r\"]", "metric = \"cer\"\nslice = [\"r\"]\nthreshold = 0.0"),
    ] {
        write(
            tmp.join(b).join("suite.toml"),
            &format!("name = \"{b}-quick\"\n[[cases]]\n{case}\n[[checks]]\nname = \"one\"\nkind = \"accuracy\"\nseverity = \"critical\"\n{check}\n"),
        );
    }
    write(
        tmp.join("ppocr").join("suite.toml"),
        "name = \"quick\"\n[[cases]]\nid = \"crom\"\nimage = \"cases/crom.png\"\ntext = \"Covfefe is a perfectly cromulent word.\"\ntags = [\"t\"]\n[[checks]]\nname = \"read\"\nkind = \"accuracy\"\nseverity = \"critical\"\nmetric = \"cer\"\nslice = [\"t\"]\nthreshold = 0.2\n",
    );
}

#[test]
fn fetched_a_failing_stage_fails_the_pipeline() {
    require_fetched();
    let tmp = scratch_pipeline();
    quick_stage_suites(tmp.path());
    let pipe = tmp.path().join("ppocr");
    let o = preflight(&["check", pipe.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    // The direction stage now expects "180" of an upright line: it fails, and so does the whole.
    let cls = tmp.path().join("ppocr-cls").join("suite.toml");
    let text = std::fs::read_to_string(&cls).unwrap().replace("label = \"0\"", "label = \"180\"");
    write(cls, &text);
    let o = preflight(&["check", pipe.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["verdict"], "fail");
    let failed: Vec<&str> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["ppocr-cls/one"]);
    assert_eq!(doc["stages"][1]["verdict"], "fail");
}

#[test]
fn pipeline_manifest_mistakes_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let pipe = tmp.path().join("p");
    std::fs::create_dir_all(&pipe).unwrap();
    let arg = pipe.to_str().unwrap();
    let base =
        "name = \"p\"\nversion = \"1\"\n[stages]\ndetector = \"../det\"\nrecognizer = \"../rec\"\n";
    write(pipe.join("pipeline.toml"), base);
    for cmd in [&["run", arg, PAGE][..], &["check", arg], &["inspect", arg]] {
        let o = preflight(cmd);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}");
        // `check` looks for the pipeline's suite first; the others open the stages.
        let needle = if cmd[0] == "check" { "suites" } else { "stages.detector" };
        assert_one_line_error(&o, &["pipeline.toml", needle]);
    }
    write(pipe.join("pipeline.toml"), &format!("{base}[lines]\nmin_confidence = 2\n"));
    assert_one_line_error(
        &preflight(&["run", arg, PAGE]),
        &["pipeline.toml", "lines.min_confidence"],
    );
    write(pipe.join("pipeline.toml"), "name = \"p\"\nversion = \"1\"\n");
    assert_one_line_error(&preflight(&["run", arg, PAGE]), &["pipeline.toml", "stages"]);
    for cmd in ["bench", "record", "sign"] {
        let mut args = vec![cmd, arg];
        if cmd == "sign" {
            args.extend(["--key", "k"]);
        }
        assert_one_line_error(&preflight(&args), &["a pipeline", cmd]);
    }
}

#[test]
fn fetched_a_stage_of_the_wrong_kind_is_refused_by_key() {
    require_fetched();
    let tmp = scratch_pipeline();
    let file = tmp.path().join("ppocr").join("pipeline.toml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("recognizer = \"../ppocr-rec\"", "recognizer = \"../ppocr-det\"");
    write(file, &text);
    let o = preflight(&["run", tmp.path().join("ppocr").to_str().unwrap(), PAGE]);
    assert_one_line_error(&o, &["pipeline.toml", "stages.recognizer", "segmentation", "ctc"]);
}
