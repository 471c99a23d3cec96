//! `kind = "envelope"`: the operating envelope this run derived (see
//! [`suite::envelope`](crate::suite::envelope)), judged on the cases that did not set it.
//! Evaluated after every other check, since the envelope comes from the robustness curves.

use std::collections::BTreeMap;

use super::Outcome;
use crate::model::envelope::Envelope;
use crate::suite::gate::Status;
use crate::suite::spec::EnvelopeSpec;

/// The check's outcome: the worst rates over the shipped bounds; fails when a bound misses
/// either rate or when no bound could be derived at all (the reasons are in the detail).
pub(crate) fn judge(a: &EnvelopeSpec, envelope: &Envelope) -> Outcome {
    let mut values = BTreeMap::new();
    let (mut worst_clean, mut worst_broken, mut failures) = (0f64, 1f64, Vec::new());
    for b in &envelope.bounds {
        let Some(v) = b.validation else { continue };
        let (clean, broken) = (f64::from(v.clean_outside), f64::from(v.broken_outside));
        values.insert(format!("clean_outside@{}", b.check), clean);
        values.insert(format!("broken_outside@{}", b.check), broken);
        worst_clean = worst_clean.max(clean);
        worst_broken = worst_broken.min(broken);
        if clean > a.max_clean_outside || broken < a.min_broken_outside {
            failures.push(b.check.clone());
        }
    }
    let bounds: Vec<String> = envelope
        .bounds
        .iter()
        .map(|b| {
            let side = b.direction.symbol();
            format!("{} {side} {:.3e} ({})", b.measure.name(), b.bound, b.check)
        })
        .collect();
    let unseparated: Vec<String> =
        envelope.unseparated.iter().map(|u| format!("{}: {}", u.check, u.reason)).collect();
    let holds = !envelope.bounds.is_empty() && failures.is_empty();
    let mut detail = if envelope.bounds.is_empty() {
        "no robustness curve gave a bound".to_string()
    } else {
        format!(
            "{}; on held-apart cases at most {:.0}% of clean flagged (limit {:.0}%), at least \
             {:.0}% past breaking (limit {:.0}%)",
            bounds.join(", "),
            worst_clean * 100.0,
            a.max_clean_outside * 100.0,
            worst_broken * 100.0,
            a.min_broken_outside * 100.0
        )
    };
    if !unseparated.is_empty() {
        detail.push_str(&format!("; no bound: {}", unseparated.join("; ")));
    }
    Outcome {
        status: if holds { Status::Pass } else { Status::Fail },
        measured: (!envelope.bounds.is_empty()).then_some(worst_clean),
        threshold: Some(a.max_clean_outside),
        unit: "fraction",
        detail,
        failures,
        values,
    }
}
