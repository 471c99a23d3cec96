//! A model bundle on disk: `bundle.toml`, the model it names (sha256-verified on open), the
//! labels and the suite. This module reads files and validates them; it knows nothing of tract.

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// File name of the manifest inside a bundle directory.
pub const MANIFEST_FILE: &str = "bundle.toml";

/// `bundle.toml`, as written by a person.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Short bundle name, used in reports.
    pub name: String,
    /// Bundle version (free text, usually semver).
    pub version: String,
    /// One sentence on what the model does.
    #[serde(default)]
    pub description: String,
    /// The model file.
    pub model: ModelSpec,
    /// How an image becomes the model's input tensor.
    pub input: InputSpec,
    /// How the model's outputs become results.
    pub output: OutputSpec,
    /// The behaviour suite that ships with the bundle.
    #[serde(default)]
    pub suite: Option<SuiteRef>,
}

/// `[model]`: the ONNX file and its expected hash.
///
/// The file sits either in the bundle (`path`) or, for models that are fetched rather than
/// committed, in the model cache (`cache`, relative to [`model_cache_dir`]). Exactly one of the
/// two is given; the sha256 is checked either way.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Path relative to the bundle directory.
    #[serde(default)]
    pub path: Option<String>,
    /// Path relative to the model cache directory.
    #[serde(default)]
    pub cache: Option<String>,
    /// The command that fills the cache, quoted in the error when the file is missing.
    #[serde(default)]
    pub fetch: Option<String>,
    /// Lower-case hex sha256 of the file; checked on open.
    pub sha256: String,
}

/// Environment variable naming the model cache directory.
pub const MODEL_CACHE_ENV: &str = "PREFLIGHT_MODELS";

/// Where fetched models live: `$PREFLIGHT_MODELS`, else `$XDG_CACHE_HOME/preflight/models`,
/// else `~/.cache/preflight/models` (the fetch scripts under tools/ use the same rule).
pub fn model_cache_dir() -> PathBuf {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = var(MODEL_CACHE_ENV) {
        return dir;
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return dir.join("preflight").join("models");
    }
    var("HOME")
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache")
        .join("preflight")
        .join("models")
}

/// `[suite]`: where the bundle's behaviour suite lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteRef {
    /// Path relative to the bundle directory.
    pub path: String,
}

/// Memory layout of the input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Batch, channels, height, width.
    Nchw,
    /// Batch, height, width, channels.
    Nhwc,
}

/// Channel order the model was trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorOrder {
    /// Red, green, blue.
    Rgb,
    /// Blue, green, red (OpenCV-trained models).
    Bgr,
    /// One luminance channel.
    Gray,
}

impl ColorOrder {
    /// Number of channels in the tensor.
    pub fn channels(self) -> usize {
        match self {
            ColorOrder::Gray => 1,
            ColorOrder::Rgb | ColorOrder::Bgr => 3,
        }
    }
}

/// How an image of any size is brought to the model's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResizeMode {
    /// Scale each axis independently; aspect ratio is not kept.
    Stretch,
    /// Keep aspect, fit inside, pad the rest with `pad` (centred).
    Letterbox,
    /// Keep aspect, fill the input, crop the overflow (centred).
    CenterCrop,
    /// Scale so the longer side is the shape's larger spatial size, then round each side to
    /// the nearest multiple of `multiple`: the input size is chosen per image (text detectors).
    FitLongerSide,
    /// Scale to the shape's height keeping aspect and pad on the right to its width (text
    /// lines). Wider lines are squeezed to the width, or, with `max_width`, widen the input in
    /// steps of `multiple` up to `max_width`.
    PadRight,
}

/// `[input]`: the model input and the preprocessing that produces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Input tensor name in the model.
    pub name: String,
    /// Full tensor shape, batch first (batch must be 1).
    pub shape: Vec<usize>,
    /// `nchw` or `nhwc`.
    pub layout: Layout,
    /// `rgb`, `bgr` or `gray`.
    pub color: ColorOrder,
    /// `stretch`, `letterbox` or `center-crop`.
    pub resize: ResizeMode,
    /// Multiplier applied to 0..255 pixel values before `mean`/`std`.
    pub scale: f32,
    /// Per-channel mean subtracted after scaling (in tensor channel order).
    pub mean: Vec<f32>,
    /// Per-channel divisor applied after the mean (in tensor channel order).
    pub std: Vec<f32>,
    /// Pixel value (0..255, fractions allowed) of padding: `127.5` with mean 0.5 and std 0.5
    /// pads with tensor zeros, as PaddleOCR does.
    #[serde(default)]
    pub pad: f32,
    /// Sizes chosen per image are multiples of this (`fit-longer-side`, `pad-right` with
    /// `max_width`).
    #[serde(default = "default_multiple")]
    pub multiple: usize,
    /// `pad-right`: lines wider than the shape's width widen the input up to this width
    /// instead of being squeezed.
    #[serde(default)]
    pub max_width: Option<usize>,
}

fn default_multiple() -> usize {
    32
}

impl InputSpec {
    /// Height and width of the shape in the manifest (for per-image sizes: the largest
    /// `fit-longer-side` input, or the base `pad-right` input).
    pub fn size(&self) -> (usize, usize) {
        match self.layout {
            Layout::Nchw => (self.shape[2], self.shape[3]),
            Layout::Nhwc => (self.shape[1], self.shape[2]),
        }
    }

    /// True when the input's height or width is chosen per image.
    pub fn size_varies(&self) -> bool {
        match self.resize {
            ResizeMode::FitLongerSide => true,
            ResizeMode::PadRight => self.max_width.is_some(),
            _ => false,
        }
    }

    /// The full tensor shape for an input of `h`×`w` pixels.
    pub fn shape_for(&self, h: usize, w: usize) -> Vec<usize> {
        let c = self.color.channels();
        match self.layout {
            Layout::Nchw => vec![1, c, h, w],
            Layout::Nhwc => vec![1, h, w, c],
        }
    }
}

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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OutputSpec {
    /// One score per class.
    Classification(ClassificationSpec),
    /// Anchor-based single-shot detector (SSD / BlazeFace family).
    Detection(DetectionSpec),
    /// A per-pixel probability map (DBNet text detectors) → one box per region.
    Segmentation(SegmentationSpec),
    /// Per-timestep class scores decoded greedily as CTC (text recognisers) → a string.
    Ctc(CtcSpec),
    /// No decoding; outputs are reported as tensors.
    Raw,
}

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

/// An opened, validated bundle: manifest, verified model bytes and labels.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    manifest: Manifest,
    model_path: PathBuf,
    model_bytes: Vec<u8>,
    model_sha256: String,
    labels: Vec<String>,
}

impl Bundle {
    /// Opens the bundle in `dir`: parses `bundle.toml`, checks every field, refuses paths
    /// leaving the directory, and reads the model, verifying its sha256.
    pub fn open(dir: impl AsRef<Path>) -> Result<Bundle> {
        let dir = dir.as_ref();
        let manifest_path = dir.join(MANIFEST_FILE);
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "bundle directory not found"),
            ));
        }
        let text = read_text(&manifest_path)?;
        let manifest: Manifest = parse_toml(&manifest_path, &text)?;
        validate(&manifest_path, &manifest)?;

        let model_path = match (&manifest.model.path, &manifest.model.cache) {
            (Some(rel), None) => resolve(dir, &manifest_path, "model.path", rel)?,
            (None, Some(rel)) => {
                let cache = model_cache_dir();
                let path = resolve(&cache, &manifest_path, "model.cache", rel)?;
                if !path.is_file() {
                    let hint = manifest.model.fetch.as_deref().map_or(String::new(), |cmd| {
                        format!(" (run `{cmd}`, or set {MODEL_CACHE_ENV})")
                    });
                    return Err(Error::io(
                        &path,
                        std::io::Error::new(
                            std::io::ErrorKind::NotFound,
                            format!("model not in the cache{hint}"),
                        ),
                    ));
                }
                path
            }
            _ => {
                return Err(Error::config(
                    &manifest_path,
                    "model",
                    "give exactly one of `path` (in the bundle) and `cache` (fetched)",
                ))
            }
        };
        let model_bytes = std::fs::read(&model_path).map_err(|e| Error::io(&model_path, e))?;
        let model_sha256 = sha256_hex(&model_bytes);
        if !model_sha256.eq_ignore_ascii_case(&manifest.model.sha256) {
            return Err(Error::HashMismatch {
                path: model_path,
                expected: manifest.model.sha256.clone(),
                actual: model_sha256,
            });
        }

        let labels = match &manifest.output {
            OutputSpec::Classification(ClassificationSpec { labels: Some(rel), .. }) => {
                let path = resolve(dir, &manifest_path, "output.labels", rel)?;
                read_text(&path)?.lines().map(|l| l.trim_end().to_string()).collect()
            }
            // Dictionary characters may be spaces or punctuation: keep lines verbatim.
            OutputSpec::Ctc(CtcSpec { dictionary: Some(rel), .. }) => {
                let path = resolve(dir, &manifest_path, "output.dictionary", rel)?;
                read_text(&path)?.lines().map(str::to_string).collect()
            }
            _ => Vec::new(),
        };
        if let Some(suite) = &manifest.suite {
            resolve(dir, &manifest_path, "suite.path", &suite.path)?;
        }

        Ok(Bundle {
            dir: dir.to_path_buf(),
            manifest,
            model_path,
            model_bytes,
            model_sha256,
            labels,
        })
    }

    /// The bundle directory as given to [`Bundle::open`].
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Path of the model file.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// The verified model bytes.
    pub fn model_bytes(&self) -> &[u8] {
        &self.model_bytes
    }

    /// sha256 of the model file (verified equal to the manifest's).
    pub fn model_sha256(&self) -> &str {
        &self.model_sha256
    }

    /// Class labels (or a CTC dictionary file's characters), empty when the bundle has none.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Path of the bundle's suite, if it declares one.
    pub fn suite_path(&self) -> Option<PathBuf> {
        self.manifest.suite.as_ref().map(|s| self.dir.join(&s.path))
    }

    /// Resolves a path written in a bundle file, refusing any that leaves the bundle.
    pub fn resolve(&self, key: &str, rel: &str) -> Result<PathBuf> {
        resolve(&self.dir, &self.dir.join(MANIFEST_FILE), key, rel)
    }
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// Parses TOML into `T`, naming the offending key path on error.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        // toml's message repeats the source snippet over several lines; keep the reason.
        let message = inner.message().to_string();
        let key = if key == "." { "(top level)".to_string() } else { key };
        Error::config(path, key, message)
    })
}

/// Joins `rel` to `dir`, refusing absolute paths, `..` and symlinks that escape `dir`.
pub(crate) fn resolve(dir: &Path, file: &Path, key: &str, rel: &str) -> Result<PathBuf> {
    let candidate = Path::new(rel);
    let escapes =
        candidate.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if rel.is_empty() || escapes {
        return Err(Error::config(file, key, format!("path {rel:?} leaves the bundle directory")));
    }
    let joined = dir.join(candidate);
    if let (Ok(real), Ok(root)) = (joined.canonicalize(), dir.canonicalize()) {
        if !real.starts_with(&root) {
            return Err(Error::config(
                file,
                key,
                format!("path {rel:?} resolves outside the bundle directory"),
            ));
        }
    }
    Ok(joined)
}

fn validate(path: &Path, m: &Manifest) -> Result<()> {
    let bad = |key: &str, msg: String| Err(Error::config(path, key, msg));
    let sha = &m.model.sha256;
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return bad("model.sha256", format!("expected 64 hex digits, got {sha:?}"));
    }
    let input = &m.input;
    if input.shape.len() != 4 {
        return bad("input.shape", format!("expected 4 dimensions, got {:?}", input.shape));
    }
    if input.shape[0] != 1 {
        return bad("input.shape", format!("batch must be 1, got {}", input.shape[0]));
    }
    if input.shape.contains(&0) {
        return bad("input.shape", format!("dimensions must be positive, got {:?}", input.shape));
    }
    let channels = match input.layout {
        Layout::Nchw => input.shape[1],
        Layout::Nhwc => input.shape[3],
    };
    if channels != input.color.channels() {
        return bad(
            "input.shape",
            format!(
                "{channels} channels, but color {:?} has {}",
                input.color,
                input.color.channels()
            ),
        );
    }
    if !(input.scale.is_finite() && input.scale > 0.0) {
        return bad("input.scale", format!("must be a positive number, got {}", input.scale));
    }
    for (key, v) in [("input.mean", &input.mean), ("input.std", &input.std)] {
        if v.len() != channels {
            return bad(key, format!("expected {channels} values, got {}", v.len()));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return bad(key, "values must be finite".into());
        }
    }
    if input.std.contains(&0.0) {
        return bad("input.std", "values must be non-zero".into());
    }
    if !(0.0..=255.0).contains(&input.pad) {
        return bad("input.pad", format!("must be within 0..=255, got {}", input.pad));
    }
    if input.multiple == 0 {
        return bad("input.multiple", "must be at least 1".into());
    }
    if let Some(max) = input.max_width {
        if input.resize != ResizeMode::PadRight {
            return bad("input.max_width", "only applies to resize = \"pad-right\"".into());
        }
        if max < input.size().1 {
            return bad(
                "input.max_width",
                format!("{max} is below the shape's width {}", input.size().1),
            );
        }
    }
    match &m.output {
        OutputSpec::Classification(c) => {
            if c.top_k == 0 {
                return bad("output.top_k", "must be at least 1".into());
            }
        }
        OutputSpec::Detection(d) => {
            let layers = d.scores.len();
            if layers == 0 {
                return bad("output.scores", "at least one anchor layer is needed".into());
            }
            for (key, n) in [
                ("output.boxes", d.boxes.len()),
                ("output.strides", d.strides.len()),
                ("output.anchors_per_cell", d.anchors_per_cell.len()),
            ] {
                if n != layers {
                    return bad(key, format!("{n} entries, but output.scores has {layers}"));
                }
            }
            if d.strides.contains(&0) || d.anchors_per_cell.contains(&0) {
                return bad(
                    "output.strides",
                    "strides and anchors per cell must be positive".into(),
                );
            }
            for (key, v) in [
                ("output.score_threshold", d.score_threshold),
                ("output.iou_threshold", d.iou_threshold),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    return bad(key, format!("must be within 0..=1, got {v}"));
                }
            }
            if !(d.logit_clamp.is_finite() && d.logit_clamp > 0.0) {
                return bad(
                    "output.logit_clamp",
                    format!("must be positive, got {}", d.logit_clamp),
                );
            }
        }
        OutputSpec::Segmentation(g) => {
            for (key, v) in
                [("output.threshold", g.threshold), ("output.box_threshold", g.box_threshold)]
            {
                if !(0.0..=1.0).contains(&v) {
                    return bad(key, format!("must be within 0..=1, got {v}"));
                }
            }
            if !(g.unclip_ratio.is_finite() && g.unclip_ratio >= 0.0) {
                return bad("output.unclip_ratio", format!("must be ≥ 0, got {}", g.unclip_ratio));
            }
            if !(g.min_size.is_finite() && g.min_size >= 0.0) {
                return bad("output.min_size", format!("must be ≥ 0, got {}", g.min_size));
            }
        }
        OutputSpec::Ctc(c) => {
            if c.dictionary.is_some() == c.dictionary_metadata.is_some() {
                return bad(
                    "output",
                    "give exactly one of `dictionary` (a file) and `dictionary_metadata`".into(),
                );
            }
        }
        OutputSpec::Raw => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_escapes() {
        let dir = Path::new(".");
        let file = Path::new("bundle.toml");
        assert!(resolve(dir, file, "k", "../x").is_err());
        assert!(resolve(dir, file, "k", "/etc/passwd").is_err());
        assert!(resolve(dir, file, "k", "a/../../x").is_err());
        assert!(resolve(dir, file, "k", "").is_err());
        assert!(resolve(dir, file, "k", "a/b.onnx").is_ok());
    }

    #[test]
    fn parse_error_names_key_path() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Outer {
            input: Inner,
        }
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            shape: Vec<usize>,
        }
        let err = parse_toml::<Outer>(Path::new("b.toml"), "[input]\nshape = [1, -2]\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("b.toml: input.shape[1]:"), "{err}");
        let err = parse_toml::<Outer>(Path::new("b.toml"), "[input]\nshape = []\nfoo = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("input") && err.contains("unknown field `foo`"), "{err}");
    }

    #[test]
    fn model_cache_dir_follows_the_environment() {
        // One test touches these variables, so parallel tests do not race on them.
        std::env::set_var(MODEL_CACHE_ENV, "/tmp/models-here");
        assert_eq!(model_cache_dir(), PathBuf::from("/tmp/models-here"));
        std::env::set_var(MODEL_CACHE_ENV, "");
        std::env::set_var("XDG_CACHE_HOME", "/tmp/xdg");
        assert_eq!(model_cache_dir(), PathBuf::from("/tmp/xdg/preflight/models"));
        std::env::remove_var("XDG_CACHE_HOME");
        std::env::remove_var(MODEL_CACHE_ENV);
        assert!(model_cache_dir().ends_with(".cache/preflight/models"));
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
