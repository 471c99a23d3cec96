//! The CLI on the default bundle: results a person can check.

use crate::harness::*;

fn json(o: &std::process::Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("valid JSON on stdout")
}

#[test]
fn astronaut_has_exactly_one_face_over_her_face() {
    let o = preflight(&["run", "--format", "json", "models/blazeface/cases/astronaut.png"]);
    let doc = json(&o);
    assert_eq!(doc["bundle"], "blazeface");
    let dets = doc["results"][0]["detections"].as_array().unwrap();
    let strong: Vec<_> = dets.iter().filter(|d| d["score"].as_f64().unwrap() >= 0.75).collect();
    assert_eq!(strong.len(), 1, "{dets:?}");
    let b: Vec<f64> =
        strong[0]["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    // Her face spans roughly x 180..275, y 80..180 in the 512x512 photo.
    let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    assert!((190.0..260.0).contains(&cx) && (95.0..165.0).contains(&cy), "box {b:?}");
    assert!((60.0..140.0).contains(&(b[2] - b[0])), "box width {b:?}");
    assert!(doc["results"][0]["ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn chelsea_the_cat_has_no_confident_face() {
    let o = preflight(&[
        "run",
        "models/blazeface",
        "models/blazeface/cases/chelsea.png",
        "--format",
        "json",
    ]);
    let doc = json(&o);
    for d in doc["results"][0]["detections"].as_array().unwrap() {
        assert!(d["score"].as_f64().unwrap() < 0.75, "{d}");
    }
}

#[test]
fn threshold_and_top_override_the_manifest() {
    let img = "models/blazeface/cases/camera.png";
    let many = json(&preflight(&["run", img, "--format", "json", "--threshold", "0.01"]));
    let few =
        json(&preflight(&["run", img, "--format", "json", "--threshold", "0.01", "--top", "1"]));
    assert!(many["results"][0]["detections"].as_array().unwrap().len() > 1);
    assert_eq!(few["results"][0]["detections"].as_array().unwrap().len(), 1);
}

#[test]
fn text_output_names_each_image() {
    let o = preflight(&[
        "run",
        "models/blazeface/cases/astronaut.png",
        "models/blazeface/cases/rocket.jpg",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("astronaut.png") && out.contains("rocket.jpg"), "{out}");
    assert!(out.contains("nothing detected"), "{out}");
}

#[test]
fn inspect_shows_hash_io_and_fixups() {
    let o = preflight(&["inspect"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51"));
    assert!(
        out.contains("Identity:0 [1, 512, 1]") && out.contains("Identity_3:0 [1, 384, 16]"),
        "{out}"
    );
    assert!(out.contains("ConstantOfShape without `value`"), "{out}");
    let doc = json(&preflight(&["inspect", "models/blazeface", "--format", "json"]));
    assert_eq!(doc["model"]["info"]["onnx_nodes"], 104);
}

#[test]
fn bench_reports_percentiles_and_cold_start() {
    let doc =
        json(&preflight(&["bench", "--iterations", "5", "--warmup", "1", "--format", "json"]));
    let l = &doc["latency_ms"];
    let p50 = l["p50"].as_f64().unwrap();
    assert!(
        p50 > 0.0 && p50 <= l["p99"].as_f64().unwrap() && l["p99"].as_f64() <= l["max"].as_f64()
    );
    assert!(doc["cold_start_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_profile_names_operators_and_kernels() {
    let doc = json(&preflight(&[
        "bench",
        "--iterations",
        "3",
        "--warmup",
        "1",
        "--threads",
        "2",
        "--profile",
        "--format",
        "json",
    ]));
    assert_eq!(doc["threads"], 2);
    let p = &doc["profile"];
    let nodes = p["top_nodes"].as_array().unwrap();
    assert!(!nodes.is_empty() && nodes.len() <= 10, "{p}");
    let share: f64 =
        p["by_op"].as_array().unwrap().iter().map(|o| o["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 0.01, "operator shares sum to {share}");
    assert!(p["kernels"].as_array().unwrap().iter().any(|k| k.as_str().unwrap().contains("mmm")));
}

#[test]
fn two_inference_threads_agree_with_one() {
    use preflight::prelude::*;
    let img = load_image(&case("astronaut.png")).unwrap();
    let one = Model::open(default_bundle()).unwrap();
    let mut two = one.clone();
    two.set_threads(2).unwrap();
    assert_eq!(two.engine().threads(), 2);
    let (a, b) = (
        one.infer(&img, Default::default()).unwrap(),
        two.infer(&img, Default::default()).unwrap(),
    );
    // Same decision; raw outputs within the parity check's `close` tolerance (a split matrix
    // product may sum in another order).
    assert_eq!(a.prediction, b.prediction);
    for (x, y) in a.outputs.tensors.iter().zip(&b.outputs.tensors) {
        for (u, v) in x.data.iter().zip(&y.data) {
            assert!((u - v).abs() <= 1e-5 + 1e-4 * v.abs(), "{}: {u} vs {v}", x.name);
        }
    }
}

#[test]
fn shipped_model_is_the_unmodified_upstream_file() {
    let bytes = std::fs::read(default_bundle().join("face_detection_front_128x128_barracuda.onnx"))
        .unwrap();
    assert_eq!(bytes.len(), 442_005);
    assert_eq!(
        preflight::files::sha256_hex(&bytes),
        "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51"
    );
}

#[test]
fn engine_serves_several_threads_at_once() {
    let model = std::sync::Arc::new(preflight::prelude::Model::open(default_bundle()).unwrap());
    let img = preflight::prelude::load_image(&case("astronaut.png")).unwrap();
    let want = model.infer(&img, Default::default()).unwrap().prediction;
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (m, i) = (model.clone(), img.clone());
            std::thread::spawn(move || m.infer(&i, Default::default()).unwrap().prediction)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), want);
    }
}

#[test]
fn closed_stdout_ends_quietly_without_a_panic() {
    use std::process::{Command, Stdio};
    // `preflight run --format json ... | head -0`: the reader is gone before anything is written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(["run", "--format", "json", "models/blazeface/cases/astronaut.png"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    assert_eq!(o.status.code(), Some(0), "{err}");
}

#[test]
fn default_bundle_comes_from_the_environment_or_beside_the_binary() {
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |env: Option<&str>| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_preflight"));
        c.args(["inspect"]).current_dir(elsewhere.path()).env_remove("PREFLIGHT_BUNDLE");
        if let Some(dir) = env {
            c.env("PREFLIGHT_BUNDLE", dir);
        }
        c.output().unwrap()
    };
    let o = run(Some(default_bundle().to_str().unwrap()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("blazeface"));
    // From a folder without models/ and no variable, the error names the path it tried.
    let o = run(None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("models/blazeface"), "{}", stderr(&o));
}

/// README's install: the binary in `PREFIX/bin`, the bundles in `PREFIX/share/preflight`.
#[test]
fn installed_binary_finds_its_default_bundle_under_share() {
    let prefix = tempfile::tempdir().unwrap();
    let (bin, share) = (prefix.path().join("bin"), prefix.path().join("share/preflight/models"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&share).unwrap();
    let exe = bin.join("preflight");
    // current_exe() resolves symlinks, so the binary itself must be there: linked, else copied.
    if std::fs::hard_link(env!("CARGO_BIN_EXE_preflight"), &exe).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_preflight"), &exe).unwrap();
    }
    std::os::unix::fs::symlink(default_bundle(), share.join("blazeface")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let o = std::process::Command::new(&exe)
        .arg("inspect")
        .current_dir(elsewhere.path())
        .env_remove("PREFLIGHT_BUNDLE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("share/preflight/models/blazeface"), "{}", stdout(&o));
}

#[test]
fn inspect_a_bare_onnx_file_suggests_a_manifest() {
    let model = "models/blazeface/face_detection_front_128x128_barracuda.onnx";
    let o = preflight(&["inspect", model]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("  in      input:0 [1, 128, 128, 3] Float"), "{out}");
    assert!(out.contains("every operator is one tract implements"), "{out}");
    assert!(
        out.contains("[input]\nname = \"input:0\"\nshape = [1, 128, 128, 3]\nlayout = \"nhwc\""),
        "{out}"
    );
    let doc = json(&preflight(&["inspect", model, "--format", "json"]));
    assert_eq!(doc["nodes"], 104);
    assert_eq!(doc["outputs"].as_array().unwrap().len(), 4);
    // Not a model: one line naming the file.
    assert_one_line_error(
        &preflight(&["inspect", "README.md"]),
        &["README.md", "not an ONNX protobuf"],
    );
}

/// `preflight init` makes a bundle from a bare ONNX file that `check` passes at once, gating
/// latency and parity; and refuses to write into a bundle that exists, or to leave half a
/// bundle behind.
#[test]
fn init_scaffolds_a_raw_bundle_that_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("face");
    let model = default_bundle().join("face_detection_front_128x128_barracuda.onnx");
    let (m, d) = (model.to_str().unwrap(), dir.to_str().unwrap());
    let o = preflight(&["init", m, d, "--name", "face"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("next: preflight check"), "{}", stdout(&o));
    for f in ["bundle.toml", "suite.toml", "golden.json", "cases/pattern.png"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
    let o = preflight(&["check", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["bundle"]["name"], "face");
    let kinds: Vec<&str> =
        r["checks"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["latency", "parity", "cold_start", "memory"]);
    assert!(r["checks"].as_array().unwrap().iter().all(|c| c["status"] == "pass"), "{r}");
    // A change to the model's numbers is what parity exists for (the approximate tolerance
    // forgives one value in a thousand; shift a hundred).
    let golden = dir.join("golden.json");
    let text = std::fs::read_to_string(&golden).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for x in v["cases"][0]["outputs"][0]["data"].as_array_mut().unwrap().iter_mut().take(100) {
        *x = serde_json::json!(x.as_f64().unwrap() + 1.0);
    }
    std::fs::write(&golden, v.to_string()).unwrap();
    let o = preflight(&["check", d]);
    assert!(stdout(&o).contains("✗ parity"), "{}", stdout(&o));

    let o = preflight(&["init", m, d]);
    assert_one_line_error(&o, &["exists and is not empty"]);
    let bad = tmp.path().join("bad");
    let o = preflight(&["init", "README.md", bad.to_str().unwrap()]);
    assert_one_line_error(&o, &["README.md", "not an ONNX protobuf"]);
    assert!(!bad.exists());
    let o = preflight(&["init", m, bad.to_str().unwrap(), "--input-size", "0x5"]);
    assert_one_line_error(&o, &["--input-size", "not a size from 1 to 16384"]);
}
