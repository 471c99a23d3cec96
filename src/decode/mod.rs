//! Model outputs → results a person can check: class scores, or boxes in the original
//! image's pixel coordinates. The decoder is built once per bundle and checks the model's
//! outputs against the manifest up front, so a mismatch is a load error, not a serving one.

pub(crate) mod ctc;
mod segment;

use serde::Serialize;

use crate::bundle::{
    Activation, Bundle, ClassificationSpec, CtcSpec, DetectionSpec, OutputSpec, SegmentationSpec,
};
use crate::engine::{Engine, OutputTensor, Outputs};
use crate::error::{Error, Result};
use crate::preprocess::Transform;

/// One detected object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// Confidence in `[0, 1]`.
    pub score: f32,
    /// `[x0, y0, x1, y1]` in original-image pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Keypoints `[x, y]` in original-image pixels (model-specific order).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keypoints: Vec<[f32; 2]>,
}

/// One class and its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// Class label (or `class N` without a labels file).
    pub label: String,
    /// Class index in the model output.
    pub index: usize,
    /// Score after the activation.
    pub score: f32,
}

/// A decoded model result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Prediction {
    /// Detector output.
    Detections {
        /// Detections at or above the threshold after NMS, best first.
        detections: Vec<Detection>,
        /// Highest score over all anchors, before thresholding.
        max_score: f32,
    },
    /// Classifier output: the top-k classes, best first.
    Classes {
        /// Best classes first.
        classes: Vec<ClassScore>,
    },
    /// Recogniser output (`kind = "ctc"`).
    Text {
        /// The text read.
        text: String,
        /// Mean of the character scores (0 for an empty string).
        confidence: f32,
        /// Per character, its score.
        char_scores: Vec<f32>,
    },
    /// Undecoded outputs (`kind = "raw"`).
    Raw {},
}

impl Prediction {
    /// The confidence a behaviour check compares: the best detection score over all anchors
    /// (map value for segmentation), the top class score, or the text's confidence.
    pub fn top_score(&self) -> f32 {
        match self {
            Prediction::Detections { max_score, .. } => *max_score,
            Prediction::Classes { classes } => classes.first().map_or(0.0, |c| c.score),
            Prediction::Text { confidence, .. } => *confidence,
            Prediction::Raw {} => 0.0,
        }
    }
}

/// Per-call overrides of the manifest's decoding parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeOptions {
    /// Score threshold for detections.
    pub threshold: Option<f32>,
    /// Number of classes (classification) or detections (detection) to keep.
    pub top: Option<usize>,
}

/// A decoder bound to one bundle's outputs.
#[derive(Debug, Clone)]
pub struct Decoder {
    spec: OutputSpec,
    labels: Vec<String>,
    input_hw: (usize, usize),
    layers: Vec<AnchorLayer>,
    /// CTC: the characters of the non-blank classes, in class order.
    charset: Vec<String>,
}

#[derive(Debug, Clone)]
struct AnchorLayer {
    grid_w: usize,
    grid_h: usize,
    per_cell: usize,
}

impl Decoder {
    /// Builds the decoder and checks the model's outputs match what the manifest says.
    pub fn new(bundle: &Bundle, engine: &Engine) -> Result<Decoder> {
        let manifest = bundle.manifest();
        let file = bundle.dir().join(crate::bundle::MANIFEST_FILE);
        let outputs = &engine.info().outputs;
        let find = |key: &str, name: &str| {
            outputs.iter().find(|o| o.name == name).ok_or_else(|| {
                let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                Error::config(
                    &file,
                    key,
                    format!("model has no output {name:?} (outputs: {})", names.join(", ")),
                )
            })
        };
        let named_or_first = |name: Option<&str>| match name {
            Some(name) => find("output.output", name),
            None => outputs
                .first()
                .ok_or_else(|| Error::config(&file, "output", "the model has no outputs")),
        };
        let input_hw = manifest.input.size();
        let mut layers = Vec::new();
        let mut charset = Vec::new();
        match &manifest.output {
            OutputSpec::Detection(d) => {
                let stride_per_box = 4 + 2 * d.keypoints;
                for (l, (scores, boxes)) in d.scores.iter().zip(&d.boxes).enumerate() {
                    let grid_h = input_hw.0.div_ceil(d.strides[l]);
                    let grid_w = input_hw.1.div_ceil(d.strides[l]);
                    let per_cell = d.anchors_per_cell[l];
                    let anchors = grid_h * grid_w * per_cell;
                    let want = [
                        (format!("output.scores[{l}]"), scores, vec![1, anchors, 1]),
                        (format!("output.boxes[{l}]"), boxes, vec![1, anchors, stride_per_box]),
                    ];
                    for (key, name, shape) in want {
                        let info = find(&key, name)?;
                        let shape_s: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
                        if info.shape != shape_s {
                            return Err(Error::config(
                                &file,
                                key,
                                format!(
                                    "output {name:?} has shape [{}], the anchor layout implies [{}]",
                                    info.shape.join(", "),
                                    shape_s.join(", ")
                                ),
                            ));
                        }
                    }
                    layers.push(AnchorLayer { grid_w, grid_h, per_cell });
                }
            }
            OutputSpec::Classification(ClassificationSpec { output: Some(name), .. }) => {
                find("output.output", name)?;
            }
            OutputSpec::Segmentation(g) => {
                let info = named_or_first(g.output.as_deref())?;
                if info.shape.len() != 4 || info.shape[1] != "1" {
                    return Err(Error::config(
                        &file,
                        "output",
                        format!(
                            "segmentation needs a [1, 1, H, W] map; output {:?} has shape [{}]",
                            info.name,
                            info.shape.join(", ")
                        ),
                    ));
                }
            }
            OutputSpec::Ctc(c) => {
                let info = named_or_first(c.output.as_deref())?;
                charset = match &c.dictionary_metadata {
                    Some(key) => engine
                        .metadata(key)
                        .ok_or_else(|| {
                            let keys = engine.info().metadata_keys.join(", ");
                            Error::config(
                                &file,
                                "output.dictionary_metadata",
                                format!("the model has no metadata {key:?} (it has: {keys})"),
                            )
                        })?
                        .lines()
                        .map(str::to_string)
                        .collect(),
                    None => bundle.labels().to_vec(),
                };
                if c.space {
                    charset.push(" ".into());
                }
                let classes = info.shape.last().and_then(|d| d.parse::<usize>().ok());
                if info.shape.len() != 3 || classes != Some(charset.len() + 1) {
                    return Err(Error::config(
                        &file,
                        "output",
                        format!(
                            "ctc needs [1, T, {}] scores ({} characters and the blank); output \
                             {:?} has shape [{}]",
                            charset.len() + 1,
                            charset.len(),
                            info.name,
                            info.shape.join(", ")
                        ),
                    ));
                }
                if c.blank > charset.len() {
                    return Err(Error::config(
                        &file,
                        "output.blank",
                        format!("{} is not a class index (0..={})", c.blank, charset.len()),
                    ));
                }
            }
            OutputSpec::Classification(_) | OutputSpec::Raw => {}
        }
        Ok(Decoder {
            spec: manifest.output.clone(),
            labels: bundle.labels().to_vec(),
            input_hw,
            layers,
            charset,
        })
    }

    /// Decodes one run's outputs; `transform` maps input pixels back to the original image.
    pub fn decode(
        &self,
        outputs: &Outputs,
        transform: &Transform,
        options: DecodeOptions,
    ) -> std::result::Result<Prediction, String> {
        match &self.spec {
            OutputSpec::Classification(c) => self.classify(outputs, c, options),
            OutputSpec::Detection(d) => self.detect(outputs, d, transform, options),
            OutputSpec::Segmentation(g) => self.segment(outputs, g, transform, options),
            OutputSpec::Ctc(c) => self.read(outputs, c),
            OutputSpec::Raw => Ok(Prediction::Raw {}),
        }
    }

    fn segment(
        &self,
        outputs: &Outputs,
        spec: &SegmentationSpec,
        transform: &Transform,
        options: DecodeOptions,
    ) -> std::result::Result<Prediction, String> {
        let map = output(outputs, spec.output.as_deref(), "segmentation")?;
        let [_, _, h, w] = map.shape[..] else {
            return Err(format!("segmentation map has shape {:?}, not [1, 1, H, W]", map.shape));
        };
        if map.data.len() != h * w {
            return Err(format!("segmentation map has shape {:?}, not [1, 1, H, W]", map.shape));
        }
        let threshold = options.threshold.unwrap_or(spec.box_threshold);
        let max_score = map.data.iter().copied().fold(0.0f32, f32::max);
        let limit = options.top.unwrap_or(spec.max_regions);
        // The map has the input's size (DBNet), so map pixels are input pixels.
        let detections = segment::regions(&map.data, w, h, spec, threshold)
            .into_iter()
            .take(limit)
            .map(|r| {
                let (x0, y0) = transform.to_original(r.bbox[0], r.bbox[1]);
                let (x1, y1) = transform.to_original(r.bbox[2], r.bbox[3]);
                Detection { score: r.score, bbox: [x0, y0, x1, y1], keypoints: vec![] }
            })
            .collect();
        Ok(Prediction::Detections { detections, max_score })
    }

    fn read(&self, outputs: &Outputs, spec: &CtcSpec) -> std::result::Result<Prediction, String> {
        let scores = output(outputs, spec.output.as_deref(), "ctc")?;
        let classes = self.charset.len() + 1;
        if scores.shape.len() != 3 || scores.shape[2] != classes {
            return Err(format!("ctc scores have shape {:?}, not [1, T, {classes}]", scores.shape));
        }
        let d = ctc::greedy(&scores.data, classes, spec.blank, &self.charset);
        let confidence = if d.char_scores.is_empty() {
            0.0
        } else {
            d.char_scores.iter().sum::<f32>() / d.char_scores.len() as f32
        };
        Ok(Prediction::Text { text: d.text, confidence, char_scores: d.char_scores })
    }

    fn classify(
        &self,
        outputs: &Outputs,
        spec: &ClassificationSpec,
        options: DecodeOptions,
    ) -> std::result::Result<Prediction, String> {
        let tensor = output(outputs, spec.output.as_deref(), "classification")?;
        let scores = activate(&tensor.data, spec.activation);
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let k = options.top.unwrap_or(spec.top_k).min(order.len());
        let classes = order[..k]
            .iter()
            .map(|&i| ClassScore {
                label: self.labels.get(i).cloned().unwrap_or_else(|| format!("class {i}")),
                index: i,
                score: scores[i],
            })
            .collect();
        Ok(Prediction::Classes { classes })
    }

    fn detect(
        &self,
        outputs: &Outputs,
        spec: &DetectionSpec,
        transform: &Transform,
        options: DecodeOptions,
    ) -> std::result::Result<Prediction, String> {
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
                let (x0, y0) = transform.to_original(c.bbox[0], c.bbox[1]);
                let (x1, y1) = transform.to_original(c.bbox[2], c.bbox[3]);
                let keypoints = c
                    .keypoints
                    .iter()
                    .map(|&[x, y]| {
                        let (x, y) = transform.to_original(x, y);
                        [x, y]
                    })
                    .collect();
                Detection { score: c.score, bbox: [x0, y0, x1, y1], keypoints }
            })
            .collect();
        Ok(Prediction::Detections { detections, max_score })
    }
}

/// The output called `name`, or the first one.
fn output<'a>(
    outputs: &'a Outputs,
    name: Option<&str>,
    what: &str,
) -> std::result::Result<&'a OutputTensor, String> {
    match name {
        Some(name) => outputs.get(name),
        None => outputs.tensors.first(),
    }
    .ok_or_else(|| format!("{what} output missing from the run"))
}

struct Candidate {
    score: f32,
    bbox: [f32; 4],
    keypoints: Vec<[f32; 2]>,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn activate(raw: &[f32], activation: Activation) -> Vec<f32> {
    match activation {
        Activation::None => raw.to_vec(),
        Activation::Sigmoid => raw.iter().map(|&x| sigmoid(x)).collect(),
        Activation::Softmax => {
            // Subtracting the max keeps exp() finite for large logits.
            let max = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exps: Vec<f32> = raw.iter().map(|&x| (x - max).exp()).collect();
            let sum: f32 = exps.iter().sum();
            exps.iter().map(|e| e / sum).collect()
        }
    }
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
    fn softmax_sums_to_one_and_survives_huge_logits() {
        let s = activate(&[1000.0, 0.0, -1000.0], Activation::Softmax);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(s.iter().all(|v| v.is_finite()));
        assert!(s[0] > 0.99);
    }

    #[test]
    fn clamped_sigmoid_is_finite() {
        assert_eq!(sigmoid((-2700.0f32).clamp(-100.0, 100.0)), sigmoid(-100.0));
        assert!(sigmoid(100.0) <= 1.0 && sigmoid(-100.0) >= 0.0);
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
