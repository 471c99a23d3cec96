//! Reading `suite.toml`: parsing, resolving cases (explicit paths and globs) inside the
//! suite's directory, and validating every check before anything runs.
//!
//! Every key is checked: an unknown key, or a key that does not belong to a check's kind, is
//! an error naming its key path (`checks[3].treshold`).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::perturb::At;
use super::spec::*;
use super::validate::validate;
use crate::error::{Error, Result};
use crate::files::{from_toml_value, parse_toml, read_text, sha256_hex};

/// The file as written, before per-kind parsing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    cases: Vec<super::cases::RawCase>,
    /// Annotation exports read as cases.
    #[serde(default)]
    datasets: Vec<super::datasets::DatasetSpec>,
    #[serde(default)]
    slices: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    recheck: Vec<String>,
    /// The whole self-test's time budget in ms (per target like every threshold): adds a
    /// minor `boot-budget` check, last.
    #[serde(default)]
    budget_ms: Option<Threshold>,
    /// Share of recent served frames outside the envelope past which health alarms.
    #[serde(default)]
    outside_alarm: Option<f64>,
    /// The seeded rule tagging each case `fit` or `held-apart`.
    #[serde(default)]
    split: Option<super::split::Split>,
    /// Where the checks' perturbations apply unless a check says (default: the input).
    #[serde(default)]
    perturb_at: Option<At>,
    #[serde(default)]
    checks: Vec<toml::Table>,
}

impl Suite {
    /// Reads and validates a suite; case paths are relative to the suite's directory and may
    /// not leave it.
    pub fn load(path: &Path) -> Result<Suite> {
        let text = read_text(path)?;
        let raw: RawSuite = parse_toml(path, &text)?;
        let dir = crate::files::dir_of(path);
        let mut cases = super::cases::resolve_cases(path, dir, raw.cases)?;
        let mut ids: HashSet<String> = cases.iter().map(|c| c.id.clone()).collect();
        cases.extend(super::datasets::load_datasets(path, dir, raw.datasets, &mut ids)?);
        // `[slices]` adds a tag to listed case ids: slices chosen by a measurement (say, the
        // lowest-contrast quartile) rather than by file name.
        for (tag, ids) in &raw.slices {
            for id in ids {
                let case = cases.iter_mut().find(|c| &c.id == id).ok_or_else(|| {
                    Error::config(path, format!("slices.{tag}"), format!("no case with id {id:?}"))
                })?;
                if !case.tags.contains(tag) {
                    case.tags.push(tag.clone());
                }
            }
        }
        if let Some(split) = raw.split {
            tag_parts(path, &mut cases, split)?;
        }
        let mut names = HashSet::new();
        let mut checks = Vec::new();
        for (i, table) in raw.checks.into_iter().enumerate() {
            let mut check = parse_check(path, i, table)?;
            place_faults(&mut check, raw.perturb_at.unwrap_or_default());
            if !names.insert(check.name.clone()) {
                return Err(Error::config(
                    path,
                    format!("checks[{i}].name"),
                    format!("duplicate check name {:?}", check.name),
                ));
            }
            checks.push(check);
        }
        if checks.is_empty() {
            // A suite that checks nothing would pass: refuse it instead.
            return Err(Error::config(path, "checks", "the suite has no checks"));
        }
        if let Some(threshold) = raw.budget_ms {
            let check = CheckSpec {
                name: BOOT_BUDGET_CHECK.into(),
                severity: Severity::Minor,
                description:
                    "The whole self-test, bundle open to the last check, within the suite's budget."
                        .into(),
                kind: CheckKind::BootTime(BudgetSpec { threshold }),
            };
            validate(path, "budget_ms", &check).map_err(|e| match e {
                // The key is `budget_ms` itself, not a check's threshold.
                Error::Config { path, message, .. } => {
                    Error::Config { path, key: "budget_ms".into(), message }
                }
                other => other,
            })?;
            if !names.insert(check.name.clone()) {
                return Err(Error::config(
                    path,
                    "budget_ms",
                    format!("a check is already named {BOOT_BUDGET_CHECK:?}"),
                ));
            }
            checks.push(check);
        }
        if let Some(a) = raw.outside_alarm {
            if !(0.0..=1.0).contains(&a) {
                return Err(Error::config(
                    path,
                    "outside_alarm",
                    format!("must be within 0..=1, got {a}"),
                ));
            }
        }
        for (i, name) in raw.recheck.iter().enumerate() {
            if !names.contains(name) {
                return Err(Error::config(
                    path,
                    format!("recheck[{i}]"),
                    format!("no check named {name:?}"),
                ));
            }
        }
        Ok(Suite {
            path: path.to_path_buf(),
            sha256: sha256_hex(text.as_bytes()),
            name: raw.name,
            cases,
            checks,
            recheck: raw.recheck,
            outside_alarm: raw.outside_alarm,
        })
    }

    /// The same suite with only the checks named in `recheck`.
    pub fn recheck_subset(&self) -> Suite {
        let mut s = self.clone();
        s.checks.retain(|c| self.recheck.contains(&c.name));
        s
    }

    /// The case with `id`.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// The selected cases, or the ids that do not exist.
    pub(crate) fn select(&self, s: &Selection) -> std::result::Result<Vec<&Case>, Vec<String>> {
        let mut chosen: Vec<&Case> = if s.cases.is_empty() {
            self.cases.iter().filter(|c| s.slice.iter().all(|t| c.tags.contains(t))).collect()
        } else {
            let missing: Vec<String> =
                s.cases.iter().filter(|id| self.case(id).is_none()).cloned().collect();
            if !missing.is_empty() {
                return Err(missing);
            }
            s.cases.iter().filter_map(|id| self.case(id)).collect()
        };
        if let Some(n) = s.limit {
            chosen.truncate(n);
        }
        Ok(chosen)
    }
}

/// Tags every case with the part of the split it is in.
fn tag_parts(path: &Path, cases: &mut [Case], split: super::split::Split) -> Result<()> {
    use super::split::{FIT, HELD_APART};
    if !(split.held_apart > 0.0 && split.held_apart < 1.0) {
        return Err(Error::config(
            path,
            "split.held_apart",
            format!("must be within 0..1 (exclusive), got {}", split.held_apart),
        ));
    }
    for case in cases {
        if case.tags.iter().any(|t| t == FIT || t == HELD_APART) {
            return Err(Error::config(
                path,
                "split",
                format!("case {:?} is tagged {FIT:?} or {HELD_APART:?} by hand: the split gives those tags", case.id),
            ));
        }
        case.tags.push(split.part(&case.id).to_string());
    }
    Ok(())
}

/// Gives every perturbation of `check` that names no place the suite's.
fn place_faults(check: &mut CheckSpec, default: At) {
    let place = |at: &mut Option<At>| {
        at.get_or_insert(default);
    };
    match &mut check.kind {
        CheckKind::Invariance(a) => a.perturbations.iter_mut().for_each(|p| place(&mut p.at)),
        CheckKind::Directional(a) => place(&mut a.perturbation.at),
        CheckKind::Robustness(a) => place(&mut a.at),
        CheckKind::Envelope(a) => place(&mut a.at),
        _ => {}
    }
}

fn take<T: DeserializeOwned>(
    file: &Path,
    prefix: &str,
    table: &mut toml::Table,
    key: &str,
) -> Result<Option<T>> {
    table.remove(key).map(|v| from_toml_value(file, &format!("{prefix}.{key}"), v)).transpose()
}

fn parse_check(file: &Path, i: usize, mut table: toml::Table) -> Result<CheckSpec> {
    let prefix = format!("checks[{i}]");
    let name: String = take(file, &prefix, &mut table, "name")?
        .ok_or_else(|| Error::config(file, format!("{prefix}.name"), "missing"))?;
    let kind: String = take(file, &prefix, &mut table, "kind")?
        .ok_or_else(|| Error::config(file, format!("{prefix}.kind"), "missing"))?;
    let severity: Severity = take(file, &prefix, &mut table, "severity")?.ok_or_else(|| {
        Error::config(file, format!("{prefix}.severity"), "missing (critical, major or minor)")
    })?;
    let description: String = take(file, &prefix, &mut table, "description")?.unwrap_or_default();
    fn rest<T: DeserializeOwned>(file: &Path, prefix: &str, table: toml::Table) -> Result<T> {
        from_toml_value(file, prefix, toml::Value::Table(table))
    }
    let Ok(kind_name) = kind.parse::<CheckKindName>() else {
        let known = <CheckKindName as strum::VariantNames>::VARIANTS.join(", ");
        return Err(Error::config(
            file,
            format!("{prefix}.kind"),
            format!("unknown check kind {kind:?} ({known})"),
        ));
    };
    let kind = match kind_name {
        CheckKindName::Accuracy => CheckKind::Accuracy(rest(file, &prefix, table)?),
        CheckKindName::Invariance => CheckKind::Invariance(rest(file, &prefix, table)?),
        CheckKindName::Directional => CheckKind::Directional(rest(file, &prefix, table)?),
        CheckKindName::Robustness => CheckKind::Robustness(rest(file, &prefix, table)?),
        CheckKindName::Latency => CheckKind::Latency(rest(file, &prefix, table)?),
        CheckKindName::ColdStart => CheckKind::ColdStart(rest(file, &prefix, table)?),
        CheckKindName::Memory => CheckKind::Memory(rest(file, &prefix, table)?),
        CheckKindName::Parity => CheckKind::Parity(rest(file, &prefix, table)?),
        CheckKindName::BootTime => CheckKind::BootTime(rest(file, &prefix, table)?),
        CheckKindName::Envelope => CheckKind::Envelope(rest(file, &prefix, table)?),
    };
    let check = CheckSpec { name, severity, description, kind };
    validate(file, &prefix, &check)?;
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Suite> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.png"), b"").unwrap();
        std::fs::write(dir.path().join("b.png"), b"").unwrap();
        let path = dir.path().join("suite.toml");
        std::fs::write(&path, text).unwrap();
        Suite::load(&path)
    }

    const CASES: &str = "name = \"t\"\n[[cases]]\nglob = \"*.png\"\ntags = [\"x\"]\nobjects = 1\n";

    const ONE_CHECK: &str = "[[checks]]\nname = \"n\"\nkind = \"accuracy\"\nseverity = \"major\"\nmetric = \"recall\"\nthreshold = 0.5\n";

    #[test]
    fn a_split_tags_every_case_with_its_part() {
        let split = "split = { seed = 34, held_apart = 0.5 }\n";
        let suite = load(&format!("{split}{CASES}{ONE_CHECK}")).unwrap();
        let rule = crate::suite::split::Split { seed: 34, held_apart: 0.5 };
        for case in &suite.cases {
            assert!(case.tags.contains(&rule.part(&case.id).to_string()), "{case:?}");
        }
        let bad = load(&format!("split = {{ seed = 1, held_apart = 1.0 }}\n{CASES}{ONE_CHECK}"));
        assert!(bad.unwrap_err().to_string().contains("split.held_apart"));
        let by_hand = CASES.replace("tags = [\"x\"]", "tags = [\"fit\"]");
        let err = load(&format!("{split}{by_hand}{ONE_CHECK}")).unwrap_err().to_string();
        assert!(err.contains("by hand"), "{err}");
    }

    #[test]
    fn parses_every_kind() {
        let text = format!(
            "{CASES}
[[checks]]
name = \"recall\"
kind = \"accuracy\"
severity = \"critical\"
metric = \"recall\"
slice = [\"x\"]
threshold = {{ default = 0.9, rpi4 = 0.8 }}
[[checks]]
name = \"p99\"
kind = \"latency\"
severity = \"critical\"
stat = \"p99\"
threshold = 50.0
[[checks]]
name = \"noise\"
kind = \"invariance\"
severity = \"major\"
perturbations = [{{ name = \"gaussian_noise\", severity = 1 }}]
threshold = 0.9
"
        );
        let s = load(&text).unwrap();
        assert_eq!(s.cases.len(), 2);
        assert_eq!(s.cases[0].id, "a");
        assert_eq!(s.checks.len(), 3);
        let CheckKind::Accuracy(a) = &s.checks[0].kind else { panic!() };
        assert_eq!(a.threshold.for_target(Some("rpi4")), 0.8);
        assert_eq!(a.threshold.for_target(Some("other")), 0.9);
        assert_eq!(a.threshold.for_target(None), 0.9);
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        let text = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"latency\"\nseverity = \"minor\"\nstat = \"p99\"\nthreshold = 5.0\ntreshold = 5.0\n");
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains("checks[0]") && err.contains("unknown field `treshold`"), "{err}");
        let text = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"accuracy\"\nseverity = \"minor\"\nmetric = \"recall\"\nthreshold = 0.5\nslices = [\"x\"]\n");
        let err = load(&text).unwrap_err().to_string();
        assert!(err.contains("checks[0]") && err.contains("unknown field `slices`"), "{err}");
        let err = load(&format!("{CASES}colour = 1\n")).unwrap_err().to_string();
        assert!(err.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn impossible_thresholds_are_refused() {
        let acc = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"accuracy\"\nseverity = \"major\"\nmetric = \"recall\"\nthreshold = 1.5\n");
        let err = load(&acc).unwrap_err().to_string();
        assert!(err.contains("checks[0].threshold") && err.contains("0..=1"), "{err}");
        let lat = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"latency\"\nseverity = \"major\"\nstat = \"p99\"\nthreshold = {{ rpi4 = -1.0 }}\n");
        assert!(load(&lat).unwrap_err().to_string().contains("default"));
    }

    #[test]
    fn directional_takes_a_direction_or_an_expected_label() {
        let head = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"directional\"\nseverity = \"major\"\nthreshold = 0.9\nperturbation = {{ name = \"upside_down\", severity = 1 }}\n");
        let s = load(&format!("{head}expect = \"180\"\n")).unwrap();
        let CheckKind::Directional(d) = &s.checks[0].kind else { panic!() };
        assert_eq!((d.expect.as_deref(), d.direction), (Some("180"), None));
        assert!(load(&format!("{head}direction = \"decrease\"\n")).is_ok());
        for bad in [head.clone(), format!("{head}expect = \"180\"\ndirection = \"decrease\"\n")] {
            let err = load(&bad).unwrap_err().to_string();
            assert!(err.contains("checks[0].direction") && err.contains("exactly one"), "{err}");
        }
    }

    #[test]
    fn text_labels_and_text_metrics() {
        let text = "name = \"s\"\n[[cases]]\nimage = \"a.png\"\ntext = \"Region-based\"\n[[checks]]\nname = \"n\"\nkind = \"accuracy\"\nseverity = \"major\"\nmetric = \"cer\"\ncases = [\"a\"]\nthreshold = 0.05\n";
        let s = load(text).unwrap();
        assert_eq!(s.cases[0].text.as_deref(), Some("Region-based"));
        let CheckKind::Accuracy(a) = &s.checks[0].kind else { panic!() };
        assert!(a.metric.lower_is_better() && !Metric::TextMatch.lower_is_better());
    }

    #[test]
    fn bad_kind_severity_and_perturbation() {
        let k =
            format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"vibes\"\nseverity = \"major\"\n");
        assert!(load(&k).unwrap_err().to_string().contains("checks[0].kind"));
        let s = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"memory\"\nseverity = \"urgent\"\nthreshold = 1.0\n");
        assert!(load(&s).unwrap_err().to_string().contains("checks[0].severity"));
        let p = format!("{CASES}[[checks]]\nname = \"n\"\nkind = \"invariance\"\nseverity = \"major\"\nthreshold = 1.0\nperturbations = [{{ name = \"frost\", severity = 1 }}]\n");
        let err = load(&p).unwrap_err().to_string();
        assert!(err.contains("checks[0].perturbations[0].name"), "{err}");
    }

    #[test]
    fn selection_by_tag_ids_and_limit() {
        // A suite must check something; one memory check does.
        let one =
            "[[checks]]\nname = \"m\"\nkind = \"memory\"\nseverity = \"minor\"\nthreshold = 1.0\n";
        let s = load(&format!("{CASES}{one}")).unwrap();
        let by_tag = Selection { slice: vec!["x".into()], ..Default::default() };
        assert_eq!(s.select(&by_tag).unwrap().len(), 2);
        let limited = Selection { limit: Some(1), ..by_tag };
        assert_eq!(s.select(&limited).unwrap().len(), 1);
        let missing = Selection { cases: vec!["zzz".into()], ..Default::default() };
        assert_eq!(s.select(&missing).unwrap_err(), vec!["zzz".to_string()]);
    }

    #[test]
    fn case_paths_may_not_leave_the_suite_directory() {
        let err = load("name = \"t\"\n[[cases]]\nimage = \"../x.png\"\n").unwrap_err().to_string();
        assert!(err.contains("cases[0].image"), "{err}");
    }
}
