//! Timing the model end to end: repeated runs for latency, and bundle open → first result for
//! cold start. Statistics over the samples are in [`crate::latency`].

use std::path::Path;
use std::time::{Duration, Instant};

use super::decode::DecodeOptions;
use super::Model;
use crate::error::Result;

/// Times `iterations` end-to-end inferences of `image` after `warmup` untimed ones.
pub fn measure(
    model: &Model,
    image: &image::DynamicImage,
    warmup: usize,
    iterations: usize,
) -> Result<Vec<Duration>> {
    let options = DecodeOptions::default();
    for _ in 0..warmup {
        model.infer(image, options)?;
    }
    (0..iterations).map(|_| Ok(model.infer(image, options)?.elapsed)).collect()
}

/// Opens the bundle in `dir` and runs `image` once on `threads` inference threads: the time
/// from nothing loaded to the first result ("cold start"), with the model, ready to serve.
pub fn cold_start(
    dir: &Path,
    image: &image::DynamicImage,
    threads: usize,
) -> Result<(Model, Duration)> {
    let start = Instant::now();
    let mut model = Model::open(dir)?;
    model.set_threads(threads)?;
    model.infer(image, DecodeOptions::default())?;
    Ok((model, start.elapsed()))
}
