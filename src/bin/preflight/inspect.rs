//! `preflight inspect`: a bundle's manifest, the model's inputs and outputs, hashes.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use preflight::prelude::*;
use serde_json::json;

use crate::args::Format;

pub(crate) fn inspect(dir: &Path, format: Format) -> anyhow::Result<ExitCode> {
    let model = Model::open(dir)?;
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
    Ok(ExitCode::SUCCESS)
}
