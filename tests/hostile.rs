//! Hostile and careless input: each defect found by trying to break preflight has a test
//! named after it. Bad input is refused with one line naming the file (exit 2), and a check
//! that would compare nothing cannot pass.

use crate::harness::*;
use serde_json::{json, Value};

const MODEL_SHA256: &str = "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51";

/// A scratch bundle with `suite` written as `hostile.toml`; returns the bundle and the path.
fn with_suite(suite: &str) -> (ScratchBundle, String) {
    let b = ScratchBundle::new();
    let path = b.path().join("hostile.toml");
    std::fs::write(&path, suite).unwrap();
    let arg = path.to_str().unwrap().to_string();
    (b, arg)
}

const ASTRONAUT: &str =
    "name = \"hostile\"\n[[cases]]\nid = \"astronaut\"\nimage = \"cases/astronaut.png\"\nobjects = 1\ntags = [\"photo\"]\n";

fn parity_with(golden: Value) -> Value {
    let (b, suite) = with_suite(&format!(
        "{ASTRONAUT}[[checks]]\nname = \"parity\"\nkind = \"parity\"\nseverity = \"critical\"\n\
         golden = \"hostile-golden.json\"\ntolerance = \"exact\"\ncases = [\"astronaut\"]\n"
    ));
    std::fs::write(b.path().join("hostile-golden.json"), golden.to_string()).unwrap();
    let o = preflight(&["check", b.arg(), "--suite", &suite, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    r["checks"][0].clone()
}

fn golden(outputs: Value) -> Value {
    json!({
        "schema": "preflight.golden/v1",
        "model_sha256": MODEL_SHA256,
        "recorded_on": "x86_64-unknown-linux-gnu",
        "recorded_cpu": "test",
        "tract_version": "0.23.9",
        "cases": [{ "id": "astronaut", "outputs": outputs }],
    })
}

#[test]
fn golden_with_empty_data_cannot_pass() {
    let c =
        parity_with(golden(json!([{ "name": "Identity:0", "shape": [1, 512, 1], "data": [] }])));
    assert_eq!(c["passed"], false);
    assert!(c["detail"].as_str().unwrap().contains("cannot be evaluated"), "{c}");
    assert!(c["detail"].as_str().unwrap().contains("holds 0 values"), "{c}");
}

#[test]
fn golden_without_outputs_cannot_pass() {
    let c = parity_with(golden(json!([])));
    assert_eq!(c["passed"], false);
    assert!(c["detail"].as_str().unwrap().contains("holds no outputs"), "{c}");
}

#[test]
fn golden_with_truncated_data_cannot_pass() {
    let c = parity_with(golden(
        json!([{ "name": "Identity:0", "shape": [1, 512, 1], "data": vec![0.5; 24] }]),
    ));
    assert_eq!(c["passed"], false);
    assert!(c["detail"].as_str().unwrap().contains("holds 24 values for shape [1, 512, 1]"), "{c}");
}

fn refused(suite: &str, needles: &[&str]) {
    let (b, path) = with_suite(suite);
    let o = preflight(&["check", b.arg(), "--suite", &path]);
    let mut all = vec!["hostile.toml"];
    all.extend_from_slice(needles);
    assert_one_line_error(&o, &all);
}

#[test]
fn nan_tolerance_in_a_directional_check_is_refused() {
    refused(
        &format!(
            "{ASTRONAUT}[[checks]]\nname = \"d\"\nkind = \"directional\"\nseverity = \"minor\"\n\
                  slice = [\"photo\"]\nperturbation = {{ name = \"occlude\", severity = 3 }}\n\
                  direction = \"decrease\"\ntolerance = nan\nthreshold = 0.9\n"
        ),
        &["checks[0].tolerance", "NaN"],
    );
}

#[test]
fn negative_iou_is_refused() {
    refused(
        &format!(
            "{ASTRONAUT}[[checks]]\nname = \"r\"\nkind = \"accuracy\"\nseverity = \"critical\"\n\
                  metric = \"recall\"\nslice = [\"photo\"]\niou = -1.0\nthreshold = 0.9\n"
        ),
        &["checks[0].iou", "-1"],
    );
}

#[test]
fn suite_with_no_checks_is_refused() {
    refused(ASTRONAUT, &["checks", "no checks"]);
}

#[test]
fn latency_iterations_that_would_hang_are_refused() {
    for (key, value) in [("iterations", "1000000000"), ("warmup", "1000000000")] {
        let other = if key == "iterations" { "warmup = 1" } else { "iterations = 5" };
        refused(
            &format!(
                "{ASTRONAUT}[[checks]]\nname = \"l\"\nkind = \"latency\"\nseverity = \"minor\"\n\
                      stat = \"p50\"\n{key} = {value}\n{other}\nthreshold = 100.0\n"
            ),
            &[&format!("checks[0].{key}"), "100000"],
        );
    }
}

#[test]
fn bench_iterations_over_the_limit_are_refused() {
    let o = preflight(&["bench", "--iterations", "1000000000"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--iterations"), "{}", stderr(&o));
}

#[test]
fn max_detections_zero_is_refused() {
    let b = ScratchBundle::new();
    b.edit_manifest("max_detections = 20", "max_detections = 0");
    let o = preflight(&["inspect", b.arg()]);
    assert_one_line_error(&o, &["bundle.toml", "output.max_detections"]);
}

#[test]
fn fifo_as_model_file_is_refused_instead_of_hanging() {
    let b = ScratchBundle::new();
    std::fs::remove_file(b.model()).unwrap();
    let made = std::process::Command::new("mkfifo").arg(b.model()).status().unwrap();
    assert!(made.success());
    let o = preflight(&["inspect", b.arg()]);
    assert_one_line_error(
        &o,
        &["face_detection_front_128x128_barracuda.onnx", "not a regular file"],
    );
}

#[test]
fn globbed_symlink_leaving_the_bundle_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::copy(case("astronaut.png"), outside.path().join("face_999.png")).unwrap();
    let (b, suite) = with_suite(
        "name = \"hostile\"\n[[cases]]\nglob = \"cases/extra/face_*.png\"\nobjects = 1\ntags = [\"x\"]\n\
         [[checks]]\nname = \"r\"\nkind = \"accuracy\"\nseverity = \"critical\"\nmetric = \"recall\"\n\
         slice = [\"x\"]\nthreshold = 0.5\n",
    );
    std::os::unix::fs::symlink(outside.path(), b.path().join("cases/extra")).unwrap();
    let o = preflight(&["check", b.arg(), "--suite", &suite]);
    assert_one_line_error(&o, &["hostile.toml", "cases[0].glob", "outside"]);
}

#[test]
fn undecodable_first_case_fails_its_checks_instead_of_exiting_2() {
    let (b, suite) = with_suite(
        "name = \"hostile\"\n[[cases]]\nid = \"broken\"\nimage = \"broken.png\"\nobjects = 1\n\
         [[cases]]\nid = \"astronaut\"\nimage = \"cases/astronaut.png\"\nobjects = 1\n\
         [[checks]]\nname = \"broken-found\"\nkind = \"accuracy\"\nseverity = \"critical\"\n\
         metric = \"count_match\"\ncases = [\"broken\"]\nthreshold = 1.0\n\
         [[checks]]\nname = \"astronaut-found\"\nkind = \"accuracy\"\nseverity = \"critical\"\n\
         metric = \"count_match\"\ncases = [\"astronaut\"]\nthreshold = 1.0\n\
         [[checks]]\nname = \"cold\"\nkind = \"cold_start\"\nseverity = \"minor\"\nthreshold = 1000.0\n",
    );
    std::fs::write(b.path().join("broken.png"), b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let o = preflight(&["check", b.arg(), "--suite", &suite, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "the gate fails, preflight still ran: {}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &r["checks"];
    assert_eq!(c[0]["passed"], false);
    assert!(c[0]["detail"].as_str().unwrap().contains("broken.png"), "{}", c[0]);
    assert_eq!(c[1]["passed"], true);
    assert!(c[2]["detail"].as_str().unwrap().contains("cannot be evaluated"), "{}", c[2]);
}

#[test]
fn perturb_to_an_unsupported_format_keeps_the_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep.bmp");
    std::fs::write(&keep, b"precious").unwrap();
    let o = preflight(&[
        "perturb",
        case("astronaut.png").to_str().unwrap(),
        "--name",
        "gaussian_blur",
        "--out",
        keep.to_str().unwrap(),
    ]);
    assert_one_line_error(&o, &["keep.bmp", ".png or .jpg"]);
    assert_eq!(std::fs::read(&keep).unwrap(), b"precious");
    let png = dir.path().join("blurred.png");
    let o = preflight(&[
        "perturb",
        case("astronaut.png").to_str().unwrap(),
        "--name",
        "gaussian_blur",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(preflight::prelude::load_image(&png).is_ok());
}

#[test]
fn suite_typo_names_the_misspelt_key() {
    let (_b, suite) = with_suite(&format!(
        "{ASTRONAUT}[[checks]]\nname = \"c\"\nkind = \"accuracy\"\nseverity = \"critical\"\n\
         metric = \"count_match\"\ncases = [\"astronaut\"]\ntreshold = 1.0\n"
    ));
    let o = preflight(&["check", "--suite", &suite]);
    assert_one_line_error(&o, &["checks[0]", "missing field `threshold`", "`treshold` is given"]);
}

#[test]
fn number_where_a_name_is_expected_says_so() {
    let (_b, suite) = with_suite(&format!(
        "{ASTRONAUT}[[checks]]\nname = \"c\"\nkind = \"accuracy\"\nseverity = 9\n\
         metric = \"count_match\"\ncases = [\"astronaut\"]\nthreshold = 1.0\n"
    ));
    let o = preflight(&["check", "--suite", &suite]);
    assert_one_line_error(&o, &["checks[0].severity", "expected a name in quotes, got 9"]);
    let b = ScratchBundle::new();
    b.edit_manifest("resize = \"letterbox\"", "resize = 9");
    assert_one_line_error(&preflight(&["inspect", b.arg()]), &["input.resize", "got 9"]);
}

#[test]
fn toml_errors_are_one_line_with_line_and_column() {
    let (_b, suite) = with_suite(&format!("{ASTRONAUT}[oops\n"));
    let o = preflight(&["check", "--suite", &suite]);
    assert_one_line_error(&o, &["hostile.toml", "line 7, column 6", "invalid table header"]);
    let (_b, suite) =
        with_suite(&ASTRONAUT.replace("objects = 1", "objects = 99999999999999999999"));
    let o = preflight(&["check", "--suite", &suite]);
    assert_one_line_error(&o, &["hostile.toml", "line 5", "number too large"]);
}

#[test]
fn run_dir_without_manifest_names_the_dir() {
    let dir = tempfile::tempdir().unwrap();
    let o =
        preflight(&["run", dir.path().to_str().unwrap(), case("astronaut.png").to_str().unwrap()]);
    assert_one_line_error(&o, &[dir.path().to_str().unwrap(), "not a bundle"]);
}

#[test]
fn usage_errors_are_one_line() {
    for args in [&["check", "--nope"][..], &["chek"], &["check", "--seed", "abc"], &[]] {
        let o = preflight(args);
        assert_one_line_error(&o, &["preflight: ", "--help"]);
    }
    assert_eq!(preflight(&["--help"]).status.code(), Some(0));
}

#[test]
fn report_name_of_250_characters_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join(format!("{}.json", "r".repeat(245)));
    let small =
        "name = \"s\"\n[[cases]]\nid = \"a\"\nimage = \"cases/astronaut.png\"\nobjects = 1\n\
                 [[checks]]\nname = \"c\"\nkind = \"accuracy\"\nseverity = \"critical\"\n\
                 metric = \"count_match\"\ncases = [\"a\"]\nthreshold = 1.0\n";
    let (b, suite) = with_suite(small);
    let o = preflight(&["check", b.arg(), "--suite", &suite, "--report", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&report).unwrap().contains("\"verdict\""));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
}

#[test]
fn user_suite_paths_stay_in_the_suite_directory() {
    // A suite given with --suite from outside any bundle names files beside it or below: the
    // rule is its own directory, and the message says so (not "the bundle").
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("s.toml");
    std::fs::write(&suite, ASTRONAUT.replace("cases/astronaut.png", "../astronaut.png")).unwrap();
    let o = preflight(&["check", "--suite", suite.to_str().unwrap()]);
    assert_one_line_error(&o, &["s.toml", "cases[0].image", "must be in its directory or below"]);
}
