//! Reports where people and fleets look: the HTML report (parsed, and rendered by headless
//! Chromium), Prometheus metrics (checked by promtool) and the systemd examples (checked by
//! systemd-analyze). CI installs Chromium and promtool; elsewhere those two tests say they
//! were skipped, and with `CI` set a missing tool fails them.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::harness::*;
use serde_json::Value;

/// One run of the default bundle's boot suite writing every report, shared by the tests.
struct Run {
    dir: tempfile::TempDir,
    report: Value,
}

impl Run {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn default_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
        let o = preflight(&[
            "check",
            "--html",
            &p("report.html"),
            "--metrics",
            &p("preflight.prom"),
            "--report",
            &p("report.json"),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let report =
            serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap())
                .unwrap();
        Run { dir, report }
    })
}

/// A tool CI installs: its path, or `None` (test skipped) when absent outside CI.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI installs {name}, and it is not on PATH");
        eprintln!("skipped: {name} is not installed (.ci/run installs it)");
    }
    found
}

fn html_doc(text: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions { allow_dtd: true, ..Default::default() },
    )
    .unwrap_or_else(|e| panic!("the report is not well-formed: {e}"))
}

#[test]
fn html_report_shows_every_check_curves_and_failing_cases() {
    let run = default_run();
    let text = std::fs::read_to_string(run.file("report.html")).unwrap();
    assert!(!text.contains("<script") && !text.contains("http://") && !text.contains("https://"));
    let doc = html_doc(&text);
    let with_class = |class: &str| {
        doc.descendants()
            .filter(|n| n.attribute("class").is_some_and(|c| c.split(' ').any(|c| c == class)))
            .collect::<Vec<_>>()
    };
    let verdict = &with_class("verdict")[0];
    assert_eq!(verdict.attribute("data-verdict"), Some("pass"));
    assert!(verdict.attribute("class").unwrap().contains("v-pass"));
    let rows: Vec<(&str, &str)> = with_class("check")
        .iter()
        .map(|n| (n.attribute("data-check").unwrap(), n.attribute("data-status").unwrap()))
        .collect();
    let checks = run.report["checks"].as_array().unwrap();
    assert_eq!(rows.len(), checks.len());
    for (row, c) in rows.iter().zip(checks) {
        assert_eq!(row.0, c["name"].as_str().unwrap());
        assert_eq!(row.1, c["status"].as_str().unwrap());
    }
    // A chart per robustness and latency check, each an SVG with a drawn curve or bars.
    let charts = with_class("chart");
    for c in checks.iter().filter(|c| c["kind"] == "robustness" || c["kind"] == "latency") {
        let chart = charts
            .iter()
            .find(|n| n.attribute("data-check") == c["name"].as_str())
            .unwrap_or_else(|| panic!("no chart for {}", c["name"]));
        let shapes = chart
            .descendants()
            .filter(|n| matches!(n.tag_name().name(), "polyline" | "rect"))
            .count();
        assert!(shapes > 0, "{} has an empty chart", c["name"]);
    }
    // Failing cases as pictures: clean and perturbed PNGs, inline.
    let cases = with_class("case");
    assert!(!cases.is_empty(), "the boot suite's robustness curves break: cases are pictured");
    let images: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("img"))
        .filter_map(|n| n.attribute("src"))
        .collect();
    assert!(images.len() > cases.len(), "some case is pictured clean and perturbed");
    for src in &images {
        assert!(
            src.starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{}",
            &src[..40.min(src.len())]
        );
    }
    // How it was tested: the model hash and the kernels are spelled out.
    let sha = run.report["bundle"]["model_sha256"].as_str().unwrap();
    assert!(text.contains(sha));
    assert!(text.contains("mmm"), "the kernels tract selected are named");
}

#[test]
fn html_report_renders_in_chromium_with_the_verdict_banner_in_its_colour() {
    let Some(chromium) = tool("chromium") else { return };
    let run = default_run();
    let failing = failing_html();
    for (html, colour) in
        [(run.file("report.html"), [0x1b, 0x7f, 0x3b]), (failing.1, [0xc5, 0x30, 0x30])]
    {
        let png = html.with_extension("png");
        let o = Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
            .arg("--window-size=480,1000")
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", html.display()))
            .output()
            .unwrap();
        assert!(
            png.is_file(),
            "chromium wrote no screenshot: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let img = image::open(&png).unwrap().to_rgb8();
        let banner = img.get_pixel(240, 20).0;
        let close = banner.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 12);
        assert!(close, "{}: banner {banner:?}, want {colour:?}", html.display());
        let distinct: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(distinct.len() > 50, "the page looks blank ({} colours)", distinct.len());
    }
}

/// A report whose critical check fails: the cat is no face.
fn failing_html() -> (ScratchBundle, PathBuf) {
    let b = ScratchBundle::new();
    std::fs::write(
        b.path().join("fail.toml"),
        r#"name = "failing"
[[cases]]
id = "cat"
image = "cases/chelsea.png"
objects = 1
[[checks]]
name = "cat-is-a-face"
kind = "accuracy"
severity = "critical"
description = "A deliberately wrong label: the gate must refuse."
metric = "recall"
cases = ["cat"]
threshold = 1.0
"#,
    )
    .unwrap();
    let html = b.path().join("fail.html");
    let suite = b.path().join("fail.toml");
    let o = preflight(&[
        "check",
        b.arg(),
        "--suite",
        suite.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    (b, html)
}

#[test]
fn failing_report_leads_with_the_refusal_and_pictures_the_case() {
    let (_b, html) = failing_html();
    let text = std::fs::read_to_string(&html).unwrap();
    let doc = html_doc(&text);
    let verdict = doc.descendants().find(|n| n.attribute("id") == Some("verdict")).unwrap();
    assert_eq!(verdict.attribute("data-verdict"), Some("fail"));
    assert!(text.contains("must not serve"));
    let case = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("case"))
        .expect("the failing case is pictured");
    assert_eq!(case.attribute("data-check"), Some("cat-is-a-face"));
}

#[test]
fn metrics_pass_promtool_and_carry_the_verdict() {
    let run = default_run();
    let prom = run.file("preflight.prom");
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(
        text.contains("preflight_verdict{bundle=\"blazeface\",verdict=\"pass\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("preflight_serving_allowed{bundle=\"blazeface\"} 1\n"));
    assert!(text.contains(
        "preflight_check_passed{bundle=\"blazeface\",check=\"latency-p99\",severity=\"critical\",kind=\"latency\"} 1\n"
    ));
    assert!(text.contains("preflight_selftest_latency_seconds{bundle=\"blazeface\",check=\"latency-p99\",stat=\"p99\"}"));
    let Some(promtool) = tool("promtool") else { return };
    let o = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).unwrap())
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "promtool: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn systemd_examples_verify() {
    let Some(analyze) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|d| d.join("systemd-analyze")).find(|p| p.is_file())
    }) else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    // The units name installed paths; verify against this build's binary and a stand-in
    // service (systemd-analyze checks that commands exist).
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("examples/systemd");
    let mut units = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("/usr/local/bin/preflight", env!("CARGO_BIN_EXE_preflight"))
            .replace("/opt/camera/bin/camera-service", "/bin/sleep");
        let out = dir.path().join(path.file_name().unwrap());
        std::fs::write(&out, text).unwrap();
        units.push(out);
    }
    assert_eq!(units.len(), 5);
    let o = Command::new(analyze)
        .args(["verify", "--man=no"])
        .args(&units)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success() && said.trim().is_empty(), "systemd-analyze: {said}");
}

#[test]
fn serving_runtime_metrics_count_what_it_served() {
    use preflight::prelude::*;
    // The check module's small suite: one critical check on the astronaut.
    let b = crate::check::suite_with("");
    let suite = PathBuf::from(crate::check::suite_arg(&b));
    let options = StartOptions { suite: Some(suite), ..Default::default() };
    let runtime = Runtime::start(b.path(), &options).unwrap();
    let img = load_image(&case("astronaut.png")).unwrap();
    for _ in 0..3 {
        runtime.infer(&img).unwrap();
    }
    let text = runtime.metrics();
    assert!(text.contains("preflight_inferences_served_total{bundle=\"blazeface\"} 3\n"), "{text}");
    assert!(
        text.contains("preflight_health{bundle=\"blazeface\",status=\"no_data\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("preflight_check_passed{bundle=\"blazeface\",check=\"astronaut-found\""));
    let Some(promtool) = tool("promtool") else { return };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success() && o.stdout.is_empty() && o.stderr.is_empty(),
        "promtool: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn the_documented_alert_rules_parse() {
    let doc = std::fs::read_to_string(root().join("docs/fleet.md")).unwrap();
    let start = doc.find("```yaml\ngroups:").expect("docs/fleet.md shows alert rules") + 8;
    let rules = &doc[start..start + doc[start..].find("```").unwrap()];
    let Some(promtool) = tool("promtool") else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, rules).unwrap();
    let o = Command::new(promtool).args(["check", "rules"]).arg(&file).output().unwrap();
    assert!(o.status.success(), "promtool: {}", String::from_utf8_lossy(&o.stdout));
}
