//! The operating envelope, derived from a run's robustness curves.
//!
//! For each robustness check whose corruption moves a condition measure (contrast lowers
//! contrast, blur lowers sharpness, noise raises the noise estimate, brightness
//! raises brightness), the inputs the check held on — its clean cases and every severity up to
//! the last that held — are compared with those at the severity where it broke. The cases are
//! split in two: the bound is fitted on one half (between the 5th percentile of the held inputs
//! and the 90th of the broken ones, so at most 5 % of held and at least 90 % of broken inputs
//! fall outside), and validated on the other, which did not set it: the share of its clean
//! cases flagged outside and of its inputs past the breaking severity flagged outside are
//! reported. Where the two overlap — the measure does not separate what the model survives from
//! what breaks it — no bound is shipped and the envelope says why: a bound that fires at random
//! would teach the people watching it to ignore it.
//!
//! An envelope check that names `faults` also fits a flag on them ([`risk`]): the model's own
//! uncertainty beside the measures, judged by whether decisions changed.

mod logistic;
pub(crate) mod risk;

use std::collections::HashMap;

use super::perturb::Perturbation;
use super::plan::Key;
use super::report::CheckResult;
use super::spec::{Case, CheckKind, RobustnessSpec, Suite};
use crate::latency::nearest_rank;
use crate::model::condition::{Condition, Measure};
use crate::model::envelope::{Bound, Direction, Envelope, Unseparated, Validation};
use crate::model::risk::Risk;

/// Share of held inputs a bound may put outside, fitted.
const HELD_OUTSIDE: f64 = 0.05;
/// Share of broken inputs a bound must put outside, fitted.
const BROKEN_OUTSIDE: f64 = 0.90;

/// The measure a corruption moves, and which side of it stays inside; `None` for corruptions
/// no cheap measure sees (JPEG blocks, geometry, occlusion).
pub(crate) fn measure_of(p: Perturbation) -> Option<(Measure, Direction)> {
    match p {
        Perturbation::Contrast => Some((Measure::Contrast, Direction::Min)),
        Perturbation::GaussianBlur | Perturbation::DefocusBlur | Perturbation::MotionBlur => {
            Some((Measure::Sharpness, Direction::Min))
        }
        Perturbation::GaussianNoise => Some((Measure::Noise, Direction::Max)),
        Perturbation::Brightness => Some((Measure::Brightness, Direction::Max)),
        _ => None,
    }
}

/// The envelope of a run: a bound per evaluated robustness check whose corruption has a
/// measure and separates, an `unseparated` entry for the others, and the flag where the
/// suite's envelope check names faults and the flag separates them; beside it, the flag as
/// fitted (or why none could be), for the check to judge. `results` are the suite's check
/// results in order; `observed` gives an input's signals and decisions.
pub(crate) fn derive<'a>(
    suite: &Suite,
    results: &[CheckResult],
    conditions: &HashMap<Key, Condition>,
    observed: &dyn Fn(&Key) -> risk::Observed<'a>,
) -> (Envelope, Option<Result<Risk, String>>) {
    let mut envelope = Envelope::default();
    let mut flag = None;
    // The first envelope check that names faults fits the flag.
    let flagged = suite.checks.iter().find_map(|c| match &c.kind {
        CheckKind::Envelope(a) if !a.faults.is_empty() => Some(a),
        _ => None,
    });
    if let Some(spec) = flagged {
        let fitted = match suite.select(&spec.select) {
            Ok(cases) if !cases.is_empty() => {
                risk::fit(spec, &cases, &|case, fault| observed(&(case.id.clone(), fault)))
            }
            Ok(_) => Err(format!("no case in slice {:?}", spec.select.slice)),
            Err(missing) => Err(format!("no case with id {}", missing.join(", "))),
        };
        // Shipped only where it separates every fault on the held-apart part, as a bound is:
        // a flag that fires at random teaches the people watching it to ignore it.
        if let Ok(r) = &fitted {
            if risk::misses(r, spec).is_empty() {
                envelope.risk = Some(r.clone());
            }
        }
        flag = Some(fitted);
    }
    for (check, result) in suite.checks.iter().zip(results) {
        let CheckKind::Robustness(a) = &check.kind else { continue };
        let (Some((measure, direction)), Some(held)) = (measure_of(a.corruption), result.measured)
        else {
            continue;
        };
        let Ok(cases) = suite.select(&a.select) else { continue };
        let curve = Curve { spec: a, measure, conditions };
        match fit(&curve, &cases, held as u8, direction) {
            Ok(mut bound) => {
                bound.check = check.name.clone();
                envelope.bounds.push(bound);
            }
            Err(reason) => envelope.unseparated.push(Unseparated {
                check: check.name.clone(),
                measure,
                reason,
            }),
        }
    }
    (envelope, flag)
}

/// One robustness check's measured inputs.
struct Curve<'a> {
    spec: &'a RobustnessSpec,
    measure: Measure,
    conditions: &'a HashMap<Key, Condition>,
}

impl Curve<'_> {
    /// The measure over `cases` at `severity` (0: clean), for the inputs that were measured.
    fn values(&self, cases: &[&Case], severity: u8) -> Vec<f32> {
        let fault = (severity > 0).then(|| self.spec.fault(severity));
        cases
            .iter()
            .filter_map(|c| self.conditions.get(&(c.id.clone(), fault)))
            .map(|c| c.get(self.measure))
            .collect()
    }

    fn over(&self, cases: &[&Case], severities: std::ops::RangeInclusive<u8>) -> Vec<f32> {
        let mut v: Vec<f32> = severities.flat_map(|s| self.values(cases, s)).collect();
        v.sort_by(f32::total_cmp);
        v
    }
}

/// The cases a bound is fitted on and those it is validated on: the suite's split where its
/// cases carry one (`fit` / `held-apart`), else alternate cases by position.
fn halves<'a>(cases: &[&'a Case]) -> (Vec<&'a Case>, Vec<&'a Case>) {
    use super::split::{FIT, HELD_APART};
    let tagged = |c: &Case, t: &str| c.tags.iter().any(|x| x == t);
    if cases.iter().any(|c| tagged(c, FIT) || tagged(c, HELD_APART)) {
        let fit = cases.iter().copied().filter(|c| tagged(c, FIT)).collect();
        let held = cases.iter().copied().filter(|c| tagged(c, HELD_APART)).collect();
        return (fit, held);
    }
    let (a, b): (Vec<_>, Vec<_>) = cases.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    (a.into_iter().map(|x| *x.1).collect(), b.into_iter().map(|x| *x.1).collect())
}

fn fit(curve: &Curve, cases: &[&Case], held: u8, direction: Direction) -> Result<Bound, String> {
    let (fit_half, check_half) = halves(cases);
    let all = curve.over(cases, 0..=held);
    let (Some(&lo), Some(&hi)) = (all.first(), all.last()) else {
        return Err("no input was measured".into());
    };
    let broke_at = (held < 5).then_some(held + 1);
    let broken_all = broke_at.map(|b| curve.over(cases, b..=b)).unwrap_or_default();
    let mut bound = Bound {
        measure: curve.measure,
        direction,
        bound: match direction {
            Direction::Min => lo,
            Direction::Max => hi,
        },
        proven: [lo, hi],
        broken_median: (!broken_all.is_empty()).then(|| nearest_rank(&broken_all, 0.5)),
        check: String::new(),
        corruption: curve.spec.corruption.name().into(),
        held_through: held,
        broke_at,
        validation: None,
    };
    let Some(broke_at) = broke_at else {
        // Held through severity 5: no broken inputs to separate from; the edge of what was
        // proven is the bound.
        return Ok(bound);
    };
    let held_fit = curve.over(&fit_half, 0..=held);
    let broken_fit = curve.over(&fit_half, broke_at..=broke_at);
    if held_fit.is_empty() || broken_fit.is_empty() || check_half.is_empty() {
        return Err("too few measured cases to fit and validate a bound".into());
    }
    // Seen from the inside: for a `Min` bound, held inputs lie above and broken ones below.
    let (edge_held, edge_broken) = match direction {
        Direction::Min => {
            (nearest_rank(&held_fit, HELD_OUTSIDE), nearest_rank(&broken_fit, BROKEN_OUTSIDE))
        }
        Direction::Max => (
            nearest_rank(&held_fit, 1.0 - HELD_OUTSIDE),
            nearest_rank(&broken_fit, 1.0 - BROKEN_OUTSIDE),
        ),
    };
    let separates = match direction {
        Direction::Min => edge_broken < edge_held,
        Direction::Max => edge_broken > edge_held,
    };
    if !separates {
        return Err(format!(
            "{} does not separate the inputs the model held on under {} from those it broke on (at severity \
             {broke_at}, 90% of broken inputs reach {edge_broken:.3e}, 5% of held ones {edge_held:.3e})",
            curve.measure.name(),
            curve.spec.corruption.name()
        ));
    }
    bound.bound = (edge_held + edge_broken) / 2.0;
    let outside = |v: &[f32]| -> f32 {
        let n = v.iter().filter(|&&x| !bound.admits(x)).count();
        if v.is_empty() {
            0.0
        } else {
            n as f32 / v.len() as f32
        }
    };
    let clean = curve.over(&check_half, 0..=0);
    let broken = curve.over(&check_half, broke_at..=5);
    let v = Validation {
        clean_outside: outside(&clean),
        broken_outside: outside(&broken),
        clean: clean.len(),
        broken: broken.len(),
    };
    if f64::from(v.clean_outside) > HELD_OUTSIDE || f64::from(v.broken_outside) < BROKEN_OUTSIDE {
        return Err(format!(
            "a {} bound fitted on half the cases flags {:.0}% of the other half's clean cases \
             and {:.0}% of its inputs past severity {held}: it would fire at random",
            curve.measure.name(),
            v.clean_outside * 100.0,
            v.broken_outside * 100.0
        ));
    }
    bound.validation = Some(v);
    Ok(bound)
}
