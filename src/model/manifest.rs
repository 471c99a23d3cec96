//! `bundle.toml`: the manifest's schema as a person writes it (validated by `validate.rs`).

use serde::{Deserialize, Serialize};

pub use super::output_spec::*;

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
    /// The boot suite, the older way to name it (`[suites] boot` is the same).
    #[serde(default)]
    pub suite: Option<SuiteRef>,
    /// The behaviour suites that ship with the bundle, by purpose.
    #[serde(default)]
    pub suites: Option<Suites>,
    /// The operating envelope recorded from the suite's robustness curves
    /// (`preflight record --envelope`), judged on every served frame.
    #[serde(default)]
    pub envelope: Option<String>,
}

/// `[model]`: the ONNX file and its expected hash.
///
/// The file sits either in the bundle (`path`) or, for models that are fetched rather than
/// committed, in the model cache (`cache`, relative to [`model_cache_dir`](super::bundle::model_cache_dir)). Exactly one of the
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
    /// Largest tensor the model may hold, in MiB: constants, shapes folded while loading,
    /// and every intermediate result at the input size (default 256; at most 16384). A
    /// small file can ask for more memory than a board has; it is refused before it is
    /// allocated.
    #[serde(default)]
    pub max_tensor_mb: Option<u64>,
}

/// Default of `model.max_tensor_mb`.
pub const DEFAULT_MAX_TENSOR_MB: u64 = 256;
/// The most `model.max_tensor_mb` may raise it to.
pub const MAX_TENSOR_MB_CEILING: u64 = 16 << 10;
/// Default of `input.max_image_pixels`: a 50-megapixel image (8K is 33).
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 50_000_000;
/// The most `input.max_image_pixels` may raise it to.
pub const MAX_IMAGE_PIXELS_CEILING: u64 = 1 << 30;

impl ModelSpec {
    /// The tensor budget in bytes.
    pub fn max_tensor_bytes(&self) -> u64 {
        self.max_tensor_mb.unwrap_or(DEFAULT_MAX_TENSOR_MB) << 20
    }
}

/// What a suite is for: each bundle names its suites by purpose in `[suites]`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Tier {
    /// The gate at start-up: short, strict where it matters (the default).
    #[default]
    Boot,
    /// The full on-hardware acceptance test: every corruption on every case.
    Acceptance,
    /// The periodic re-check while serving (default: the boot suite's `recheck` checks).
    Recheck,
    /// Decisions and parity only, sized for an emulator (CI's qemu runs).
    Emulated,
}

impl Tier {
    /// The name used in `[suites]` and on the command line.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// `[suites]`: the bundle's suites by purpose, paths relative to the bundle directory.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suites {
    /// The start-up gate.
    #[serde(default)]
    pub boot: Option<String>,
    /// The full acceptance test.
    #[serde(default)]
    pub acceptance: Option<String>,
    /// The periodic re-check.
    #[serde(default)]
    pub recheck: Option<String>,
    /// The emulator-sized suite.
    #[serde(default)]
    pub emulated: Option<String>,
}

impl Manifest {
    /// The path (relative to the bundle) of the suite for `tier`, if the bundle names one.
    pub fn suite_for(&self, tier: Tier) -> Option<&str> {
        let suites = self.suites.as_ref();
        match tier {
            Tier::Boot => suites
                .and_then(|s| s.boot.as_deref())
                .or(self.suite.as_ref().map(|s| s.path.as_str())),
            Tier::Acceptance => suites.and_then(|s| s.acceptance.as_deref()),
            Tier::Recheck => suites.and_then(|s| s.recheck.as_deref()),
            Tier::Emulated => suites.and_then(|s| s.emulated.as_deref()),
        }
    }
}

/// `[suite]`: where the bundle's boot suite lives (older form of `[suites] boot`).
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

/// The resampling filter that brings an image to the input size. Each widens its support with
/// the downscale factor (antialiased, as Pillow's filters of the same names).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Filter {
    /// Linear weights over one pixel each side at scale 1 (Pillow's `BILINEAR`).
    #[default]
    Bilinear,
    /// Catmull-Rom cubic over two pixels each side (Pillow's `BICUBIC`): sharper edges when a
    /// small text line is scaled up.
    Bicubic,
    /// Lanczos with three lobes (Pillow's `LANCZOS`): the sharpest, ringing at hard edges.
    Lanczos3,
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
    /// `stretch`, `letterbox`, `center-crop`, `fit-longer-side` or `pad-right` (see
    /// [`ResizeMode`]).
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
    /// Largest image decoded, in pixels (default 50 million; at most 2^30). Checked from the
    /// file's header, before the pixels are allocated.
    #[serde(default)]
    pub max_image_pixels: Option<u64>,
    /// `center-crop`: the share of the scaled shorter side kept (ImageNet's 0.875: 256 → 224).
    #[serde(default)]
    pub crop_fraction: Option<f32>,
    /// `bilinear` (the default), `bicubic` or `lanczos3` (see [`Filter`]).
    #[serde(default)]
    pub filter: Filter,
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

    /// The image size limit in pixels.
    pub fn image_pixel_limit(&self) -> u64 {
        self.max_image_pixels.unwrap_or(DEFAULT_MAX_IMAGE_PIXELS)
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
