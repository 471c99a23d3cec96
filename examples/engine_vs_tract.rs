//! preflight's engine beside tract's own API, in one process, on the same input, runs
//! interleaved so that the host's load lands on both sides alike:
//!
//!     cargo run --release --example engine_vs_tract -- [BUNDLE] [IMAGE] [ITERATIONS]
//!
//! BUNDLE defaults to models/blazeface, IMAGE to the bundle's cases/astronaut.png. The image
//! is prepared once (resize and normalise) and both sides run that tensor: `Engine::run` (its
//! plan, preflight's lowerings, its reused execution state and output copies) and `plan.run` on
//! a plan tract builds for the tensor's shape from the same fixed-up ONNX file with
//! `into_optimized` (raw tract, as examples/raw_tract.rs). Prints one JSON line: both medians
//! in ms and engine ÷ tract.

use std::time::Instant;

use preflight::prelude::Model;
use tract_onnx::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle = args.get(1).map_or_else(|| root.join("models/blazeface"), Into::into);
    let model = Model::open(&bundle)?;
    let image = match args.get(2) {
        Some(path) => path.into(),
        None => bundle.join("cases/astronaut.png"),
    };
    let iterations: usize = args.get(3).map_or(Ok(500), |s| s.parse())?;
    if iterations == 0 {
        return Err("ITERATIONS must be at least 1".into());
    }
    let (input, _) = model.prepare(&preflight::prelude::load_image(&image)?);
    let path = model.engine().model_path().to_path_buf();
    let (fixed, _) = preflight::model::fixup::fixed_onnx(&path, &std::fs::read(&path)?)?;
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &fixed[..])?
        .with_input_fact(0, f32::fact(&input.shape).into())?
        .into_optimized()?
        .into_runnable()?;
    let tensor = Tensor::from_shape(&input.shape, &input.data)?;
    let (mut engine, mut tract) = (Vec::new(), Vec::new());
    for i in 0..iterations + 20 {
        let t = Instant::now();
        model.engine().run(&input)?;
        let e = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        plan.run(tvec![tensor.clone().into()])?;
        let r = t.elapsed().as_secs_f64() * 1e3;
        // The first 20 pairs warm both sides up.
        if i >= 20 {
            engine.push(e);
            tract.push(r);
        }
    }
    engine.sort_by(f64::total_cmp);
    tract.sort_by(f64::total_cmp);
    let (e, r) = (
        preflight::latency::nearest_rank(&engine, 0.5),
        preflight::latency::nearest_rank(&tract, 0.5),
    );
    println!(
        "{{\"engine_p50_ms\": {e:.3}, \"tract_p50_ms\": {r:.3}, \"engine_over_tract\": {:.3}, \
         \"iterations\": {iterations}}}",
        e / r
    );
    Ok(())
}
