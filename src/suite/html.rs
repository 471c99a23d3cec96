//! The report as one self-contained HTML page a customer or a reviewer reads: the verdict
//! first, how the device was tested in plain words, every check, robustness curves and latency
//! windows as inline SVG, failing cases as pictures. No scripts, no network: inline CSS and
//! SVG, images as data URIs, so it opens anywhere, a phone included.

use std::fmt::Write;

use base64::Engine as _;

use super::evidence::CaseEvidence;
use super::gate::Status;
use super::gate::Verdict;
use super::report::{CheckResult, Report};

const STYLE: &str = "
body{font:16px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1a202c;background:#f7fafc}
main{max-width:60rem;margin:0 auto;padding:0 1rem 3rem}
.verdict{color:#fff;padding:1.4rem 1rem;margin:0 -1rem 1rem}
.verdict h1{margin:0;font-size:2rem;letter-spacing:.02em}
.verdict p{margin:.3rem 0 0;font-size:1.1rem}
.v-pass{background:#1b7f3b}.v-degraded{background:#b7791f}.v-fail{background:#c53030}
h2{margin:2rem 0 .6rem;font-size:1.3rem;border-bottom:1px solid #cbd5e0;padding-bottom:.2rem}
dl{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.25rem 1rem;margin:0}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
code{font-size:.85em}
table{border-collapse:collapse;width:100%;font-size:.92rem;background:#fff}
th,td{border-bottom:1px solid #e2e8f0;padding:.4rem .5rem;text-align:left;vertical-align:top}
td.st{font-weight:700;white-space:nowrap}
.s-pass{color:#1b7f3b}.s-fail{color:#c53030}.s-not-measured{color:#718096}
.sev{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#4a5568}
.detail{color:#4a5568;font-size:.85rem}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:1rem}
figure{margin:0;background:#fff;border:1px solid #e2e8f0;padding:.6rem}
figcaption,.cap{font-size:.88rem;margin:.3rem 0 0}
.pair{display:flex;gap:.6rem;flex-wrap:wrap}
.pair div{flex:1 1 8rem;max-width:16rem}
.pair img{width:100%;image-rendering:pixelated;border:1px solid #cbd5e0}
.table-wrap{overflow-x:auto}
";

impl Report {
    /// The report as a self-contained HTML page, with `evidence` (see
    /// [`super::evidence::failing_cases`]) shown as pictures.
    pub fn to_html(&self, evidence: &[CaseEvidence]) -> String {
        let mut h = String::with_capacity(64 * 1024);
        let (pass, fail, unmeasured) = self.counts();
        let (class, headline, meaning) = match self.verdict {
            Verdict::Pass => ("v-pass", "PASS", "This device may serve the model: every check held."),
            Verdict::Degraded if self.serving_allowed => (
                "v-degraded",
                "DEGRADED",
                "This device may serve the model, with findings below: only checks of minor or major severity failed.",
            ),
            Verdict::Degraded => (
                "v-fail",
                "DEGRADED (strict)",
                "This device must not serve the model: strict mode refuses a degraded verdict.",
            ),
            Verdict::Fail => (
                "v-fail",
                "FAIL",
                "This device must not serve the model: a critical check failed or could not be measured.",
            ),
        };
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
             <title>preflight: {} {}</title><style>{STYLE}</style></head><body><main>\
             <section class=\"verdict {class}\" id=\"verdict\" data-verdict=\"{}\">\
             <h1>{headline}</h1><p>{meaning}</p><p>{pass} passed, {fail} failed, {unmeasured} not measured, of {} checks.</p></section>",
            esc(&self.bundle.name),
            self.verdict.name(),
            self.verdict.name(),
            self.checks.len(),
        );
        self.how_tested(&mut h);
        self.check_table(&mut h);
        self.charts(&mut h);
        let matrices: String =
            self.checks.iter().map(|c| super::confusion::table(c, esc)).collect();
        if !matrices.is_empty() {
            h.push_str("<h2>Confusions</h2>");
            h.push_str(&matrices);
        }
        failing(&mut h, evidence);
        h.push_str("</main></body></html>\n");
        h
    }

    fn how_tested(&self, h: &mut String) {
        let b = &self.bundle;
        let host = &self.host;
        let target = match (&host.target, host.emulated) {
            (Some(t), true) => format!("profile {} (emulated: latency is not measured)", esc(t)),
            (Some(t), false) if host.target_mismatch => {
                format!("profile {} (made for another CPU: not this machine's thresholds)", esc(t))
            }
            (Some(t), false) => format!("profile {}", esc(t)),
            (None, _) => "no profile (thresholds for any target)".into(),
        };
        let kernels =
            if host.kernels.is_empty() { "—".to_string() } else { esc(&host.kernels.join(", ")) };
        let unit = host.unit.as_ref().map_or(String::new(), |u| {
            format!("; unit <code>{}</code> (from {})", esc(&u.id), esc(&u.source))
        });
        let t = &self.timing;
        let _ = write!(
            h,
            "<h2>How this device was tested</h2><p>The model was run on this device against the \
             suite below: {} checks on labelled images, some of them corrupted on purpose \
             (noise, blur, low contrast, ...) to find where the model stops working. Every \
             threshold was set before the run; the verdict follows from the checks' severities.</p><dl>\
             <dt>Model</dt><dd>{} {} — sha256 <code>{}</code></dd>\
             <dt>Suite</dt><dd>{} — sha256 <code>{}</code></dd>\
             <dt>Hardware</dt><dd>{}, {} cores, <code>{}</code>; {target}{unit}</dd>\
             <dt>Inference</dt><dd>{} thread(s); kernels: {kernels}</dd>\
             <dt>Software</dt><dd>preflight {}, tract {}</dd>\
             <dt>When</dt><dd>{}, {:.1} s</dd>\
             <dt>Seed</dt><dd>{} (the same seed makes the same corrupted images)</dd>\
             <dt>Work</dt><dd>{} model runs for {} results asked, on {} job(s)</dd></dl>",
            self.checks.len(),
            esc(&b.name),
            esc(&b.version),
            esc(&b.model_sha256),
            esc(&b.suite),
            esc(&b.suite_sha256),
            esc(&host.cpu),
            host.cores,
            esc(&host.triple),
            host.threads,
            esc(&self.runtime.version),
            esc(&self.runtime.tract_version),
            esc(&self.started_at),
            self.duration_ms / 1e3,
            self.seed,
            t.inferences_run,
            t.inferences_requested,
            t.jobs,
        );
    }

    fn check_table(&self, h: &mut String) {
        h.push_str(
            "<h2>Checks</h2><div class=\"table-wrap\"><table><thead><tr><th>Result</th>\
             <th>Check</th><th>Measured</th><th>Limit</th></tr></thead><tbody>",
        );
        for c in &self.checks {
            let (class, word, status) = match c.status {
                Status::Pass => ("s-pass", "✓ pass", "pass"),
                Status::Fail => ("s-fail", "✗ fail", "fail"),
                Status::NotMeasured => ("s-not-measured", "– not measured", "not_measured"),
            };
            let figure = |v: Option<f64>| {
                v.map_or("—".to_string(), |v| format!("{} {}", num(v), esc(&c.unit)))
            };
            let _ = write!(
                h,
                "<tr class=\"check\" data-check=\"{}\" data-status=\"{}\"><td class=\"st {class}\">{word}</td>\
                 <td><strong>{}</strong> <span class=\"sev\">{} · {}</span><br/>{}<br/>\
                 <span class=\"detail\">{}</span></td><td>{}</td><td>{}</td></tr>",
                esc(&c.name),
                status,
                esc(&c.name),
                c.severity.name(),
                esc(&c.kind),
                esc(&c.description),
                esc(&c.detail),
                figure(c.measured),
                figure(c.threshold),
            );
        }
        h.push_str("</tbody></table></div>");
    }

    fn charts(&self, h: &mut String) {
        let curves: Vec<&CheckResult> =
            self.checks.iter().filter(|c| c.kind == "robustness").collect();
        if !curves.is_empty() {
            h.push_str(
                "<h2>Robustness: where the model breaks</h2><p>Each chart is one corruption at \
                 severities 1 (mild) to 5 (severe); the dashed line is the limit the metric must \
                 hold, the red mark the first severity where it did not.</p><div class=\"charts\">",
            );
            for c in curves {
                robustness_chart(h, c);
            }
            h.push_str("</div>");
        }
        let latency: Vec<&CheckResult> =
            self.checks.iter().filter(|c| c.kind == "latency").collect();
        if !latency.is_empty() {
            h.push_str(
                "<h2>Latency</h2><p>End-to-end time per image (resize, inference, decoding), \
                 measured in windows; the check uses the median window, so one scheduling spike \
                 cannot decide it.</p><div class=\"charts\">",
            );
            for c in latency {
                latency_chart(h, c);
            }
            h.push_str("</div>");
        }
    }
}

/// Chart geometry: the plot area inside a 300×180 view box.
const W: f64 = 300.0;
const H: f64 = 180.0;
const LEFT: f64 = 40.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

fn robustness_chart(h: &mut String, c: &CheckResult) {
    let points: Vec<(u8, f64)> = (1..=5u8)
        .filter_map(|s| {
            c.values.iter().find(|(k, _)| k.ends_with(&format!("@{s}"))).map(|(_, v)| (s, *v))
        })
        .collect();
    if points.is_empty() {
        return;
    }
    let metric = c.values.keys().find_map(|k| k.strip_suffix("@1")).unwrap_or("metric");
    let limit = c.values.get("limit").copied();
    let top = points.iter().map(|p| p.1).chain(limit).fold(1.0f64, f64::max);
    let x = |s: f64| LEFT + (s - 1.0) / 4.0 * (W - LEFT - RIGHT);
    let y = |v: f64| TOP + (1.0 - v / top) * (H - TOP - BOTTOM);
    let mut svg = axes(top, y);
    for s in 1..=5 {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{s}</text>",
            x(s as f64),
            H - BOTTOM + 14.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{H}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#4a5568\">severity</text>",
        (LEFT + W - RIGHT) / 2.0
    );
    if let Some(l) = limit {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#4a5568\" stroke-dasharray=\"5 4\"/>",
            W - RIGHT,
            y(l),
            y(l)
        );
    }
    let path: Vec<String> =
        points.iter().map(|&(s, v)| format!("{:.1},{:.1}", x(s as f64), y(v))).collect();
    let _ = write!(
        svg,
        "<polyline fill=\"none\" stroke=\"#2b6cb0\" stroke-width=\"2.5\" points=\"{}\"/>",
        path.join(" ")
    );
    // The severity held is `measured`; the one after it is where the curve broke.
    let breaking = c.measured.map(|m| m as u8 + 1).filter(|&b| b <= 5);
    for &(s, v) in &points {
        let (fill, r) = if Some(s) == breaking { ("#c53030", 6) } else { ("#2b6cb0", 3) };
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{fill}\"><title>severity {s}: {}</title></circle>",
            x(s as f64),
            y(v),
            num(v)
        );
    }
    let caption = match breaking {
        Some(b) => format!("breaks at severity {b}"),
        None => "holds through severity 5".into(),
    };
    let _ = write!(
        h,
        "<figure class=\"chart\" data-check=\"{}\"><svg viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"{} per severity\">{svg}</svg><figcaption><strong>{}</strong>: {} per \
         severity, {caption}{}</figcaption></figure>",
        esc(&c.name),
        esc(metric),
        esc(&c.name),
        esc(metric),
        limit.map_or(String::new(), |l| format!(" (limit {})", num(l))),
    );
}

fn latency_chart(h: &mut String, c: &CheckResult) {
    let windows: Vec<(String, f64)> = c
        .values
        .iter()
        .filter(|(k, _)| k.contains("@window"))
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    let stats: Vec<(&str, f64)> = ["p50", "p90", "p99", "max"]
        .iter()
        .filter_map(|k| c.values.get(*k).map(|v| (*k, *v)))
        .collect();
    if windows.is_empty() && stats.is_empty() {
        return;
    }
    let bars: Vec<(String, f64)> = if windows.is_empty() {
        stats.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    } else {
        windows.iter().map(|(k, v)| (k.replace("@window", " w"), *v)).collect()
    };
    let budget = c.threshold;
    let top = bars.iter().map(|b| b.1).chain(budget).fold(f64::MIN_POSITIVE, f64::max) * 1.1;
    let y = |v: f64| TOP + (1.0 - v / top) * (H - TOP - BOTTOM);
    let mut svg = axes(top, y);
    let slot = (W - LEFT - RIGHT) / bars.len() as f64;
    for (i, (label, v)) in bars.iter().enumerate() {
        let x0 = LEFT + i as f64 * slot + slot * 0.15;
        let over = budget.is_some_and(|b| *v > b);
        let _ = write!(
            svg,
            "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {} ms</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            y(*v),
            slot * 0.7,
            (H - BOTTOM) - y(*v),
            if over { "#c53030" } else { "#2b6cb0" },
            esc(label),
            num(*v),
            x0 + slot * 0.35,
            H - BOTTOM + 14.0,
            esc(label),
        );
    }
    if let Some(b) = budget {
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#c53030\" stroke-dasharray=\"5 4\"/>",
            W - RIGHT,
            y(b),
            y(b)
        );
    }
    let summary: Vec<String> = stats.iter().map(|(k, v)| format!("{k} {}", num(*v))).collect();
    let _ = write!(
        h,
        "<figure class=\"chart\" data-check=\"{}\"><svg viewBox=\"0 0 {W} {H}\" role=\"img\" \
         aria-label=\"latency in milliseconds\">{svg}</svg><figcaption><strong>{}</strong>: ms; \
         {}{}</figcaption></figure>",
        esc(&c.name),
        esc(&c.name),
        summary.join(", "),
        budget.map_or(String::new(), |b| format!("; budget {} ms (dashed)", num(b))),
    );
}

/// Y axis with three labelled ticks from 0 to `top`.
fn axes(top: f64, y: impl Fn(f64) -> f64) -> String {
    let mut svg = format!(
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#a0aec0\"/>\
         <line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#a0aec0\"/>",
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    for f in [0.0, 0.5, 1.0] {
        let v = top * f;
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            LEFT - 4.0,
            y(v) + 3.0,
            num(v)
        );
    }
    svg
}

fn failing(h: &mut String, evidence: &[CaseEvidence]) {
    if evidence.is_empty() {
        return;
    }
    h.push_str(
        "<h2>Failing cases</h2><p>The image the model was given, as the suite made it, with \
         the model's answer (boxes in red) — the clean image on the left, the corrupted one that \
         failed on the right.</p><div class=\"charts\">",
    );
    let b64 = |png: &[u8]| base64::engine::general_purpose::STANDARD.encode(png);
    for e in evidence {
        let _ = write!(
            h,
            "<figure class=\"case\" data-check=\"{}\"><div class=\"pair\"><div><img alt=\"{} as given\" \
             src=\"data:image/png;base64,{}\"/><p class=\"cap\">clean: {}</p></div>",
            esc(&e.check),
            esc(&e.case),
            b64(&e.original_png),
            esc(&e.original_answer),
        );
        if let (Some(png), Some(answer), Some(p)) =
            (&e.perturbed_png, &e.perturbed_answer, &e.perturbation)
        {
            let _ = write!(
                h,
                "<div><img alt=\"{} under {}\" src=\"data:image/png;base64,{}\"/>\
                 <p class=\"cap\">{}: {}</p></div>",
                esc(&e.case),
                esc(p),
                b64(png),
                esc(p),
                esc(answer),
            );
        }
        let _ = write!(
            h,
            "</div><figcaption><strong>{}</strong> failed on <code>{}</code></figcaption></figure>",
            esc(&e.check),
            esc(&e.case)
        );
    }
    h.push_str("</div>");
}

/// A figure as people write it: at most 4 significant decimals, no trailing zeros.
fn num(v: f64) -> String {
    if v.is_nan() {
        return "—".into();
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// Text for HTML content and attribute values.
fn esc(s: &str) -> String {
    crate::text::escape_markup(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn figures_drop_trailing_zeros() {
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.123456), "0.1235");
        assert_eq!(num(-0.00001), "0");
        assert_eq!(num(f64::NAN), "—");
    }
}
