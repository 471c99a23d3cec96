//! Anchor-free YOLO heads as Ultralytics exports them: per candidate a box (centre x, y,
//! width, height in input pixels) and class scores (v8/YOLO11: `[1, 4 + C, N]`, no
//! objectness; v5: `[1, N, 5 + C]`, objectness first), the score threshold, NMS per class or
//! across classes, boxes mapped back to the original image (letterbox undone).

use super::detect::iou;
use super::{output, DecodeError, DecodeOptions, Decoder, Detection, Prediction};
use crate::model::engine::Outputs;
use crate::model::manifest::{YoloLayout, YoloSpec};
use crate::model::preprocess::Transform;

/// A box over the threshold, before NMS, in input pixels.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Candidate {
    pub(super) score: f32,
    pub(super) class: usize,
    pub(super) bbox: [f32; 4],
}

impl Decoder {
    pub(super) fn yolo(
        &self,
        outputs: &Outputs,
        spec: &YoloSpec,
        transform: &Transform,
        options: DecodeOptions,
    ) -> Result<Prediction, DecodeError> {
        let t = output(outputs, spec.output.as_deref(), "yolo")?;
        let threshold = options.threshold.unwrap_or(spec.score_threshold);
        let (candidates, max_score) = candidates(&t.shape, &t.data, spec.layout, threshold)?;
        let limit = options.top.unwrap_or(spec.max_detections);
        let kept = suppress(candidates, spec.iou_threshold, spec.class_agnostic, limit);
        Ok(Prediction::Detections { detections: self.labelled(kept, transform), max_score })
    }

    /// Kept candidates as detections with their class and label, mapped to the image.
    pub(super) fn labelled(&self, kept: Vec<Candidate>, transform: &Transform) -> Vec<Detection> {
        kept.into_iter()
            .map(|c| Detection {
                class: Some(c.class),
                label: self.labels.get(c.class).cloned(),
                ..Detection::mapped(c.score, c.bbox, transform)
            })
            .collect()
    }
}

/// The number of classes an output of `shape` carries in `layout`, if it is one.
pub(super) fn classes(shape: &[usize], layout: YoloLayout) -> Option<usize> {
    match (layout, shape) {
        (YoloLayout::V8, [1, rows, _]) if *rows > 4 => Some(rows - 4),
        (YoloLayout::V5, [1, _, cols]) if *cols > 5 => Some(cols - 5),
        _ => None,
    }
}

/// Every candidate whose best class scores at least `threshold`, and the best score seen.
fn candidates(
    shape: &[usize],
    data: &[f32],
    layout: YoloLayout,
    threshold: f32,
) -> Result<(Vec<Candidate>, f32), DecodeError> {
    let c = classes(shape, layout)
        .ok_or_else(|| DecodeError(format!("yolo output has shape {shape:?}")))?;
    let n = match layout {
        YoloLayout::V8 => shape[2],
        YoloLayout::V5 => shape[1],
    };
    if data.len() != shape.iter().product::<usize>() {
        return Err(DecodeError("yolo output holds fewer values than its shape".into()));
    }
    // v8 is channel-major (value k of candidate i at k * n + i), v5 candidate-major.
    let at = |i: usize, k: usize| match layout {
        YoloLayout::V8 => data[k * n + i],
        YoloLayout::V5 => data[i * (c + 5) + k],
    };
    let first_class = if layout == YoloLayout::V5 { 5 } else { 4 };
    let mut out = Vec::new();
    let mut max_score = 0.0f32;
    for i in 0..n {
        let objectness = if layout == YoloLayout::V5 { at(i, 4) } else { 1.0 };
        let (class, best) = (0..c)
            .map(|k| (k, at(i, first_class + k)))
            .fold((0, f32::MIN), |b, x| if x.1 > b.1 { x } else { b });
        let score = objectness * best;
        if !score.is_finite() {
            continue;
        }
        max_score = max_score.max(score);
        if score < threshold {
            continue;
        }
        let (cx, cy, w, h) = (at(i, 0), at(i, 1), at(i, 2), at(i, 3));
        out.push(Candidate {
            score,
            class,
            bbox: [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0],
        });
    }
    Ok((out, max_score))
}

/// Greedy NMS, best score first: a box is dropped when it overlaps a kept one of its class
/// (of any class with `agnostic`) by more than `max_iou`.
pub(super) fn suppress(
    mut c: Vec<Candidate>,
    max_iou: f32,
    agnostic: bool,
    limit: usize,
) -> Vec<Candidate> {
    // Ties in score keep the export's order, so equal inputs give equal outputs.
    c.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::new();
    for cand in c {
        if kept.len() >= limit {
            break;
        }
        let clear = kept
            .iter()
            .filter(|k| agnostic || k.class == cand.class)
            .all(|k| iou(&k.bbox, &cand.bbox) <= max_iou);
        if clear {
            kept.push(cand);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A candidate: cx, cy, w, h, objectness (v5 only), class scores.
    type Row = (f32, f32, f32, f32, f32, Vec<f32>);

    /// Candidates written out in either layout.
    fn export(layout: YoloLayout, rows: &[Row]) -> (Vec<usize>, Vec<f32>) {
        let c = rows[0].5.len();
        let n = rows.len();
        match layout {
            YoloLayout::V5 => {
                let mut data = Vec::new();
                for (cx, cy, w, h, obj, cls) in rows {
                    data.extend([*cx, *cy, *w, *h, *obj]);
                    data.extend(cls);
                }
                (vec![1, n, 5 + c], data)
            }
            YoloLayout::V8 => {
                let mut data = vec![0.0; (4 + c) * n];
                for (i, (cx, cy, w, h, _, cls)) in rows.iter().enumerate() {
                    for (k, v) in
                        [*cx, *cy, *w, *h].into_iter().chain(cls.iter().copied()).enumerate()
                    {
                        data[k * n + i] = v;
                    }
                }
                (vec![1, 4 + c, n], data)
            }
        }
    }

    fn decode(layout: YoloLayout, rows: &[Row], agnostic: bool) -> Vec<Candidate> {
        let (shape, data) = export(layout, rows);
        let (c, _) = candidates(&shape, &data, layout, 0.25).unwrap();
        suppress(c, 0.45, agnostic, 100)
    }

    #[test]
    fn both_layouts_give_the_same_boxes() {
        let rows = vec![
            (100.0, 50.0, 40.0, 20.0, 1.0, vec![0.1, 0.9]),
            (300.0, 200.0, 60.0, 80.0, 1.0, vec![0.7, 0.2]),
            (10.0, 10.0, 5.0, 5.0, 1.0, vec![0.1, 0.2]),
        ];
        for layout in [YoloLayout::V8, YoloLayout::V5] {
            let kept = decode(layout, &rows, false);
            assert_eq!(kept.len(), 2, "{layout:?}");
            assert_eq!(
                kept[0],
                Candidate { score: 0.9, class: 1, bbox: [80.0, 40.0, 120.0, 60.0] }
            );
            assert_eq!(kept[1].class, 0);
            assert_eq!(kept[1].bbox, [270.0, 160.0, 330.0, 240.0]);
        }
    }

    #[test]
    fn v5_objectness_scales_the_class_score() {
        let rows = vec![
            (50.0, 50.0, 10.0, 10.0, 0.5, vec![0.8]),
            (90.0, 90.0, 10.0, 10.0, 0.2, vec![0.9]),
        ];
        let kept = decode(YoloLayout::V5, &rows, false);
        assert_eq!(kept.len(), 1, "0.2 x 0.9 is under 0.25");
        assert!((kept[0].score - 0.4).abs() < 1e-6);
    }

    #[test]
    fn nms_is_per_class_unless_agnostic() {
        // Two boxes on the same spot, different classes; a third overlapping the first, same class.
        let rows = vec![
            (100.0, 100.0, 50.0, 50.0, 1.0, vec![0.9, 0.0]),
            (102.0, 100.0, 50.0, 50.0, 1.0, vec![0.0, 0.8]),
            (104.0, 100.0, 50.0, 50.0, 1.0, vec![0.7, 0.0]),
        ];
        let per_class = decode(YoloLayout::V8, &rows, false);
        assert_eq!(per_class.iter().map(|c| c.class).collect::<Vec<_>>(), [0, 1]);
        let agnostic = decode(YoloLayout::V8, &rows, true);
        assert_eq!(agnostic.len(), 1);
        // IoU exactly at the limit keeps the box (suppression needs more than the limit).
        let a = Candidate { score: 0.9, class: 0, bbox: [0.0, 0.0, 10.0, 10.0] };
        let b = Candidate { score: 0.8, class: 0, bbox: [0.0, 0.0, 10.0, 5.0] };
        assert_eq!(suppress(vec![a.clone(), b.clone()], 0.5, false, 10).len(), 2);
        assert_eq!(suppress(vec![b, a], 0.49, false, 10).len(), 1);
    }

    #[test]
    fn limit_keeps_the_best_and_ties_keep_export_order() {
        let rows: Vec<_> =
            (0..5).map(|i| (i as f32 * 100.0, 0.0, 10.0, 10.0, 1.0, vec![0.5])).collect();
        let (shape, data) = export(YoloLayout::V8, &rows);
        let (c, max) = candidates(&shape, &data, YoloLayout::V8, 0.25).unwrap();
        assert_eq!(max, 0.5);
        let kept = suppress(c, 0.45, false, 3);
        assert_eq!(kept.iter().map(|c| c.bbox[0] as i32).collect::<Vec<_>>(), [-5, 95, 195]);
    }

    #[test]
    fn letterbox_is_undone() {
        // A 640x480 photo letterboxed into 640x640: scale 1, 80 px of padding on top.
        let t = Transform {
            scale_x: 1.0,
            scale_y: 1.0,
            offset_x: 0.0,
            offset_y: 80.0,
            width: 640,
            height: 480,
            content: [0, 80, 640, 560],
        };
        let (x0, y0) = t.to_original(270.0, 160.0);
        assert_eq!((x0, y0), (270.0, 80.0));
    }

    #[test]
    fn shapes_that_are_not_yolo_are_refused() {
        assert_eq!(classes(&[1, 84, 8400], YoloLayout::V8), Some(80));
        assert_eq!(classes(&[1, 25200, 85], YoloLayout::V5), Some(80));
        assert_eq!(classes(&[1, 4, 8400], YoloLayout::V8), None);
        assert_eq!(classes(&[2, 84, 8400], YoloLayout::V8), None);
        assert!(candidates(&[1, 6, 2], &[0.0; 5], YoloLayout::V8, 0.25).is_err());
        // NaN scores are skipped, not reported.
        let (c, _) =
            candidates(&[1, 5, 1], &[1.0, 1.0, 1.0, 1.0, f32::NAN], YoloLayout::V8, 0.0).unwrap();
        assert!(c.is_empty());
    }
}
