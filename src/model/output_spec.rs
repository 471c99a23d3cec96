//! `[output]` of `bundle.toml`: which decoder turns the model's outputs into results, and the
//! parameters each decoder reads (re-exported by [`manifest`](super::manifest)).

use serde::{Deserialize, Serialize};

/// Activation turning raw outputs into scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Exponentials normalised to sum to one.
    Softmax,
    /// Independent logistic per value.
    Sigmoid,
    /// Outputs are already scores.
    None,
}

/// `[output]`: which decoder turns the model's outputs into results.
#[derive(Debug, Clone, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "kind", rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum OutputSpec {
    /// One score per class.
    Classification(ClassificationSpec),
    /// Anchor-based single-shot detector (SSD / BlazeFace family).
    Detection(DetectionSpec),
    /// Anchor-free YOLO-family head (Ultralytics v5, v8, v11 exports).
    Yolo(YoloSpec),
    /// Generalized Focal Loss head (PP-PicoDet, NanoDet): per stride, class scores and a
    /// distribution over each box side's distance.
    Gfl(GflSpec),
    /// A per-pixel probability map (DBNet text detectors) → one box per region.
    Segmentation(SegmentationSpec),
    /// Per-timestep class scores decoded greedily as CTC (text recognisers) → a string.
    Ctc(CtcSpec),
    /// No decoding; outputs are reported as tensors.
    Raw(RawSpec),
}

impl OutputSpec {
    /// The `kind` as written in `bundle.toml`.
    pub fn kind_name(&self) -> &'static str {
        self.into()
    }
}

/// `kind = "raw"` takes no parameters; a key given with it is a mistake, refused by name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {}

/// Decoder parameters for `kind = "classification"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationSpec {
    /// Output tensor holding the class scores; the first output when absent.
    #[serde(default)]
    pub output: Option<String>,
    /// Labels file (one label per line), relative to the bundle.
    #[serde(default)]
    pub labels: Option<String>,
    /// Activation applied to the raw scores.
    pub activation: Activation,
    /// How many classes to report.
    #[serde(default = "default_top_k")]
    pub top_k: usize,
}

fn default_top_k() -> usize {
    5
}

/// How box regressors are encoded relative to their anchor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoxCoding {
    /// `dx, dy, w, h` (then keypoint `x, y` pairs) in input pixels, offsets from the anchor
    /// centre; anchors have a fixed unit size (MediaPipe's `fixed_anchor_size`).
    CenterPixels,
}

/// Decoder parameters for `kind = "detection"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectionSpec {
    /// Score outputs, one per anchor layer, each `[1, anchors, 1]`.
    pub scores: Vec<String>,
    /// Regressor outputs, one per anchor layer, each `[1, anchors, 4 + 2 * keypoints]`.
    pub boxes: Vec<String>,
    /// Feature-map stride of each anchor layer, in input pixels.
    pub strides: Vec<usize>,
    /// Anchors per feature-map cell for each layer.
    pub anchors_per_cell: Vec<usize>,
    /// Keypoints regressed per box.
    #[serde(default)]
    pub keypoints: usize,
    /// Encoding of the regressors.
    #[serde(default = "default_box_coding")]
    pub box_coding: BoxCoding,
    /// Logits are clamped to ±this before the sigmoid (raw logits reach ±2700).
    #[serde(default = "default_logit_clamp")]
    pub logit_clamp: f32,
    /// Minimum score of a reported detection.
    #[serde(default = "default_score_threshold")]
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are suppressed.
    #[serde(default = "default_iou_threshold")]
    pub iou_threshold: f32,
    /// At most this many detections per image, best first.
    #[serde(default = "default_max_detections")]
    pub max_detections: usize,
}

/// Where a YOLO export puts its numbers; boxes are centre x, y, width, height in input pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum YoloLayout {
    /// `[1, 4 + C, N]`: the box, then C class scores, no objectness (YOLOv8, YOLO11).
    V8,
    /// `[1, N, 5 + C]`: the box, an objectness score, then C class scores (YOLOv5).
    V5,
}

/// Decoder parameters for `kind = "yolo"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YoloSpec {
    /// Output holding the predictions; the first output when absent.
    #[serde(default)]
    pub output: Option<String>,
    /// `v8` (also YOLO11) or `v5`.
    pub layout: YoloLayout,
    /// Labels file (one class name per line, in class order), relative to the bundle.
    #[serde(default)]
    pub labels: Option<String>,
    /// Suppress overlapping boxes whatever their classes (default: per class, as Ultralytics).
    #[serde(default)]
    pub class_agnostic: bool,
    /// Minimum score (v5: objectness × class score) of a reported detection.
    #[serde(default = "default_yolo_score")]
    pub score_threshold: f32,
    /// Boxes of a class overlapping a better one by more than this IoU are suppressed.
    #[serde(default = "default_yolo_iou")]
    pub iou_threshold: f32,
    /// At most this many detections per image, best first.
    #[serde(default = "default_max_detections")]
    pub max_detections: usize,
}

fn default_yolo_score() -> f32 {
    0.25
}
fn default_yolo_iou() -> f32 {
    0.45
}

/// Decoder parameters for `kind = "segmentation"`: binarise the map, one box per connected
/// region, scored, unclipped and mapped back to the image (DBNet's post-processing with
/// axis-aligned boxes).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentationSpec {
    /// Output holding the `[1, 1, H, W]` probability map; the first output when absent.
    #[serde(default)]
    pub output: Option<String>,
    /// Map values above this are foreground.
    pub threshold: f32,
    /// Regions whose mean probability is below this are dropped.
    pub box_threshold: f32,
    /// Each box grows by `area × unclip_ratio / perimeter` on every side (DBNet shrinks
    /// regions during training; this undoes it).
    pub unclip_ratio: f32,
    /// Regions whose shorter side is below this many map pixels are dropped.
    #[serde(default = "default_min_size")]
    pub min_size: f32,
    /// Dilate the binary map by one pixel right and down before labelling (rapidocr's
    /// `use_dilation`), joining characters split by a one-pixel gap.
    #[serde(default)]
    pub dilate: bool,
    /// At most this many regions per image, best first.
    #[serde(default = "default_max_detections")]
    pub max_regions: usize,
}

fn default_min_size() -> f32 {
    3.0
}

/// Decoder parameters for `kind = "ctc"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtcSpec {
    /// Output holding `[1, T, classes]` scores; the first output when absent.
    #[serde(default)]
    pub output: Option<String>,
    /// Dictionary file (one character per line), relative to the bundle.
    #[serde(default)]
    pub dictionary: Option<String>,
    /// Or: the model's ONNX metadata key holding the dictionary, one character per line.
    #[serde(default)]
    pub dictionary_metadata: Option<String>,
    /// Append a space as the last character (PaddleOCR's `use_space_char`).
    #[serde(default)]
    pub space: bool,
    /// Index of the CTC blank; the dictionary's characters take the other indices in order.
    #[serde(default)]
    pub blank: usize,
}

fn default_box_coding() -> BoxCoding {
    BoxCoding::CenterPixels
}
fn default_logit_clamp() -> f32 {
    100.0
}
fn default_score_threshold() -> f32 {
    0.5
}
fn default_iou_threshold() -> f32 {
    0.3
}
fn default_max_detections() -> usize {
    100
}

/// Decoder parameters for `kind = "gfl"`: per feature level, a `[1, N, C]` class-score output
/// (after its sigmoid) and a `[1, N, 4 × (reg_max + 1)]` distribution output; each cell's
/// centre is `((x + 0.5) × stride, (y + 0.5) × stride)`, each side's distance the expectation
/// of its softmaxed bins times the stride.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GflSpec {
    /// Class-score output per level, finest first.
    pub scores: Vec<String>,
    /// Box-distribution output per level, in the same order.
    pub boxes: Vec<String>,
    /// Feature-map stride of each level, input pixels.
    pub strides: Vec<usize>,
    /// Labels file (one class name per line, in class order), relative to the bundle.
    #[serde(default)]
    pub labels: Option<String>,
    /// Suppress overlapping boxes whatever their classes (default: per class).
    #[serde(default)]
    pub class_agnostic: bool,
    /// Minimum class score of a reported detection.
    #[serde(default = "default_yolo_score")]
    pub score_threshold: f32,
    /// Boxes of a class overlapping a better one by more than this IoU are suppressed.
    #[serde(default = "default_yolo_iou")]
    pub iou_threshold: f32,
    /// At most this many detections per image, best first.
    #[serde(default = "default_max_detections")]
    pub max_detections: usize,
    /// Per level, only this many cells (by best class score) become candidates (PaddleDetection's
    /// `nms_top_k`).
    #[serde(default = "default_level_top_k")]
    pub level_top_k: usize,
}

fn default_level_top_k() -> usize {
    1000
}
