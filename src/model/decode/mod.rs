//! Model outputs → results a person can check: class scores, or boxes in the original
//! image's pixel coordinates. The decoder is built once per bundle and checks the model's
//! outputs against the manifest up front, so a mismatch is a load error, not a serving one.

mod classify;
pub(crate) mod ctc;
mod detect;
mod gfl;
mod segment;
mod yolo;

pub use detect::iou;
use detect::AnchorLayer;

use serde::Serialize;

use super::bundle::{Bundle, MANIFEST_FILE};
use super::engine::{Engine, OutputTensor, Outputs};
use super::manifest::{ClassificationSpec, OutputSpec, YoloLayout};
use super::preprocess::Transform;
use crate::error::{Error, Result};

/// Why a run's outputs could not be decoded (a shape or an output the manifest promised is
/// missing); [`crate::model::Model`] turns it into [`Error::Inference`] naming the model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

impl From<String> for DecodeError {
    fn from(s: String) -> DecodeError {
        DecodeError(s)
    }
}

impl From<&str> for DecodeError {
    fn from(s: &str) -> DecodeError {
        DecodeError(s.to_string())
    }
}

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
    /// Class index, for detectors of several classes (YOLO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<usize>,
    /// Class label from the labels file, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl Detection {
    /// A box of `bbox` (input pixels) mapped back to the original image by `transform`, with
    /// no keypoints and no class.
    pub(super) fn mapped(score: f32, bbox: [f32; 4], transform: &Transform) -> Detection {
        let (x0, y0) = transform.to_original(bbox[0], bbox[1]);
        let (x1, y1) = transform.to_original(bbox[2], bbox[3]);
        Detection { score, bbox: [x0, y0, x1, y1], keypoints: vec![], class: None, label: None }
    }
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
    /// A pipeline's output: lines of text read in the image, in reading order.
    Lines {
        /// The lines read.
        lines: Vec<crate::model::pipeline::TextLine>,
    },
    /// Undecoded outputs (`kind = "raw"`).
    Raw {},
}

impl Prediction {
    /// The confidence a behaviour check compares: the best detection score over all anchors
    /// (map value for segmentation), the top class score, the text's confidence, or the mean
    /// confidence of a pipeline's lines.
    pub fn top_score(&self) -> f32 {
        match self {
            Prediction::Detections { max_score, .. } => *max_score,
            Prediction::Classes { classes } => classes.first().map_or(0.0, |c| c.score),
            Prediction::Text { confidence, .. } => *confidence,
            Prediction::Lines { lines } => {
                lines.iter().map(|l| l.confidence).sum::<f32>() / lines.len().max(1) as f32
            }
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
    /// Segmentation: how much regions grow into boxes (the manifest's `unclip_ratio`); a
    /// pipeline that crops lines for a recogniser may want tighter crops than the boxes the
    /// detector's own suite judges.
    pub unclip_ratio: Option<f32>,
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

impl Decoder {
    /// Builds the decoder and checks the model's outputs match what the manifest says.
    pub fn new(bundle: &Bundle, engine: &Engine) -> Result<Decoder> {
        let manifest = bundle.manifest();
        let file = bundle.dir().join(MANIFEST_FILE);
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
            OutputSpec::Yolo(y) => {
                let info = named_or_first(y.output.as_deref())?;
                let shape: Option<Vec<usize>> = info.shape.iter().map(|d| d.parse().ok()).collect();
                let found = shape.as_deref().and_then(|s| yolo::classes(s, y.layout));
                let want = match y.layout {
                    YoloLayout::V8 => "[1, 4 + classes, candidates]",
                    YoloLayout::V5 => "[1, candidates, 5 + classes]",
                };
                let Some(classes) = found else {
                    return Err(Error::config(
                        &file,
                        "output.layout",
                        format!(
                            "{:?} needs {want}; output {:?} has shape [{}]",
                            y.layout,
                            info.name,
                            info.shape.join(", ")
                        ),
                    ));
                };
                let labels = bundle.labels().len();
                if y.labels.is_some() && labels != classes {
                    return Err(Error::config(
                        &file,
                        "output.labels",
                        format!(
                            "{labels} labels, but output {:?} has {classes} classes",
                            info.name
                        ),
                    ));
                }
            }
            OutputSpec::Gfl(g) => {
                let labels = bundle.labels().len();
                let mut classes = None;
                for (l, (scores, boxes)) in g.scores.iter().zip(&g.boxes).enumerate() {
                    let cells =
                        input_hw.0.div_ceil(g.strides[l]) * input_hw.1.div_ceil(g.strides[l]);
                    let s = find(&format!("output.scores[{l}]"), scores)?;
                    let b = find(&format!("output.boxes[{l}]"), boxes)?;
                    let dims = |shape: &[String]| -> Option<Vec<usize>> {
                        shape.iter().map(|d| d.parse().ok()).collect()
                    };
                    let ok = match (dims(&s.shape).as_deref(), dims(&b.shape).as_deref()) {
                        (Some(&[1, n, c]), Some(&[1, m, bins]))
                            if n == cells && m == cells && bins % 4 == 0 && bins >= 8 =>
                        {
                            classes.get_or_insert(c) == &c
                        }
                        _ => false,
                    };
                    if !ok {
                        return Err(Error::config(
                            &file,
                            format!("output.scores[{l}]"),
                            format!(
                                "stride {} on a {}x{} input needs [1, {cells}, C] scores and \
                                 [1, {cells}, 4 x bins] distributions; {scores:?} is [{}], \
                                 {boxes:?} is [{}]",
                                g.strides[l],
                                input_hw.0,
                                input_hw.1,
                                s.shape.join(", "),
                                b.shape.join(", ")
                            ),
                        ));
                    }
                }
                if let (Some(c), Some(_)) = (classes, &g.labels) {
                    if c != labels {
                        return Err(Error::config(
                            &file,
                            "output.labels",
                            format!("{labels} labels, but the model scores {c} classes"),
                        ));
                    }
                }
            }
            OutputSpec::Classification(_) | OutputSpec::Raw(_) => {}
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
    ) -> Result<Prediction, DecodeError> {
        match &self.spec {
            OutputSpec::Classification(c) => self.classify(outputs, c, options),
            OutputSpec::Detection(d) => self.detect(outputs, d, transform, options),
            OutputSpec::Yolo(y) => self.yolo(outputs, y, transform, options),
            OutputSpec::Gfl(g) => self.gfl(outputs, g, transform, options),
            OutputSpec::Segmentation(g) => self.segment(outputs, g, transform, options),
            OutputSpec::Ctc(c) => self.read(outputs, c),
            OutputSpec::Raw(_) => Ok(Prediction::Raw {}),
        }
    }
}

/// The output called `name`, or the first one.
pub(super) fn output<'a>(
    outputs: &'a Outputs,
    name: Option<&str>,
    what: &str,
) -> Result<&'a OutputTensor, DecodeError> {
    match name {
        Some(name) => outputs.get(name),
        None => outputs.tensors.first(),
    }
    .ok_or_else(|| DecodeError(format!("{what} output missing from the run")))
}
