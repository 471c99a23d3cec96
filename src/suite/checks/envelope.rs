//! `kind = "envelope"`: the operating envelope this run derived (see
//! [`suite::envelope`](crate::suite::envelope)), judged on the cases that did not set it.
//! Evaluated after every other check, since the envelope comes from the robustness curves.

use std::collections::BTreeMap;

use super::Outcome;
use crate::model::envelope::Envelope;
use crate::model::risk::Risk;
use crate::suite::envelope::risk::misses;
use crate::suite::gate::Status;
use crate::suite::spec::EnvelopeSpec;

/// The check's outcome. With `faults`: the fitted `flag`'s rates per fault on the held-apart
/// cases, failing when a fault misses either rate or no flag could be fitted (the error says
/// why). Without: the worst rates over the shipped bounds, failing when a bound misses
/// either rate or when no bound could be derived at all (the reasons are in the detail).
pub(crate) fn judge(
    a: &EnvelopeSpec,
    envelope: &Envelope,
    flag: Option<&Result<Risk, String>>,
) -> Outcome {
    if !a.faults.is_empty() {
        return match flag {
            Some(Ok(risk)) => judge_flag(a, risk),
            Some(Err(e)) => Outcome::cannot(format!("no flag was fitted: {e}")),
            None => Outcome::cannot("no flag was fitted: no input"),
        };
    }
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

/// The fitted flag against both rates, fault by fault, on the held-apart cases.
fn judge_flag(a: &EnvelopeSpec, risk: &Risk) -> Outcome {
    let mut values = BTreeMap::new();
    let mut parts = Vec::new();
    let mut worst_held = 0f64;
    for r in &risk.fitted.held_apart {
        let mut part = format!("{}:", r.fault);
        if let Some(b) = r.broken_rate() {
            values.insert(format!("broken_flagged@{}", r.fault), b);
            part.push_str(&format!(" {:.0}% of {} broken", b * 100.0, r.broken));
        }
        if let Some(h) = r.held_rate() {
            values.insert(format!("held_flagged@{}", r.fault), h);
            part.push_str(&format!(" {:.1}% of {} held", h * 100.0, r.held));
            worst_held = worst_held.max(h);
        }
        parts.push(part);
    }
    let failures = misses(risk, a);
    let f = &risk.fitted;
    let detail = format!(
        "flag fitted on the fit part ({} cases, {} inputs, {} with decisions changed; {:.1}% of \
         its held inputs flagged); flagged on the held-apart part: {} (limits: at least {:.0}% \
         of broken, at most {:.0}% of held){}",
        f.cases,
        f.rows,
        f.broken,
        f.held_flagged * 100.0,
        parts.join(", "),
        a.min_broken_outside * 100.0,
        a.max_clean_outside * 100.0,
        if failures.is_empty() {
            String::new()
        } else {
            format!(
                "; not separated: {} (the flag is not shipped: serving keeps the bounds)",
                failures.join(", ")
            )
        }
    );
    Outcome {
        status: if failures.is_empty() { Status::Pass } else { Status::Fail },
        measured: Some(worst_held),
        threshold: Some(a.max_clean_outside),
        unit: "fraction",
        detail,
        failures,
        values,
    }
}
