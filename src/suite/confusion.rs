//! A classifier's confusion matrix and per-class recall: counted by the `top1` metric, kept
//! in a check's `values` (`confusion:<true>|<predicted>` counts, `recall:<class>` rates, so
//! JSON readers get them with every other figure), and drawn as a table in the HTML report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::report::CheckResult;

const CONFUSION: &str = "confusion:";
const RECALL: &str = "recall:";

/// The values of a confusion matrix given as (true label, top prediction) counts.
pub(crate) fn values(counts: &BTreeMap<(String, String), usize>) -> Vec<(String, f64)> {
    let mut per_class: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut out = Vec::new();
    for ((truth, predicted), n) in counts {
        out.push((format!("{CONFUSION}{truth}|{predicted}"), *n as f64));
        let e = per_class.entry(truth).or_default();
        e.1 += n;
        if truth == predicted {
            e.0 += n;
        }
    }
    out.extend(
        per_class
            .into_iter()
            .map(|(c, (hit, all))| (format!("{RECALL}{c}"), hit as f64 / all as f64)),
    );
    out
}

/// The matrix of a check's values as an HTML table (rows: true class; columns: predicted),
/// with each class's recall; empty when the check holds none.
pub(crate) fn table(c: &CheckResult, esc: impl Fn(&str) -> String) -> String {
    let cells: BTreeMap<(&str, &str), f64> = c
        .values
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(CONFUSION)?.split_once('|').map(|t| (t, *v)))
        .collect();
    if cells.is_empty() {
        return String::new();
    }
    let classes: BTreeSet<&str> = cells.keys().flat_map(|(t, p)| [*t, *p]).collect();
    let mut h = format!(
        "<figure class=\"confusion\" data-check=\"{}\"><figcaption><strong>{}</strong>: rows are \
         the labelled class, columns the model's top class</figcaption><div class=\"table-wrap\">\
         <table><thead><tr><th></th>",
        esc(&c.name),
        esc(&c.name)
    );
    for p in &classes {
        let _ = write!(h, "<th>{}</th>", esc(p));
    }
    h.push_str("<th>recall</th></tr></thead><tbody>");
    for t in &classes {
        let Some(recall) = c.values.get(&format!("{RECALL}{t}")) else {
            continue;
        };
        let _ = write!(h, "<tr><th>{}</th>", esc(t));
        for p in &classes {
            let n = cells.get(&(*t, *p)).copied().unwrap_or(0.0);
            let style = if n > 0.0 && t != p { " class=\"s-fail\"" } else { "" };
            let _ = write!(h, "<td{style}>{n}</td>");
        }
        let _ = write!(h, "<td>{recall:.3}</td></tr>");
    }
    h.push_str("</tbody></table></div></figure>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_become_values_and_a_table() {
        let counts: BTreeMap<(String, String), usize> =
            [(("cat", "cat"), 3), (("cat", "dog"), 1), (("dog", "dog"), 2)]
                .into_iter()
                .map(|((a, b), n)| ((a.to_string(), b.to_string()), n))
                .collect();
        let v: BTreeMap<String, f64> = values(&counts).into_iter().collect();
        assert_eq!(v["confusion:cat|dog"], 1.0);
        assert_eq!(v["recall:cat"], 0.75);
        assert_eq!(v["recall:dog"], 1.0);
        let check = CheckResult {
            name: "top1".into(),
            kind: "accuracy".into(),
            description: String::new(),
            severity: crate::suite::spec::Severity::Critical,
            passed: Some(true),
            status: crate::suite::gate::Status::Pass,
            measured: Some(5.0 / 6.0),
            threshold: Some(0.5),
            unit: "rate".into(),
            detail: String::new(),
            failures: vec![],
            values: v,
        };
        let html = table(&check, |s| s.to_string());
        assert!(
            html.contains("<th>cat</th><td>3</td><td class=\"s-fail\">1</td><td>0.750</td>"),
            "{html}"
        );
    }
}
