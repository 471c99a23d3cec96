//! The self-test's runner: the same report whatever the job count, each input run once, tiers
//! by purpose, a boot budget, and latency verdicts one stall cannot flip.

use std::time::Duration;

use crate::check::without_timings;
use crate::harness::*;
use preflight::model::manifest::Tier;
use preflight::prelude::*;
use preflight::suite::run::{run_checks, RunContext};
use preflight::suite::Suite;
use serde_json::Value;

const SHARED: &str = r#"name = "shared"

[[cases]]
id = "astronaut"
image = "cases/astronaut.png"
objects = 1
tags = ["photo"]

[[cases]]
glob = "cases/lfw/face_00*.png"
objects = 1
tags = ["lfw"]

[[cases]]
glob = "cases/lfw/nonface_10*.png"
objects = 0
tags = ["lfw"]

[[checks]]
name = "recall"
kind = "accuracy"
severity = "critical"
metric = "recall"
slice = ["lfw"]
threshold = 0.5

[[checks]]
name = "blur-invariance"
kind = "invariance"
severity = "major"
slice = ["lfw"]
perturbations = [{ name = "gaussian_blur", severity = 1 }, { name = "gaussian_noise", severity = 2 }]
threshold = 0.0

[[checks]]
name = "blur-robustness"
kind = "robustness"
severity = "minor"
corruption = "gaussian_blur"
metric = "recall"
slice = ["lfw"]
threshold = 0.5
hold_through = 0

[[checks]]
name = "parity"
kind = "parity"
severity = "major"
golden = "golden.json"
tolerance = "approximate"
cases = ["astronaut"]
"#;

fn shared_suite() -> ScratchBundle {
    let b = ScratchBundle::new();
    std::fs::write(b.path().join("shared.toml"), SHARED).unwrap();
    b
}

#[test]
fn reports_are_identical_whatever_the_job_count() {
    let b = shared_suite();
    let suite = b.path().join("shared.toml");
    let run = |jobs: &str| {
        let o = preflight(&[
            "check",
            b.arg(),
            "--suite",
            suite.to_str().unwrap(),
            "--jobs",
            jobs,
            "--seed",
            "3",
            "--format",
            "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["timing"]["jobs"], jobs.parse::<u64>().unwrap());
        r
    };
    let (one, two) = (run("1"), run("2"));
    // Counts are not timings: the same work is requested and run either way.
    for key in ["inferences_run", "inferences_requested"] {
        assert_eq!(one["timing"][key], two["timing"][key], "{key}");
    }
    assert_eq!(without_timings(one), without_timings(two));
}

#[test]
fn each_input_runs_once_whichever_checks_share_it() {
    let b = shared_suite();
    let o = preflight(&[
        "check",
        b.arg(),
        "--suite",
        b.path().join("shared.toml").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (run, requested) = (
        r["timing"]["inferences_run"].as_u64().unwrap(),
        r["timing"]["inferences_requested"].as_u64().unwrap(),
    );
    // 20 LFW crops + astronaut clean (21), blur:1 and noise:2 (40), blur 1-5 (100), where
    // blur:1 is shared by two checks: 20 + 1 + 20 + 20 + 80 = 141 inputs.
    assert_eq!(run, 141, "{}", r["timing"]);
    // recall 20 + invariance 60 + robustness 100 + parity 1.
    assert_eq!(requested, 181, "{}", r["timing"]);
}

#[test]
fn a_single_stall_cannot_flip_a_latency_verdict() {
    let b = ScratchBundle::new();
    let text = "name = \"latency\"\n[[cases]]\nid = \"astronaut\"\nimage = \"cases/astronaut.png\"\nobjects = 1\n\
                [[checks]]\nname = \"p99\"\nkind = \"latency\"\nseverity = \"critical\"\nstat = \"p99\"\n\
                iterations = 20\nwarmup = 2\nthreshold = 250.0\n";
    std::fs::write(b.path().join("latency.toml"), text).unwrap();
    let model = Model::open(b.path()).unwrap();
    let suite = Suite::load(&b.path().join("latency.toml")).unwrap();
    let stalled = |windows_note: &str| {
        let ctx = RunContext {
            jobs: 1,
            latency_stall: Some((13, Duration::from_millis(400))),
            ..Default::default()
        };
        let results = run_checks(&model, &suite, &ctx, &mut |_, _, _| {}).checks;
        let c = &results[0];
        assert_eq!(c.passed, Some(true), "{windows_note}: {}", c.detail);
        c.clone()
    };
    let c = stalled("5 windows of 4 runs");
    // The stall is in window 4 (runs 12-15), seen there, flagged, and not gated on.
    assert!(c.values["p99@window4"] >= 400.0, "{:?}", c.values);
    assert!(c.values["max"] >= 400.0);
    assert!(c.measured.unwrap() < 250.0);
    assert!(c.detail.contains("interference: window 4"), "{}", c.detail);
    // The same stall with one window decides the verdict: what the windows are for.
    let one = std::fs::read_to_string(b.path().join("latency.toml")).unwrap() + "windows = 1\n";
    std::fs::write(b.path().join("latency.toml"), one).unwrap();
    let suite = Suite::load(&b.path().join("latency.toml")).unwrap();
    let ctx = RunContext {
        jobs: 1,
        latency_stall: Some((13, Duration::from_millis(400))),
        ..Default::default()
    };
    let results = run_checks(&model, &suite, &ctx, &mut |_, _, _| {}).checks;
    assert_eq!(results[0].passed, Some(false), "{}", results[0].detail);
}

#[test]
fn tiers_name_suites_by_purpose() {
    let o = preflight(&["check", "--tier", "emulated", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["bundle"]["suite"], "blazeface-emulated");
    let b = ScratchBundle::new();
    b.edit_manifest("acceptance = \"suite-full.toml\"\n", "");
    let o = preflight(&["check", b.arg(), "--tier", "acceptance"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("bundle.toml") && err.contains("no acceptance suite"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Without a recheck suite of its own, the re-check tier is the boot suite's subset.
    let o = preflight(&["check", "--tier", "recheck", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> =
        r["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["astronaut-one-face", "no-face-photos", "parity-x86-64"]);
    assert_eq!(Tier::default(), Tier::Boot);
}

#[test]
fn a_boot_over_budget_is_a_minor_finding() {
    let b = ScratchBundle::new();
    let text = "name = \"budget\"\nbudget_ms = { default = 0.001, roomy = 600000 }\n[[cases]]\nid = \"astronaut\"\nimage = \"cases/astronaut.png\"\nobjects = 1\n\
                [[checks]]\nname = \"one\"\nkind = \"accuracy\"\nseverity = \"critical\"\nmetric = \"count_match\"\ncases = [\"astronaut\"]\nthreshold = 1.0\n";
    std::fs::write(b.path().join("budget.toml"), text).unwrap();
    let o = preflight(&[
        "check",
        b.arg(),
        "--suite",
        b.path().join("budget.toml").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "a minor finding does not gate: {}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let last = r["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["name"].as_str(), last["kind"].as_str()),
        (Some("boot-budget"), Some("boot_time"))
    );
    assert_eq!((last["severity"].as_str(), last["passed"].as_bool()), (Some("minor"), Some(false)));
    assert!(last["measured"].as_f64().unwrap() > 0.0);
    let bad = text.replace("budget_ms = { default = 0.001, roomy = 600000 }", "budget_ms = -5");
    std::fs::write(b.path().join("bad.toml"), &bad).unwrap();
    let o = preflight(&["check", b.arg(), "--suite", b.path().join("bad.toml").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("budget_ms"), "{}", stderr(&o));
}
