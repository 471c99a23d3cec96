//! `init --cases`: which decisions the new suite gates, and at what thresholds. Every gate is
//! first run on each part of a seeded split (`fit`, `held-apart`); its threshold is the fit
//! part's figure less a stated margin, and the held-apart figure, which did not choose it, is
//! written beside it as the evidence.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::suite::datasets::Export;
use crate::suite::spec::{BoxSize, Case};
use crate::suite::split::{FIT, HELD_APART};

/// A part of the split needs this many labelled units (boxes, or images for a classifier)
/// for a gate on it to be written.
pub(super) const MIN_UNITS: usize = 5;
/// A field is sliced by when its records hold between 2 and this many values.
const MAX_FIELD_VALUES: usize = 12;
/// Cases per part the robustness curves run on (each is 5 severities of each fault).
pub(super) const CURVE_CASES: usize = 8;
/// Cases the invariance gate runs on (half from each part at the first run): each runs under
/// every mild fault.
const INVARIANCE_CASES: usize = 20;
/// A robustness curve breaks where its metric falls below this share of the clean fit figure.
pub(super) const CURVE_LIMIT: f64 = 0.8;
/// Faults of the acceptance tier's curves, at the frame (a lens and a sensor).
pub(super) const CURVES: [&str; 4] = ["gaussian_blur", "gaussian_noise", "contrast", "low_light"];
/// Mild faults a decision must not change under.
const MILD: &str = r#"[{ name = "gaussian_blur", severity = 1 }, { name = "jpeg_compression", severity = 1 }, { name = "brightness", severity = 1 }]"#;

/// What a gate measures.
#[derive(Debug, Clone)]
pub(super) enum Measure {
    /// A metric on clean cases, of one class (or several) and one box size where given.
    Accuracy {
        metric: &'static str,
        class: Option<String>,
        classes: Vec<String>,
        size: Option<BoxSize>,
    },
    /// Decisions unchanged under the mild faults.
    Invariance,
}

/// One decision the new suite gates.
#[derive(Debug, Clone)]
pub(super) struct Gate {
    pub(super) name: String,
    pub(super) severity: &'static str,
    pub(super) measure: Measure,
    /// Tags every case of the gate carries (besides the part).
    pub(super) slice: Vec<String>,
    /// What it asserts, in words.
    pub(super) what: String,
    /// Labelled units in the fit part (sets the margin's floor).
    pub(super) fit_units: usize,
}

/// The gates an export calls for: the overall figures, each class, each box size, each value
/// of the fields the export records; gates whose fit or held-apart part holds fewer than
/// [`MIN_UNITS`] units are left out (returned by name, for the notes).
pub(super) fn plan(export: &Export, cases: &[Case], detection: bool) -> (Vec<Gate>, Vec<String>) {
    let (mut gates, mut skipped) = (Vec::new(), Vec::new());
    // Labelled units of a case: its boxes of the classes (all when empty) and size, or for a
    // classifier the case itself if its label is one of the classes.
    let units = |c: &Case, classes: &[String], size: Option<BoxSize>| -> usize {
        let of = |k: Option<&String>| classes.is_empty() || k.is_some_and(|k| classes.contains(k));
        if !detection {
            return usize::from(of(c.label.as_ref()));
        }
        c.boxes
            .iter()
            .zip(c.box_classes.iter().map(Some).chain(std::iter::repeat(None)))
            .filter(|(b, k)| of(*k) && size.is_none_or(|s| BoxSize::of(b) == s))
            .count()
    };
    let count = |part: &str, slice: &[String], classes: &[String], size: Option<BoxSize>| {
        cases
            .iter()
            .filter(|c| c.tags.iter().any(|t| t == part))
            .filter(|c| slice.iter().all(|s| c.tags.contains(s)))
            .map(|c| units(c, classes, size))
            .sum::<usize>()
    };
    // Classes with enough labelled units in both parts: the mean over classes is gated on them
    // (a class with one box swings a mean by its single AP).
    let populated: Vec<String> = export
        .classes
        .iter()
        .filter(|k| {
            let one = [k.to_string()];
            count(FIT, &[], &one, None) >= MIN_UNITS
                && count(HELD_APART, &[], &one, None) >= MIN_UNITS
        })
        .cloned()
        .collect();
    // Gates of one kind over the same cases say the same (a field that repeats another): one.
    let mut seen: std::collections::HashSet<(String, Vec<&str>)> = Default::default();
    let mut add = |name: String, severity, measure: Measure, slice: Vec<String>, what: String| {
        let (classes, size) = match &measure {
            Measure::Accuracy { class, classes, size, .. } => {
                (class.iter().chain(classes).cloned().collect::<Vec<_>>(), *size)
            }
            Measure::Invariance => (vec![], None),
        };
        let by_slice_class = (!detection).then(|| classes.first().cloned()).flatten();
        let slice_all: Vec<String> =
            slice.iter().cloned().chain(by_slice_class.map(|c| format!("class:{c}"))).collect();
        let fit = count(FIT, &slice_all, &classes, size);
        let held = count(HELD_APART, &slice_all, &classes, size);
        if fit < MIN_UNITS || held < MIN_UNITS {
            skipped.push(format!("{name} ({fit} fit, {held} held-apart)"));
            return;
        }
        if !slice_all.is_empty() {
            let ids: Vec<&str> = cases
                .iter()
                .filter(|c| slice_all.iter().all(|s| c.tags.contains(s)))
                .map(|c| c.id.as_str())
                .collect();
            if !seen.insert((format!("{measure:?}"), ids)) {
                return;
            }
        }
        gates.push(Gate { name, severity, measure, slice: slice_all, what, fit_units: fit });
    };
    let overall = if detection { "recall" } else { "top1" };
    let acc = |metric| Measure::Accuracy { metric, class: None, classes: vec![], size: None };
    if detection && !populated.is_empty() {
        let m = Measure::Accuracy {
            metric: "map50",
            class: None,
            classes: populated.clone(),
            size: None,
        };
        let what = format!(
            "COCO mAP@0.5 over the classes with at least {MIN_UNITS} labelled boxes in each part ({})",
            populated.join(", ")
        );
        add("map50".into(), "critical", m, vec![], what);
    }
    if detection {
        let found = "labelled boxes found (IoU 0.5)".to_string();
        add("recall".into(), "major", acc("recall"), vec![], found);
        let right = "detections that are labelled boxes".to_string();
        add("precision".into(), "major", acc("precision"), vec![], right);
    } else {
        let what = "top-1 accuracy over every case".to_string();
        add("top1".into(), "critical", acc("top1"), vec![], what);
    }
    let present: Vec<&String> = export
        .classes
        .iter()
        .filter(|k| cases.iter().any(|c| c.box_classes.contains(k) || c.label.as_ref() == Some(*k)))
        .collect();
    for class in present {
        let m = Measure::Accuracy {
            metric: overall,
            class: Some(class.clone()),
            classes: vec![],
            size: None,
        };
        let what = format!("recall of class {class}");
        add(format!("recall-class-{}", ident(class)), "major", m, vec![], what);
    }
    if detection {
        for size in [BoxSize::Small, BoxSize::Medium, BoxSize::Large] {
            let m = Measure::Accuracy {
                metric: "recall",
                class: None,
                classes: vec![],
                size: Some(size),
            };
            let what = format!("recall of {} boxes (COCO's area rule)", size.name());
            add(format!("recall-size-{}", size.name()), "minor", m, vec![], what);
        }
    }
    for (field, values) in sliced_fields(export) {
        for value in values {
            let m = acc(overall);
            let tag = format!("{field}:{value}");
            let what = format!("{overall} on the cases the export records as {tag}");
            add(
                format!("{overall}-{}-{}", ident(&field), ident(&value)),
                "minor",
                m,
                vec![tag],
                what,
            );
        }
    }
    let what = format!(
        "decisions unchanged under mild blur, JPEG and brightness (severity 1), on {INVARIANCE_CASES} cases"
    );
    add("mild-faults-invariance".into(), "major", Measure::Invariance, vec![], what);
    (gates, skipped)
}

/// The fields worth a slice: those whose records hold 2 to [`MAX_FIELD_VALUES`] values (an
/// id or a file name is not a condition).
fn sliced_fields(export: &Export) -> Vec<(String, Vec<String>)> {
    const NOT_CONDITIONS: [&str; 8] = [
        "id",
        "file_name",
        "width",
        "height",
        "license",
        "coco_url",
        "flickr_url",
        "date_captured",
    ];
    export
        .fields
        .iter()
        .filter(|(k, v)| {
            !NOT_CONDITIONS.contains(&k.as_str()) && (2..=MAX_FIELD_VALUES).contains(&v.len())
        })
        .map(|(k, v)| (k.clone(), v.iter().cloned().collect()))
        .collect()
}

/// The fields sliced by, for the suite's `tags_from`.
pub(super) fn tags_from(export: &Export) -> Vec<String> {
    sliced_fields(export).into_iter().map(|(k, _)| k).collect()
}

/// A name part made of letters, digits and dashes.
pub(super) fn ident(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    out.trim_matches('-').to_string()
}

/// A gate as suite TOML: on one part of the split (the first run), or on every case with its
/// threshold and the figures that set it.
pub(super) fn check_toml(
    g: &Gate,
    part: Option<&str>,
    threshold: f64,
    description: &str,
) -> String {
    let mut out = String::new();
    let name = match part {
        Some(p) => format!("{}~{p}", g.name),
        None => g.name.clone(),
    };
    let slice: Vec<String> =
        g.slice.iter().cloned().chain(part.map(String::from)).map(|s| toml_str(&s)).collect();
    let _ = writeln!(out, "\n[[checks]]\nname = {}", toml_str(&name));
    match &g.measure {
        Measure::Accuracy { metric, class, classes, size } => {
            let _ = writeln!(out, "kind = \"accuracy\"\nseverity = \"{}\"", g.severity);
            let _ = writeln!(out, "description = {}", toml_str(description));
            let _ = writeln!(out, "metric = \"{metric}\"");
            // A classifier's class is its slice; a detector's, the boxes and detections kept.
            if let (Some(c), true) = (class, *metric != "top1") {
                let _ = writeln!(out, "class = {}", toml_str(c));
            }
            if !classes.is_empty() {
                let list: Vec<String> = classes.iter().map(|c| toml_str(c)).collect();
                let _ = writeln!(out, "classes = [{}]", list.join(", "));
            }
            if let Some(s) = size {
                let _ = writeln!(out, "size = \"{}\"", s.name());
            }
        }
        Measure::Invariance => {
            let _ = writeln!(out, "kind = \"invariance\"\nseverity = \"{}\"", g.severity);
            let _ = writeln!(out, "description = {}", toml_str(description));
            let _ = writeln!(out, "perturbations = {MILD}");
            let cases = if part.is_some() { INVARIANCE_CASES / 2 } else { INVARIANCE_CASES };
            let _ = writeln!(out, "limit = {cases}");
        }
    }
    if !slice.is_empty() {
        let _ = writeln!(out, "slice = [{}]", slice.join(", "));
    }
    let _ = writeln!(out, "threshold = {threshold:.4}");
    out
}

/// An acceptance-tier robustness curve as suite TOML.
pub(super) fn curve_toml(
    fault: &str,
    metric: &str,
    part: Option<&str>,
    limit: f64,
    hold_through: u8,
    description: &str,
) -> String {
    let name = match part {
        Some(p) => format!("robustness-{}~{p}", ident(fault)),
        None => format!("robustness-{}", ident(fault)),
    };
    let mut out = format!(
        "\n[[checks]]\nname = \"{name}\"\nkind = \"robustness\"\nseverity = \"minor\"\ndescription = {}\ncorruption = \"{fault}\"\nmetric = \"{metric}\"\nthreshold = {limit:.4}\nhold_through = {hold_through}\n",
        toml_str(description)
    );
    if let Some(p) = part {
        let _ = writeln!(out, "slice = [\"{p}\"]\nlimit = {CURVE_CASES}");
    }
    out
}

/// The threshold a fit-part figure sets: less the margin, or one unit's share of the fit part
/// if more; rounded down to 0.01, never below 0.
pub(super) fn threshold(fit: f64, margin: f64, fit_units: usize) -> f64 {
    let margin = margin.max(1.0 / fit_units.max(1) as f64);
    ((fit - margin) * 100.0).floor().max(0.0) / 100.0
}

/// The highest severity a fit-part curve holds through (the metric at each severity ≥ limit).
pub(super) fn held_through(values: &BTreeMap<String, f64>, metric: &str, limit: f64) -> u8 {
    (1..=5u8)
        .take_while(|s| values.get(&format!("{metric}@{s}")).is_some_and(|v| *v >= limit))
        .last()
        .unwrap_or(0)
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_keep_a_margin_of_at_least_one_unit() {
        assert_eq!(threshold(0.9, 0.05, 100), 0.85);
        // Five boxes: one box is a fifth.
        assert_eq!(threshold(0.9, 0.05, 5), 0.7);
        assert_eq!(threshold(0.02, 0.05, 100), 0.0);
    }

    #[test]
    fn curves_hold_through_the_last_severity_above_the_limit() {
        let v: BTreeMap<String, f64> =
            [("recall@1", 0.9), ("recall@2", 0.85), ("recall@3", 0.5), ("recall@4", 0.9)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
        assert_eq!(held_through(&v, "recall", 0.8), 2);
        assert_eq!(held_through(&v, "recall", 0.95), 0);
    }

    #[test]
    fn names_are_identifiers() {
        assert_eq!(ident("Dining Table"), "dining-table");
        assert_eq!(ident("site:north/3"), "site-north-3");
    }
}
