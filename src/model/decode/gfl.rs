//! Generalized Focal Loss heads (PP-PicoDet, NanoDet), as PaddleDetection exports them without
//! their post-processing: per stride, class scores (sigmoid applied) and, per cell, four
//! distributions over `0..=reg_max` for the distances from the cell's centre to the box's
//! left, top, right and bottom sides. The expectation of each softmaxed distribution, times
//! the stride, is the distance. Then the score threshold and NMS, shared with YOLO heads.

use super::yolo::{suppress, Candidate};
use super::{DecodeError, DecodeOptions, Decoder, Prediction};
use crate::model::engine::Outputs;
use crate::model::manifest::GflSpec;
use crate::model::preprocess::Transform;

impl Decoder {
    pub(super) fn gfl(
        &self,
        outputs: &Outputs,
        spec: &GflSpec,
        transform: &Transform,
        options: DecodeOptions,
    ) -> Result<Prediction, DecodeError> {
        let threshold = options.threshold.unwrap_or(spec.score_threshold);
        let w = self.input_hw.1;
        let mut all = Vec::new();
        let mut max_score = 0.0f32;
        for (l, (scores, boxes)) in spec.scores.iter().zip(&spec.boxes).enumerate() {
            let missing =
                |name: &str| DecodeError(format!("gfl output {name:?} missing from the run"));
            let s = outputs.get(scores).ok_or_else(|| missing(scores))?;
            let b = outputs.get(boxes).ok_or_else(|| missing(boxes))?;
            let level = Level { stride: spec.strides[l], grid_w: w.div_ceil(spec.strides[l]) };
            let (found, best) = level.candidates(
                (&s.shape, &s.data),
                (&b.shape, &b.data),
                threshold,
                spec.level_top_k,
            )?;
            all.extend(found);
            max_score = max_score.max(best);
        }
        let limit = options.top.unwrap_or(spec.max_detections);
        let kept = suppress(all, spec.iou_threshold, spec.class_agnostic, limit);
        Ok(Prediction::Detections { detections: self.labelled(kept, transform), max_score })
    }
}

/// One feature level: its stride and its grid's width (cells are row-major).
struct Level {
    stride: usize,
    grid_w: usize,
}

impl Level {
    /// The level's candidates over `threshold` among its `top_k` best cells, and its best score.
    fn candidates(
        &self,
        (score_shape, scores): (&[usize], &[f32]),
        (box_shape, dists): (&[usize], &[f32]),
        threshold: f32,
        top_k: usize,
    ) -> Result<(Vec<Candidate>, f32), DecodeError> {
        let (&[1, n, c], &[1, m, bins]) = (score_shape, box_shape) else {
            return Err(format!("gfl outputs have shapes {score_shape:?} and {box_shape:?}").into());
        };
        if n != m || bins % 4 != 0 || scores.len() != n * c || dists.len() != m * bins {
            return Err(format!("gfl outputs have shapes {score_shape:?} and {box_shape:?}").into());
        }
        let per_side = bins / 4;
        // Each cell's best class; the `top_k` best cells become candidates.
        let mut best: Vec<(usize, usize, f32)> = (0..n)
            .filter_map(|i| {
                let row = &scores[i * c..(i + 1) * c];
                let (k, &s) = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
                s.is_finite().then_some((i, k, s))
            })
            .collect();
        let max_score = best.iter().map(|b| b.2).fold(0.0f32, f32::max);
        best.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        best.truncate(top_k);
        let stride = self.stride as f32;
        let mut out = Vec::new();
        for (i, _, _) in best {
            let (cx, cy) = (
                ((i % self.grid_w) as f32 + 0.5) * stride,
                ((i / self.grid_w) as f32 + 0.5) * stride,
            );
            let d = &dists[i * bins..(i + 1) * bins];
            let side = |s: usize| expectation(&d[s * per_side..(s + 1) * per_side]) * stride;
            let bbox = [cx - side(0), cy - side(1), cx + side(2), cy + side(3)];
            if bbox.iter().any(|v| !v.is_finite()) {
                continue;
            }
            // Every class of the cell over the threshold is a candidate (per-class NMS).
            for (k, &s) in scores[i * c..(i + 1) * c].iter().enumerate() {
                if s > threshold {
                    out.push(Candidate { score: s, class: k, bbox });
                }
            }
        }
        Ok((out, max_score))
    }
}

/// The mean bin of a softmax over `logits`: Σ softmax(logits)ᵢ × i.
fn expectation(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0.0f32, 0.0f32);
    for (i, &v) in logits.iter().enumerate() {
        let e = (v - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    weighted / sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Logits whose softmax puts (nearly) all weight on bin `at` of `bins`.
    fn peaked(at: usize, bins: usize) -> Vec<f32> {
        (0..bins).map(|i| if i == at { 30.0 } else { 0.0 }).collect()
    }

    #[test]
    fn expectation_is_the_mean_bin() {
        assert!((expectation(&peaked(3, 8)) - 3.0).abs() < 1e-4);
        assert!((expectation(&[0.0, 0.0]) - 0.5).abs() < 1e-6);
        assert!((expectation(&[1000.0, 1000.0, -1000.0]) - 0.5).abs() < 1e-6, "no overflow");
    }

    #[test]
    fn a_cell_decodes_to_its_box_in_input_pixels() {
        // A 2×2 grid at stride 8, 2 classes, reg_max 7: cell (1, 0) is class 1 with distances
        // left 2, top 1, right 3, bottom 4 bins.
        let level = Level { stride: 8, grid_w: 2 };
        let mut scores = vec![0.0; 4 * 2];
        scores[3] = 0.9; // cell 1, class 1
        scores[2] = 0.6; // cell 1, class 0
        let mut dists = vec![0.0; 4 * 32];
        for (side, bin) in [2, 1, 3, 4].into_iter().enumerate() {
            dists[32 + side * 8..32 + side * 8 + 8].copy_from_slice(&peaked(bin, 8));
        }
        let (c, best) =
            level.candidates((&[1, 4, 2], &scores), (&[1, 4, 32], &dists), 0.5, 10).unwrap();
        assert_eq!(best, 0.9);
        assert_eq!(c.len(), 2, "both classes over the threshold are candidates");
        let (cx, cy) = (12.0, 4.0);
        let want = [cx - 16.0, cy - 8.0, cx + 24.0, cy + 32.0];
        for (a, b) in c[0].bbox.iter().zip(want) {
            assert!((a - b).abs() < 1e-3, "{:?} vs {want:?}", c[0].bbox);
        }
        assert_eq!((c[0].class, c[1].class), (0, 1));
        // Only the best cell survives top_k = 1; nothing at a threshold over every score.
        let (c, _) =
            level.candidates((&[1, 4, 2], &scores), (&[1, 4, 32], &dists), 0.95, 1).unwrap();
        assert!(c.is_empty());
    }

    #[test]
    fn mismatched_shapes_are_errors_not_panics() {
        let level = Level { stride: 8, grid_w: 2 };
        let err = level.candidates((&[1, 4, 2], &[0.0; 8]), (&[1, 3, 32], &[0.0; 96]), 0.5, 10);
        assert!(err.is_err());
        let err = level.candidates((&[1, 4, 2], &[0.0; 7]), (&[1, 4, 32], &[0.0; 128]), 0.5, 10);
        assert!(err.is_err());
        let err = level.candidates((&[4, 2], &[0.0; 8]), (&[1, 4, 30], &[0.0; 120]), 0.5, 10);
        assert!(err.is_err());
    }
}
