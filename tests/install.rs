//! Model updates in the field: `preflight install`, `rollback`, `status`, driven through the
//! binary (crashes are real SIGKILLs at each stage), and `Runtime::reload` through the library.

use std::path::Path;
use std::process::Output;

use crate::harness::*;
use serde_json::Value;

/// A copy of the default bundle with a small boot suite (so an install runs in seconds) and
/// the given version; `extra` is appended to the suite.
fn bundle(version: &str, extra: &str) -> ScratchBundle {
    let b = ScratchBundle::new();
    let suite = format!(
        r#"name = "install-test"

[[cases]]
id = "astronaut"
image = "cases/astronaut.png"
objects = 1
tags = ["photo"]

[[cases]]
id = "chelsea"
image = "cases/chelsea.png"
objects = 0
tags = ["photo"]

[[cases]]
glob = "cases/lfw/face_00*.png"
objects = 1
tags = ["lfw", "face"]

[[checks]]
name = "astronaut-found"
kind = "accuracy"
severity = "critical"
metric = "count_match"
cases = ["astronaut"]
threshold = 1.0

[[checks]]
name = "lfw-recall"
kind = "accuracy"
severity = "major"
metric = "recall"
slice = ["lfw", "face"]
threshold = 0.8
{extra}"#
    );
    std::fs::write(b.path().join("boot.toml"), suite).unwrap();
    b.edit_manifest("boot = \"suite.toml\"", "boot = \"boot.toml\"");
    b.edit_manifest("version = \"1.2.0\"", &format!("version = \"{version}\""));
    b
}

fn install(b: &ScratchBundle, root: &Path, extra_args: &[&str]) -> Output {
    let mut args = vec!["install", b.arg(), "--into", root.to_str().unwrap(), "--jobs", "2"];
    args.extend_from_slice(extra_args);
    preflight(&args)
}

fn install_with_failpoint(b: &ScratchBundle, root: &Path, failpoint: &str) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_preflight"))
        .args(["install", b.arg(), "--into", root.to_str().unwrap(), "--jobs", "2"])
        .current_dir(root_dir())
        .env("PREFLIGHT_FAILPOINT", failpoint)
        .output()
        .unwrap()
}

fn root_dir() -> std::path::PathBuf {
    crate::harness::root()
}

fn status(root: &Path) -> Value {
    let o = preflight(&["status", "--into", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "status: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn current(root: &Path) -> Option<String> {
    status(root)["current"].as_str().map(str::to_string)
}

/// The bundle `current` names opens and its model verifies (inspect reads every hash).
fn current_is_whole(root: &Path) -> String {
    let o = preflight(&["inspect", root.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "current does not open: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["manifest"]["version"].as_str().unwrap_or_default().to_string()
}

#[test]
fn better_bundle_switches_and_rollback_returns() {
    let root = tempfile::tempdir().unwrap();
    let old = bundle("1.2.0", "");
    let o = install(&old, root.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("first install"), "{}", stdout(&o));
    assert_eq!(current(root.path()).as_deref(), Some("0001-blazeface-1.2.0"));

    let new = bundle("1.3.0", "");
    let o = install(&new, root.path(), &["--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["switched"], true);
    assert_eq!(r["previous"], "0001-blazeface-1.2.0");
    assert_eq!(r["regressions"].as_array().unwrap().len(), 0);
    // Same model: the 12 shared cases are compared and none changes.
    assert_eq!(r["compared_cases"], 12);
    assert_eq!(r["changed_decisions"].as_array().unwrap().len(), 0);
    assert_eq!(r["current"]["bundle"]["version"], "1.2.0");
    assert_eq!(current(root.path()).as_deref(), Some("0002-blazeface-1.3.0"));
    assert!(root.path().join("reports/0002-blazeface-1.3.0.json").is_file());

    // `check` on the install root runs the current slot.
    let o = preflight(&["check", root.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["bundle"]["version"], "1.3.0");

    let o = preflight(&["rollback", "--into", root.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("0002-blazeface-1.3.0 -> 0001-blazeface-1.2.0"), "{}", stdout(&o));
    let s = status(root.path());
    assert_eq!(s["current"], "0001-blazeface-1.2.0");
    assert_eq!(s["slots"][0]["action"], "rollback");
    assert_eq!(s["log"].as_array().unwrap().len(), 3);
    let text = stdout(&preflight(&["status", "--into", root.path().to_str().unwrap()]));
    assert!(text.contains("* 0001-blazeface-1.2.0"), "{text}");
}

#[test]
fn a_bundle_failing_its_gate_is_refused_and_the_old_one_serves() {
    let root = tempfile::tempdir().unwrap();
    let old = bundle("1.2.0", "");
    assert_eq!(install(&old, root.path(), &[]).status.code(), Some(0));
    // The new bundle runs, but a critical check of its suite cannot hold (a cat is no face).
    let bad = bundle(
        "1.3.0",
        r#"
[[cases]]
id = "cat-labelled-face"
image = "cases/chelsea.png"
objects = 1
tags = ["mislabelled"]

[[checks]]
name = "cat-is-a-face"
kind = "accuracy"
severity = "critical"
metric = "count_match"
cases = ["cat-labelled-face"]
threshold = 1.0
"#,
    );
    let o = install(&bad, root.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("own gate refused (verdict fail)"), "{}", stdout(&o));
    let s = status(root.path());
    assert_eq!(s["current"], "0001-blazeface-1.2.0");
    assert_eq!(s["slots"].as_array().unwrap().len(), 1, "refused slot removed: {s}");
    assert_eq!(s["log"][1]["outcome"], "refused");
    assert!(root.path().join("reports/0002-blazeface-1.3.0.json").is_file());
    assert_eq!(current_is_whole(root.path()), "1.2.0");
}

#[test]
fn a_bundle_regressing_a_passing_major_check_is_refused() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(install(&bundle("1.2.0", ""), root.path(), &[]).status.code(), Some(0));
    // The new bundle raises its score threshold: its own gate still serves (degraded: only
    // a major check fails), but lfw-recall, passing today, fails with it.
    let worse = bundle("1.3.0", "");
    worse.edit_manifest("score_threshold = 0.5", "score_threshold = 0.7");
    let o = install(&worse, root.path(), &["--format", "json"]);
    let r: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", stderr(&o)));
    assert_eq!(o.status.code(), Some(1), "{r}");
    assert_eq!(r["switched"], false);
    assert_eq!(r["new"]["serving_allowed"], true, "the new gate alone would serve: {r}");
    assert_eq!(r["regressions"][0]["check"], "lfw-recall", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("passing today, failing with the new"));
    assert!(!r["changed_decisions"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(current(root.path()).as_deref(), Some("0001-blazeface-1.2.0"));
}

#[test]
fn keep_bounds_the_slots_and_leftovers_are_cleaned() {
    let root = tempfile::tempdir().unwrap();
    for v in ["1.0.0", "1.1.0", "1.2.0"] {
        assert_eq!(install(&bundle(v, ""), root.path(), &["--keep", "2"]).status.code(), Some(0));
    }
    let s = status(root.path());
    let slots: Vec<&str> =
        s["slots"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(slots, vec!["0003-blazeface-1.2.0", "0002-blazeface-1.1.0"]);
}

#[test]
fn install_errors_are_one_line_and_leave_current_alone() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(install(&bundle("1.2.0", ""), root.path(), &[]).status.code(), Some(0));
    let broken = bundle("1.3.0", "");
    std::fs::write(broken.model(), b"not a model").unwrap();
    let o = install(&broken, root.path(), &[]);
    assert_one_line_error(&o, &["sha256 mismatch"]);
    let missing =
        preflight(&["install", "/nonexistent/b", "--into", root.path().to_str().unwrap()]);
    assert_one_line_error(&missing, &["/nonexistent/b"]);
    let o = preflight(&["rollback", "--into", root.path().to_str().unwrap()]);
    assert_one_line_error(&o, &["no earlier slot"]);
    let o = preflight(&["status", "--into", "/nonexistent/root"]);
    assert_one_line_error(&o, &["not an install root"]);
    assert_eq!(current(root.path()).as_deref(), Some("0001-blazeface-1.2.0"));
    assert_eq!(status(root.path())["slots"].as_array().unwrap().len(), 1);
}

/// kill -9 at every stage leaves a root `status` reads, with `current` whole (old or new),
/// and the next install cleans what the crash left and succeeds.
#[test]
fn a_crash_at_any_stage_leaves_current_whole() {
    let old = bundle("1.2.0", "");
    let new = bundle("1.3.0", "");
    // (failpoint, which version serves after the crash)
    let stages = [
        ("kill:copy:100", "1.2.0"),
        ("kill:verify", "1.2.0"),
        ("kill:suite:2", "1.2.0"),
        ("kill:compare", "1.2.0"),
        ("kill:switch:2", "1.2.0"),
        ("kill:switched", "1.3.0"),
    ];
    for (failpoint, serving) in stages {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(install(&old, root.path(), &[]).status.code(), Some(0));
        let o = install_with_failpoint(&new, root.path(), failpoint);
        assert_eq!(o.status.code(), None, "{failpoint}: should die by signal: {}", stderr(&o));
        let s = status(root.path());
        assert_eq!(current_is_whole(root.path()), serving, "{failpoint}: {s}");
        // The next install of the same bundle removes the leftovers and switches.
        let o = install(&new, root.path(), &["--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{failpoint}: {}", stderr(&o));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let removed = r["removed"].to_string();
        let left = match failpoint {
            // A copy never committed into slots/.
            "kill:copy:100" | "kill:verify" => Some(".staging/0002"),
            // A complete slot that never served; the unrenamed link goes silently.
            "kill:suite:2" | "kill:compare" | "kill:switch:2" => Some("slots/0002"),
            // It served: nothing to clean.
            _ => None,
        };
        match left {
            Some(l) => assert!(removed.contains(l), "{failpoint}: {removed}"),
            None => assert!(!removed.contains("0002"), "{failpoint}: {removed}"),
        }
        assert_eq!(current_is_whole(root.path()), "1.3.0", "{failpoint}");
        assert!(status(root.path())["staging"].as_array().unwrap().is_empty());
    }
}

#[test]
fn a_full_disk_during_copy_is_an_error_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(install(&bundle("1.2.0", ""), root.path(), &[]).status.code(), Some(0));
    let o = install_with_failpoint(&bundle("1.3.0", ""), root.path(), "full:copy:20");
    assert_one_line_error(&o, &["No space left on device", ".staging/0002-blazeface-1.3.0/"]);
    let s = status(root.path());
    assert_eq!(s["current"], "0001-blazeface-1.2.0");
    assert!(s["staging"].as_array().unwrap().is_empty(), "{s}");
    assert_eq!(current_is_whole(root.path()), "1.2.0");
}

#[test]
fn signed_installs_and_rollbacks_obey_the_trust_policy() {
    let keys = tempfile::tempdir().unwrap();
    let name = keys.path().join("vendor");
    assert_eq!(preflight(&["keygen", name.to_str().unwrap()]).status.code(), Some(0));
    let key = keys.path().join("vendor.key");
    let public = keys.path().join("vendor.pub");
    let root = tempfile::tempdir().unwrap();
    let unsigned = bundle("1.2.0", "");
    let o = install(&unsigned, root.path(), &["--trust", public.to_str().unwrap()]);
    assert_one_line_error(&o, &["bundle.sig", "no signature"]);
    let signed = bundle("1.3.0", "");
    let o = preflight(&["sign", signed.arg(), "--key", key.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = install(&signed, root.path(), &["--trust", public.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The installed copy verifies too (the signature covers the slot's files).
    let o =
        preflight(&["check", root.path().to_str().unwrap(), "--trust", public.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn the_runtime_reloads_a_new_install_without_stopping() {
    use preflight::device::install::{install, InstallOptions};
    use preflight::prelude::*;
    let root = tempfile::tempdir().unwrap();
    let options = InstallOptions::default();
    install(root.path(), bundle("1.2.0", "").path(), &options, &mut |_, _| Ok(())).unwrap();
    let rt = std::sync::Arc::new(Runtime::start(root.path(), &StartOptions::default()).unwrap());
    assert_eq!(rt.report().bundle.version, "1.2.0");
    let image = load_image(&case("astronaut.png")).unwrap();
    let serving = {
        let (rt, image) = (rt.clone(), image.clone());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut served = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                rt.infer(&image).expect("serving never stops");
                served += 1;
            }
            served
        });
        (stop, handle)
    };
    let report =
        install(root.path(), bundle("1.3.0", "").path(), &options, &mut |_, _| Ok(())).unwrap();
    assert!(report.switched);
    rt.reload().expect("the new bundle passes its gate");
    assert_eq!(rt.report().bundle.version, "1.3.0");
    assert!(rt.infer(&image).is_ok());
    serving.0.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(serving.1.join().unwrap() > 0);

    // A bundle that cannot pass is never served: the reload is refused, 1.3.0 goes on.
    let current = root.path().join("current");
    let target = std::fs::read_link(&current).unwrap();
    let slot = root.path().join(&target);
    std::fs::write(slot.join("boot.toml"), "name = \"broken\"\n[[checks]]\nname = 1\n").unwrap();
    assert!(rt.reload().is_err());
    assert_eq!(rt.report().bundle.version, "1.3.0");
    assert!(rt.infer(&image).is_ok());
}
