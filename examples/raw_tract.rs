//! The baseline for preflight's engine: a model through tract's own API, no preflight in the
//! loop (only its ONNX fix-ups, without which tract cannot load some shipped exports).
//!
//!     cargo run --release --example raw_tract -- MODEL.onnx 1,3,48,320 [ITERATIONS] [WARMUP]
//!
//! Prints one JSON line: the median and p90 of `plan.run` on a zero tensor of that shape, in
//! ms, single-threaded. `tools/bench_vs_ort.py` runs it beside onnxruntime and preflight.

use std::time::Instant;

use tract_onnx::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: raw_tract MODEL.onnx D0,D1,D2,D3 [ITERATIONS] [WARMUP]";
    let (Some(path), Some(shape)) = (args.get(1), args.get(2)) else {
        return Err(usage.into());
    };
    let shape: Vec<usize> = shape.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let iterations: usize = args.get(3).map_or(Ok(100), |s| s.parse())?;
    let warmup: usize = args.get(4).map_or(Ok(10), |s| s.parse())?;
    if iterations == 0 {
        return Err("ITERATIONS must be at least 1".into());
    }
    let path = std::path::Path::new(path);
    let (fixed, _) = preflight::model::fixup::fixed_onnx(path, &std::fs::read(path)?)?;
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &fixed[..])?
        .with_input_fact(0, f32::fact(&shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let input: Tensor = Tensor::zero::<f32>(&shape)?;
    for _ in 0..warmup {
        plan.run(tvec![input.clone().into()])?;
    }
    let mut ms: Vec<f64> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            plan.run(tvec![input.clone().into()]).map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<TractResult<_>>()?;
    ms.sort_by(f64::total_cmp);
    let p50 = preflight::latency::nearest_rank(&ms, 0.5);
    let p90 = preflight::latency::nearest_rank(&ms, 0.9);
    println!("{{\"p50_ms\": {p50:.3}, \"p90_ms\": {p90:.3}, \"iterations\": {iterations}}}");
    Ok(())
}
