//! The envelope's fitted flag: fitted on the fit part of an envelope check's cases under its
//! faults, judged per fault on the held-apart part, shipped only where it separates, recorded
//! into a bundle and read on every served frame.

use crate::harness::*;
use serde_json::Value;

/// A suite over the default bundle's LFW faces, split, with one envelope check whose flag is
/// fitted on blur and noise at the model's input; `limits` are extra keys of that check.
fn flag_suite(b: &ScratchBundle, split: bool, limits: &str) -> String {
    let split = if split { "split = { seed = 7, held_apart = 0.5 }\n" } else { "" };
    let text = format!(
        "name = \"flag\"\n{split}\n[[cases]]\nglob = \"cases/lfw/face_*.png\"\nobjects = 1\n\
         tags = [\"lfw\", \"face\"]\n\n[[checks]]\nname = \"envelope\"\nkind = \"envelope\"\n\
         severity = \"minor\"\nslice = [\"face\"]\nlimit = 60\n\
         faults = [\"gaussian_blur\", \"gaussian_noise\"]\n{limits}"
    );
    let path = b.path().join("flag-suite.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn envelope_check(b: &ScratchBundle, suite: &str) -> Value {
    let o = preflight(&["check", b.arg(), "--suite", suite, "--format", "json"]);
    let r: Value = serde_json::from_slice(&o.stdout).expect("a json report");
    r["checks"].as_array().unwrap().iter().find(|c| c["kind"] == "envelope").unwrap().clone()
}

#[test]
fn flag_reports_both_rates_per_fault_on_held_apart_cases() {
    let b = ScratchBundle::new();
    let c = envelope_check(&b, &flag_suite(&b, true, ""));
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("flag fitted on the fit part"), "{detail}");
    let values = c["values"].as_object().unwrap();
    for key in ["held_flagged@clean", "held_flagged@gaussian_blur", "held_flagged@gaussian_noise"] {
        let v = values[key].as_f64().unwrap_or_else(|| panic!("{key}: {c}"));
        assert!((0.0..=1.0).contains(&v), "{key}: {c}");
    }
    // Faces are lost under blur at the input's high severities: broken inputs to flag.
    assert!(values["broken_flagged@gaussian_blur"].is_number(), "{c}");
    // Whatever it measured, a fault past either limit is named, and the check then fails.
    let failures = c["failures"].as_array().unwrap();
    assert_eq!(c["passed"], failures.is_empty(), "{c}");
    if !failures.is_empty() {
        assert!(detail.contains("not shipped"), "{detail}");
    }
}

#[test]
fn a_flag_that_separates_is_recorded_and_read_on_every_frame() {
    let b = ScratchBundle::new();
    // Limits any flag meets: this test is about the path, not the rates.
    let suite = flag_suite(&b, true, "max_clean_outside = 1.0\nmin_broken_outside = 0.0\n");
    let c = envelope_check(&b, &suite);
    assert_eq!(c["passed"], true, "{c}");
    let o = preflight(&["record", b.arg(), "--envelope", "--suite", &suite]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("flag   10 features fitted on"), "{}", stdout(&o));
    assert!(stdout(&o).contains("held-apart gaussian_blur:"), "{}", stdout(&o));
    let e: Value =
        serde_json::from_slice(&std::fs::read(b.path().join("envelope.json")).unwrap()).unwrap();
    assert_eq!(e["risk"]["features"].as_array().unwrap().len(), 10, "{e}");
    let frame = b.path().join("cases/astronaut.png");
    let o = preflight(&["run", b.arg(), frame.to_str().unwrap(), "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let verdict = &r["results"][0]["envelope"];
    let [z, t] = [0, 1].map(|i| verdict["risk"][i].as_f64().expect("log-odds and threshold"));
    assert_eq!(verdict["inside"], z <= t, "{verdict}");
    assert!(verdict["violations"].as_array().unwrap().is_empty(), "the flag decides alone");
}

#[test]
fn a_flag_without_a_split_cannot_be_evaluated() {
    let b = ScratchBundle::new();
    let c = envelope_check(&b, &flag_suite(&b, false, ""));
    assert_eq!(c["passed"], false, "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(detail.contains("cannot be evaluated") && detail.contains("split"), "{detail}");
}

#[test]
fn a_recorded_flag_whose_numbers_disagree_is_refused_in_one_line() {
    let b = ScratchBundle::new();
    let suite = flag_suite(&b, true, "max_clean_outside = 1.0\nmin_broken_outside = 0.0\n");
    let o = preflight(&["record", b.arg(), "--envelope", "--suite", &suite]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let path = b.path().join("envelope.json");
    let mut e: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    e["risk"]["weights"].as_array_mut().unwrap().pop();
    std::fs::write(&path, serde_json::to_vec_pretty(&e).unwrap()).unwrap();
    // The manifest hashes nothing of the envelope: the load itself must refuse it.
    let frame = b.path().join("cases/astronaut.png");
    let o = preflight(&["run", b.arg(), frame.to_str().unwrap()]);
    assert_one_line_error(&o, &["envelope.json", "risk", "features but"]);
}
