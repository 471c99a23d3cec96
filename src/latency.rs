//! Latency statistics: nearest-rank percentiles over a set of timed runs, the way MLPerf
//! LoadGen reports them.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of a latency sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Number of timed runs.
    pub runs: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest run.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

impl Percentiles {
    /// Summarises `samples`; `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Percentiles> {
        if samples.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
        Some(Percentiles {
            runs: ms.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: ms[ms.len() - 1],
            mean: ms.iter().sum::<f64>() / ms.len() as f64,
        })
    }

    /// The named statistic (`p50`, `p90`, `p99`, `max`, `mean`).
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "p50" => Some(self.p50),
            "p90" => Some(self.p90),
            "p99" => Some(self.p99),
            "max" => Some(self.max),
            "mean" => Some(self.mean),
            _ => None,
        }
    }
}

/// Times `iterations` end-to-end inferences of `image` after `warmup` untimed ones.
pub fn measure(
    model: &crate::Model,
    image: &image::DynamicImage,
    warmup: usize,
    iterations: usize,
) -> crate::Result<Vec<Duration>> {
    let options = crate::DecodeOptions::default();
    for _ in 0..warmup {
        model.infer(image, options)?;
    }
    (0..iterations).map(|_| Ok(model.infer(image, options)?.elapsed)).collect()
}

/// Opens the bundle in `dir` and runs `image` once: the time from nothing loaded to the
/// first result ("cold start"), with the model, ready to serve.
pub fn cold_start(
    dir: &std::path::Path,
    image: &image::DynamicImage,
) -> crate::Result<(crate::Model, Duration)> {
    let start = std::time::Instant::now();
    let model = crate::Model::open(dir)?;
    model.infer(image, crate::DecodeOptions::default())?;
    Ok((model, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_one_to_hundred() {
        let s: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&s).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max), (50.0, 90.0, 99.0, 100.0));
        assert!((p.mean - 50.5).abs() < 1e-9);
        assert_eq!(Percentiles::of(&[]), None);
    }

    #[test]
    fn single_sample_is_every_percentile() {
        let p = Percentiles::of(&[Duration::from_millis(7)]).unwrap();
        assert_eq!((p.p50, p.p99, p.max), (7.0, 7.0, 7.0));
    }
}
