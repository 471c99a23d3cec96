//! `init MODEL DIR --cases EXPORT`: a bundle whose suite gates decisions at once. The decoder
//! comes from the model's outputs (a YOLO head, class scores), the labels from the model's
//! own metadata or the export's class order; the export is copied in and read as
//! `[[datasets]]`; a first run on each part of a seeded split sets every threshold from the
//! fit part, and the suite's comments give the held-apart figures beside them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::export::{copy, locate, CasesOptions, Located};
use super::gates::{self, CURVES, CURVE_LIMIT};
use super::{time_p99, Scaffold};
use crate::error::{Error, Result};
use crate::model::bundle::MANIFEST_FILE;
use crate::model::head::Head;
use crate::model::onnx_file::OnnxSummary;
use crate::model::{Bundle, Model};
use crate::suite::golden::{parity_cases, record};
use crate::suite::run::{run_checks, RunContext};
use crate::suite::split::{FIT, HELD_APART};
use crate::suite::Suite;

/// Parity is recorded on this many cases (the first by id), or one when the model's outputs
/// are large (a YOLO head's [1, 84, 8400] is 705,600 values, ~9 MB of golden JSON a case).
const PARITY_CASES: usize = 3;
const LARGE_OUTPUT: usize = 100_000;
/// Where the export goes inside the bundle.
const CASES_DIR: &str = "cases/export";

/// What the first run measured, per check name.
type Measured = BTreeMap<String, (f64, BTreeMap<String, f64>)>;

/// Writes the bundle (the caller clears `dir` on an error).
pub(super) fn write(
    model_file: &Path,
    dir: &Path,
    name: &str,
    summary: &OnnxSummary,
    input_size: Option<(usize, usize)>,
    o: &CasesOptions,
) -> Result<Scaffold> {
    let located = locate(o)?;
    let (head, labels, labels_from) = decoder(model_file, summary, input_size, &located, o)?;
    let detection = matches!(head, Head::Yolo { .. });
    let io = |p: &Path, e: std::io::Error| Error::io(p, e);
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let file = model_file.file_name().map_or("model.onnx".into(), |f| f.to_owned());
    std::fs::copy(model_file, dir.join(&file)).map_err(|e| io(&dir.join(&file), e))?;
    let copied = copy(&located, &dir.join(CASES_DIR))?;
    std::fs::write(dir.join("labels.txt"), labels.join("\n") + "\n")
        .map_err(|e| io(&dir.join("labels.txt"), e))?;
    let manifest = manifest(summary, name, input_size, &head)?;
    std::fs::write(dir.join(MANIFEST_FILE), manifest)
        .map_err(|e| io(&dir.join(MANIFEST_FILE), e))?;

    let spec = located.spec.moved(CASES_DIR);
    let tags_from = gates::tags_from(&located.export);
    let header = |suffix: &str, split: bool| {
        let mut h = format!("name = \"{name}-{suffix}\"\n");
        if split {
            let _ = writeln!(h, "split = {{ seed = {}, held_apart = 0.5 }}", o.seed);
        }
        h.push_str("perturb_at = \"frame\"\n\n");
        h.push_str(&spec.to_toml(&tags_from));
        h
    };
    // The split tags the cases: load once to plan on them (a suite needs a check).
    let first = dir.join("first-run.toml");
    let probe = "\n[[checks]]\nname = \"memory\"\nkind = \"memory\"\nseverity = \"minor\"\nthreshold = 1024.0\n";
    std::fs::write(&first, header("first-run", true) + probe).map_err(|e| io(&first, e))?;
    let cases = Suite::load(&first)?.cases;
    let (gates, skipped) = gates::plan(&located.export, &cases, detection);
    if gates.is_empty() {
        return Err(Error::config(
            &o.path,
            "(cases)",
            format!(
                "too few labelled cases to set any threshold: each part of the split needs {} (found: {})",
                gates::MIN_UNITS,
                skipped.join(", ")
            ),
        ));
    }
    let overall = if detection { "recall" } else { "top1" };
    let mut text = header("first-run", true);
    for g in &gates {
        for part in [FIT, HELD_APART] {
            text.push_str(&gates::check_toml(g, Some(part), 0.0, "first run"));
        }
    }
    for part in [FIT, HELD_APART] {
        // The clean figure of the curves' own cases: a curve is judged by what it keeps of it.
        let _ = write!(
            text,
            "\n[[checks]]\nname = \"curve-clean~{part}\"\nkind = \"accuracy\"\nseverity = \"minor\"\nmetric = \"{overall}\"\nslice = [\"{part}\"]\nlimit = {}\nthreshold = 0.0\n",
            gates::CURVE_CASES
        );
        for fault in CURVES {
            text.push_str(&gates::curve_toml(fault, overall, Some(part), 0.0, 5, "first run"));
        }
    }
    std::fs::write(&first, text).map_err(|e| io(&first, e))?;
    let model = Model::from_bundle(Bundle::open(dir)?)?;
    let measured = measure(&model, &Suite::load(&first)?);
    std::fs::remove_file(&first).map_err(|e| io(&first, e))?;

    let figure = |n: &str, part: &str| -> Result<f64> {
        measured.get(&format!("{n}~{part}")).map(|m| m.0).ok_or_else(|| {
            Error::model(
                model_file,
                format!("the first run could not measure {n} on the {part} part"),
            )
        })
    };
    // The first case by id is timed.
    let first_case = cases
        .iter()
        .min_by(|a, b| a.id.cmp(&b.id))
        .ok_or_else(|| Error::config(&o.path, "(images)", "the export holds no image"))?;
    let latency_case = first_case.id.clone();
    let image = model.load_image(&first_case.path)?;
    let p99 = time_p99(&model, &image)?;
    let budget = (p99 * 4.0).max(10.0).ceil();

    let mut boot = format!(
        "# Written by `preflight init --cases`: every threshold below was set by a first run on the\n\
         # `fit` part of a seeded split (seed {seed}) of the export, less a margin of {margin} or one\n\
         # labelled unit's share of the fit part if that is more; the `held-apart` figure beside\n\
         # it was not used to set it, and is the evidence it holds on cases it did not see.\n\
         # Labels: {labels_from}.\n",
        seed = o.seed,
        margin = o.margin
    );
    boot.push_str(&header("boot", true));
    let mut notes = Vec::new();
    for g in &gates {
        let (fit, held) = (figure(&g.name, FIT)?, figure(&g.name, HELD_APART)?);
        let t = gates::threshold(fit, o.margin, g.fit_units);
        let d = format!(
            "{}: fit {fit:.3}, held-apart {held:.3} at init; threshold = fit less the margin",
            g.what
        );
        boot.push_str(&gates::check_toml(g, None, t, &d));
        let warn =
            if held < t { "  (held-apart below it: may not hold on unseen cases)" } else { "" };
        notes.push(format!(
            "{:<34} fit {fit:.3}  held-apart {held:.3}  threshold {t:.2}{warn}",
            g.name
        ));
    }
    let outputs: usize = summary
        .outputs
        .iter()
        .map(|t| t.shape.iter().map(|d| d.parse::<usize>().unwrap_or(1)).product::<usize>())
        .sum();
    let mut parity = first_ids(&cases);
    if outputs > LARGE_OUTPUT {
        parity.truncate(1);
    }
    boot.push_str(&super::budget_checks(&latency_case, p99, budget, &parity));
    let mut full =
        boot.replace(&format!("name = \"{name}-boot\""), &format!("name = \"{name}-acceptance\""));
    let clean = figure(overall, FIT).ok();
    for fault in CURVES {
        let name = format!("robustness-{}", gates::ident(fault));
        let (Some(clean), Some(fit)) = (clean, measured.get(&format!("{name}~{FIT}"))) else {
            continue;
        };
        let limit = ((clean * CURVE_LIMIT) * 100.0).floor() / 100.0;
        // Each part's curve against its own cases' clean figure.
        let kept = |part: &str| figure("curve-clean", part).map(|c| c * CURVE_LIMIT).unwrap_or(1.0);
        let fit_held = gates::held_through(&fit.1, overall, kept(FIT));
        let held_part = measured.get(&format!("{name}~{HELD_APART}"));
        let held_held =
            held_part.map_or(0, |m| gates::held_through(&m.1, overall, kept(HELD_APART)));
        let n = gates::CURVE_CASES;
        let d = format!(
            "{fault} at the frame, severities 1-5: {overall} stays at or above {CURVE_LIMIT} of the clean fit figure ({limit:.2}); at init, on {n} cases of each part, the fit part kept {CURVE_LIMIT} of its clean figure through severity {fit_held}, the held-apart part through {held_held}"
        );
        full.push_str(&gates::curve_toml(fault, overall, None, limit, fit_held.max(1), &d));
        notes.push(format!(
            "{name:<34} limit {limit:.2}  holds through: fit {fit_held}, held-apart {held_held}"
        ));
    }
    std::fs::write(dir.join("suite.toml"), &boot).map_err(|e| io(&dir.join("suite.toml"), e))?;
    std::fs::write(dir.join("suite-full.toml"), &full)
        .map_err(|e| io(&dir.join("suite-full.toml"), e))?;
    let suite = Suite::load(&dir.join("suite.toml"))?;
    let (ids, golden_path) = parity_cases(&suite);
    record(&model, &suite, &ids)?.save(&golden_path.unwrap_or_else(|| dir.join("golden.json")))?;
    if !skipped.is_empty() {
        notes.push(format!(
            "not gated (under {} units in a part): {}",
            gates::MIN_UNITS,
            skipped.join(", ")
        ));
    }
    let how = if o.decoder.is_some() { "named by --decoder" } else { "from the outputs" };
    notes.insert(
        0,
        format!(
            "{} {how}; labels: {labels_from}; {} cases, {copied} files copied",
            head.describe(),
            cases.len()
        ),
    );
    let files = [
        file.into(),
        MANIFEST_FILE.into(),
        "labels.txt".into(),
        "suite.toml".into(),
        "suite-full.toml".into(),
        "golden.json".into(),
        PathBuf::from(CASES_DIR),
    ]
    .into_iter()
    .collect();
    Ok(Scaffold { files, p99_ms: p99, budget_ms: budget, notes })
}

/// The first `PARITY_CASES` case ids.
fn first_ids(cases: &[crate::suite::spec::Case]) -> Vec<String> {
    let mut ids: Vec<String> = cases.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    ids.truncate(PARITY_CASES);
    ids
}

/// Runs the first-run suite; each check's figure and values, by name (checks that could not
/// measure are left out).
fn measure(model: &Model, suite: &Suite) -> Measured {
    let ctx = RunContext { jobs: 0, ..RunContext::default() };
    let ran = run_checks(model, suite, &ctx, &mut |_, _, _| {});
    ran.checks.into_iter().filter_map(|c| c.measured.map(|m| (c.name, (m, c.values)))).collect()
}

/// The decoder the outputs call for, and the labels in class order with where they came from.
fn decoder(
    model_file: &Path,
    summary: &OnnxSummary,
    size: Option<(usize, usize)>,
    located: &Located,
    o: &CasesOptions,
) -> Result<(Head, Vec<String>, String)> {
    let export = &located.export;
    let (labels, from) = if let Some(p) = &o.labels {
        let text = crate::files::read_bounded(p, 1 << 20)?;
        let names: Vec<String> = String::from_utf8_lossy(&text)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        (names, format!("{} (given)", p.display()))
    } else if !summary.class_names.is_empty() {
        (summary.class_names.clone(), "the model file's `names` metadata".to_string())
    } else if export.ordered {
        (export.classes.clone(), "the export's class order".to_string())
    } else {
        return Err(Error::model(
            model_file,
            "neither the model file nor the export orders the classes: give --labels FILE (one name per line, in the model's class order)",
        ));
    };
    let head = match o.decoder {
        Some(named) => named.head(labels.len()),
        None => recognised(summary, size).ok_or_else(|| {
            let shapes: Vec<String> =
                summary.outputs.iter().map(|t| format!("[{}]", t.shape.join(", "))).collect();
            Error::model(
                model_file,
                format!(
                    "the outputs ({}) do not say their decoder: name it with --decoder yolo-v8|yolo-v5|classification, or write [output] by hand (docs/bundle.md) and list the export as [[datasets]]",
                    shapes.join(", ")
                ),
            )
        })?,
    };
    let boxes = export.cases.iter().any(|c| !c.boxes.is_empty());
    let detection = matches!(head, Head::Yolo { .. });
    if detection != boxes {
        let (has, wants) =
            if boxes { ("boxes", "a detector") } else { ("image labels", "a classifier") };
        return Err(Error::model(
            model_file,
            format!(
                "the export holds {has}, which need {wants}, but the outputs are {}",
                head.describe()
            ),
        ));
    }
    if labels.len() != head.classes() {
        return Err(Error::model(
            model_file,
            format!(
                "the outputs score {} classes but {from} names {}: give --labels FILE",
                head.classes(),
                labels.len()
            ),
        ));
    }
    if let Some(missing) = export.classes.iter().find(|c| !labels.contains(c)) {
        return Err(Error::config(
            &o.path,
            "(classes)",
            format!("class {missing:?} is not among the model's labels ({from})"),
        ));
    }
    Ok((head, labels, from))
}

/// The head the outputs call for; a file that leaves the input size open is read at `size`
/// (`--input-size`), where the grid of a YOLO head can then be told.
fn recognised(summary: &OnnxSummary, size: Option<(usize, usize)>) -> Option<Head> {
    if let Some(head) = &summary.head {
        return Some(head.clone());
    }
    let ((h, w), [input], [output]) =
        (size?, summary.inputs.as_slice(), summary.outputs.as_slice())
    else {
        return None;
    };
    let mut dims = input.shape.clone();
    let (ha, wa) = match dims.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [_, "1" | "3", _, _] => (2, 3),
        [_, _, _, "1" | "3"] => (1, 2),
        _ => return None,
    };
    dims[ha] = h.to_string();
    dims[wa] = w.to_string();
    crate::model::head::recognise(&dims, &output.shape, false)
}

/// The manifest: the file's `[input]` with the decoder's `[output]`; a YOLO model is fed as
/// Ultralytics feeds it (aspect kept, padded with grey 114).
fn manifest(
    summary: &OnnxSummary,
    name: &str,
    size: Option<(usize, usize)>,
    head: &Head,
) -> Result<String> {
    let text =
        summary.complete_manifest(name, size, "").map_err(|m| Error::model(&summary.path, m))?;
    let input = text.split("\n[output]\n").next().unwrap_or(&text).to_string();
    let (input, output) = match head {
        Head::Yolo { layout, .. } => (
            input.replace(
                "resize = \"stretch\"  # or letterbox, center-crop, fit-longer-side, pad-right",
                "# Aspect kept, padded with grey 114, as Ultralytics feeds its models.\nresize = \"letterbox\"\npad = 114.0",
            ),
            format!("kind = \"yolo\"\nlayout = \"{layout}\"\nlabels = \"labels.txt\"\nscore_threshold = 0.25\niou_threshold = 0.45\n"),
        ),
        Head::Classification { softmaxed, .. } => (
            input,
            format!(
                "kind = \"classification\"\nlabels = \"labels.txt\"\nactivation = \"{}\"\ntop_k = 1\n",
                if *softmaxed { "none" } else { "softmax" }
            ),
        ),
    };
    Ok(format!(
        "{input}\n[output]\n# Chosen by `preflight init` (from the model's outputs, or named by --decoder).\n{output}\n# Suites by purpose: `check` runs the boot suite; `check --tier acceptance` the other.\n[suites]\nboot = \"suite.toml\"\nacceptance = \"suite-full.toml\"\n"
    ))
}
