//! `preflight inspect`: a bundle's manifest, the model's inputs and outputs, hashes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use preflight::model::signature::{status, verified, verify, SignatureStatus};
use preflight::model::Bundle;
use preflight::prelude::*;
use serde_json::json;

use crate::args::Format;

pub(crate) fn inspect(
    dir: &Path,
    format: Format,
    policy: &TrustPolicy,
) -> anyhow::Result<ExitCode> {
    if dir.is_file() || dir.extension().is_some_and(|e| e == "onnx") {
        return inspect_onnx(dir, format);
    }
    if preflight::model::pipeline::is_pipeline(dir) {
        return inspect_pipeline(dir, format, policy);
    }
    let bundle = verified(Bundle::open(dir)?, policy)?;
    let signature = status(&bundle)?;
    let model = Model::from_bundle(bundle)?;
    let bundle = model.bundle();
    let info = model.engine().info();
    let suite_sha256 = match bundle.suite_path() {
        Some(p) => Some(preflight::files::sha256_hex(
            &std::fs::read(&p).with_context(|| format!("{}: cannot read suite", p.display()))?,
        )),
        None => None,
    };
    if format == Format::Json {
        let doc = json!({
            "bundle": dir,
            "manifest": bundle.manifest(),
            "model": { "path": bundle.model_path(), "sha256": bundle.model_sha256(), "info": info },
            "suite_sha256": suite_sha256,
            "signature": signature_json(&signature),
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let m = bundle.manifest();
    outln!("bundle    {} {} ({})", m.name, m.version, dir.display())?;
    if !m.description.is_empty() {
        outln!("          {}", m.description)?;
    }
    outln!("model     {}", bundle.model_path().display())?;
    outln!("sha256    {}", bundle.model_sha256())?;
    outln!("producer  {} (opset {})", info.producer, info.opset)?;
    outln!(
        "nodes     {} in the ONNX graph, {} in the optimized plan",
        info.onnx_nodes,
        info.plan_nodes
    )?;
    for f in &info.fixups {
        outln!("fix-up    {f}")?;
    }
    let i = &m.input;
    outln!(
        "input     {:?} {:?} layout {:?}, color {:?}, resize {:?}, scale {}, mean {:?}, std {:?}",
        i.name,
        i.shape,
        i.layout,
        i.color,
        i.resize,
        i.scale,
        i.mean,
        i.std
    )?;
    outln!("sizes     {}", info.input_sizes)?;
    if !info.metadata_keys.is_empty() {
        outln!("metadata  {}", info.metadata_keys.join(", "))?;
    }
    for t in &info.inputs {
        outln!("  in      {} [{}] {}", t.name, t.shape.join(", "), t.dtype)?;
    }
    for t in &info.outputs {
        outln!("  out     {} [{}] {}", t.name, t.shape.join(", "), t.dtype)?;
    }
    outln!("output    {}", serde_json::to_string(&m.output)?)?;
    match (bundle.suite_path(), suite_sha256) {
        (Some(p), Some(h)) => outln!("suite     {} (sha256 {h})", p.display())?,
        _ => outln!("suite     none")?,
    }
    match &signature {
        SignatureStatus::Unsigned => outln!("signature none (sign with `preflight sign`)")?,
        SignatureStatus::Valid { key, files } => {
            outln!("signature valid: {files} files signed by {key}")?
        }
        SignatureStatus::Invalid { path, reason } => {
            outln!("signature INVALID: {}: {reason}", path.display())?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn signature_json(s: &SignatureStatus) -> serde_json::Value {
    match s {
        SignatureStatus::Unsigned => json!({ "status": "unsigned" }),
        SignatureStatus::Valid { key, files } => {
            json!({ "status": "valid", "key": key, "files": files })
        }
        SignatureStatus::Invalid { path, reason } => {
            json!({ "status": "invalid", "path": path, "reason": reason })
        }
    }
}

/// `inspect model.onnx`: what the file declares, before any manifest exists, and a manifest
/// to start from.
fn inspect_onnx(path: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let s = preflight::model::onnx_file::OnnxSummary::read(path)?;
    if format == Format::Json {
        let mut doc = serde_json::to_value(&s)?;
        doc["manifest_skeleton"] = json!(s.manifest_skeleton());
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("model     {} (no bundle: what the file itself declares)", path.display())?;
    outln!("sha256    {}", s.sha256)?;
    let producer = if s.producer.is_empty() { "not recorded" } else { &s.producer };
    outln!("producer  {producer} (opset {})", s.opset)?;
    let ops: Vec<String> = s.operators.iter().take(8).map(|(op, n)| format!("{op} ×{n}")).collect();
    outln!(
        "nodes     {}: {}{}",
        s.nodes,
        ops.join(", "),
        if s.operators.len() > 8 { ", ..." } else { "" }
    )?;
    for f in &s.fixups {
        outln!("fix-up    {f}")?;
    }
    match &s.unsupported {
        Some(op) => outln!("support   tract lacks {op}: this model cannot run as it is")?,
        None => outln!("support   every operator is one tract implements")?,
    }
    if !s.metadata_keys.is_empty() {
        outln!("metadata  {}", s.metadata_keys.join(", "))?;
    }
    for t in &s.inputs {
        outln!("  in      {} [{}] {}", t.name, t.shape.join(", "), t.dtype)?;
    }
    for t in &s.outputs {
        outln!("  out     {} [{}] {}", t.name, t.shape.join(", "), t.dtype)?;
    }
    match &s.head {
        Some(head) => outln!("head      {}", head.describe())?,
        None => {
            outln!("head      not recognised from the outputs: name the decoder ([output] kind)")?
        }
    }
    if !s.class_names.is_empty() {
        let shown: Vec<&str> = s.class_names.iter().take(6).map(String::as_str).collect();
        let more = if s.class_names.len() > 6 { ", …" } else { "" };
        outln!(
            "classes   {} named in the file's metadata: {}{more}",
            s.class_names.len(),
            shown.join(", ")
        )?;
    }
    outln!("\nA bundle is this file beside a bundle.toml; one to start from (normalisation and")?;
    outln!("the decoder are not in the file: take them from the model's training code):\n")?;
    out!("{}", s.manifest_skeleton())?;
    Ok(ExitCode::SUCCESS)
}

/// A pipeline: its stages (each opened and verified) and how results flow between them.
fn inspect_pipeline(dir: &Path, format: Format, policy: &TrustPolicy) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::open(dir)?;
    for stage in pipeline.stages() {
        verify(stage.bundle(), policy)?;
    }
    let m = pipeline.manifest();
    let stages: Vec<_> = pipeline
        .stages()
        .iter()
        .map(|s| {
            let b = s.bundle();
            json!({
                "bundle": b.dir(),
                "name": b.manifest().name,
                "version": b.manifest().version,
                "kind": b.manifest().output.kind_name(),
                "model_sha256": b.model_sha256(),
            })
        })
        .collect();
    if format == Format::Json {
        let doc = json!({ "pipeline": dir, "manifest": m, "stages": stages });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    outln!("pipeline  {} {} ({})", m.name, m.version, dir.display())?;
    if !m.description.is_empty() {
        outln!("          {}", m.description)?;
    }
    for s in pipeline.stages() {
        let b = s.bundle();
        outln!(
            "stage     {} {} ({}, {}): sha256 {}",
            b.manifest().name,
            b.manifest().version,
            b.manifest().output.kind_name(),
            b.dir().display(),
            b.model_sha256()
        )?;
    }
    let d = &m.direction;
    outln!(
        "direction turn on {:?} at score >= {} (vote per {})",
        d.turn_label,
        d.min_score,
        d.per.name()
    )?;
    let l = &m.lines;
    let unclip = l.unclip_ratio.map_or("the detector's".to_string(), |r| r.to_string());
    outln!(
        "lines     confidence >= {}, vertical at height/width >= {}, at most {}, unclip ratio {unclip}",
        l.min_confidence,
        l.vertical_ratio,
        l.max_lines
    )?;
    Ok(ExitCode::SUCCESS)
}
