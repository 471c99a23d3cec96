//! SSD-style anchor detection (MediaPipe's BlazeFace layout): per anchor a logit and a box
//! regression with keypoints, the score threshold, greedy NMS, boxes mapped back to the
//! original image.

use super::classify::sigmoid;
use super::{DecodeError, DecodeOptions, Decoder, Detection, Prediction};
use crate::model::engine::Outputs;
use crate::model::manifest::DetectionSpec;
use crate::model::preprocess::Transform;

/// One layer of anchors: a grid of cells with `per_cell` anchors each.
#[derive(Debug, Clone)]
pub(super) struct AnchorLayer {
    pub(super) grid_w: usize,
    pub(super) grid_h: usize,
    pub(super) per_cell: usize,
}

impl Decoder {
    pub(super) fn detect(
        &self,
        outputs: &Outputs,
        spec: &DetectionSpec,
        transform: &Transform,
        options: DecodeOptions,
    ) -> Result<Prediction, DecodeError> {
        let threshold = options.threshold.unwrap_or(spec.score_threshold);
        let (in_h, in_w) = (self.input_hw.0 as f32, self.input_hw.1 as f32);
        let per_box = 4 + 2 * spec.keypoints;
        let mut max_score = 0.0f32;
        let mut candidates = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let scores = outputs.get(&spec.scores[l]).ok_or("score output missing")?;
            let boxes = outputs.get(&spec.boxes[l]).ok_or("box output missing")?;
            for (i, &logit) in scores.data.iter().enumerate() {
                let score = sigmoid(logit.clamp(-spec.logit_clamp, spec.logit_clamp));
                max_score = max_score.max(score);
                if score < threshold {
                    continue;
                }
                let cell = i / layer.per_cell;
                let ax = ((cell % layer.grid_w) as f32 + 0.5) / layer.grid_w as f32 * in_w;
                let ay = ((cell / layer.grid_w) as f32 + 0.5) / layer.grid_h as f32 * in_h;
                let r = &boxes.data[i * per_box..(i + 1) * per_box];
                let (cx, cy, w, h) = (ax + r[0], ay + r[1], r[2], r[3]);
                let keypoints =
                    (0..spec.keypoints).map(|k| [ax + r[4 + 2 * k], ay + r[5 + 2 * k]]).collect();
                candidates.push(Candidate {
                    score,
                    bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
                    keypoints,
                });
            }
        }
        let limit = options.top.unwrap_or(spec.max_detections);
        let kept = non_max_suppression(candidates, spec.iou_threshold, limit);
        let detections = kept
            .into_iter()
            .map(|c| {
                let keypoints = c
                    .keypoints
                    .iter()
                    .map(|&[x, y]| {
                        let (x, y) = transform.to_original(x, y);
                        [x, y]
                    })
                    .collect();
                Detection { keypoints, ..Detection::mapped(c.score, c.bbox, transform) }
            })
            .collect();
        Ok(Prediction::Detections { detections, max_score })
    }
}

/// A box over the score threshold, before NMS, in input pixels.
struct Candidate {
    score: f32,
    bbox: [f32; 4],
    keypoints: Vec<[f32; 2]>,
}

/// Intersection over union of two `[x0, y0, x1, y1]` boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// Greedy NMS: best score first, drop any box overlapping a kept one by more than `max_iou`.
fn non_max_suppression(mut c: Vec<Candidate>, max_iou: f32, limit: usize) -> Vec<Candidate> {
    c.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::new();
    for cand in c {
        if kept.len() >= limit {
            break;
        }
        if kept.iter().all(|k| iou(&k.bbox, &cand.bbox) <= max_iou) {
            kept.push(cand);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(score: f32, x: f32) -> Candidate {
        Candidate { score, bbox: [x, 0.0, x + 10.0, 10.0], keypoints: vec![] }
    }

    #[test]
    fn iou_of_known_boxes() {
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 30.0, 10.0]), 0.0);
        assert!((iou(&[0.0, 0.0, 10.0, 10.0], &[5.0, 0.0, 15.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn nms_keeps_best_of_overlapping_and_respects_limit() {
        let kept =
            non_max_suppression(vec![cand(0.6, 1.0), cand(0.9, 0.0), cand(0.8, 50.0)], 0.3, 10);
        let scores: Vec<f32> = kept.iter().map(|c| c.score).collect();
        assert_eq!(scores, vec![0.9, 0.8]);
        assert_eq!(non_max_suppression(vec![cand(0.6, 0.0), cand(0.9, 50.0)], 0.3, 1).len(), 1);
    }
}
