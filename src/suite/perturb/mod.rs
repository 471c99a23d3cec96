//! Image perturbations for behaviour checks: ImageNet-C's corruptions (Hendrycks & Dietterich
//! 2019, parameters as in PyPI `imagenet_c` 0.0.2) and preflight's own, each with severities 1
//! (mild) to 5 (harsh), deterministic for a seed, pure Rust.
//!
//! ImageNet-C corrupts 224×224 images; here a corruption whose parameter is in pixels (a blur's
//! σ or radius, a displacement) is scaled by the image's shorter side / 224, so a severity
//! means the same at a model's input size as in the literature. Parameters per severity,
//! pixels at 224:
//!
//! | name | what it is | parameter | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|---|---|
//! | `gaussian_noise` | read noise | σ of added noise | 0.08 | 0.12 | 0.18 | 0.26 | 0.38 |
//! | `shot_noise` | photon noise | photons at full scale | 60 | 25 | 12 | 5 | 3 |
//! | `impulse_noise` | dead/hot pixels, bit errors | share of values set to 0 or 1 | 0.03 | 0.06 | 0.09 | 0.17 | 0.27 |
//! | `speckle_noise` | multiplicative noise | σ of x·N(0, σ) | 0.15 | 0.2 | 0.35 | 0.45 | 0.6 |
//! | `gaussian_blur` | soft lens | σ, px | 1 | 2 | 3 | 4 | 6 |
//! | `defocus_blur` | out of focus | disk radius, px (edge σ) | 3 (0.1) | 4 (0.5) | 6 (0.5) | 8 (0.5) | 10 (0.5) |
//! | `motion_blur` | camera or subject moving | radius, σ, px; angle ±45° from the seed | 10, 3 | 15, 5 | 15, 8 | 15, 12 | 20, 15 |
//! | `zoom_blur` | moving towards the scene | zooms up to | 1.10 | 1.15 | 1.20 | 1.24 | 1.30 |
//! | `fog` | fog, haze | plasma strength (roughness decay) | 1.5 (2) | 2 (2) | 2.5 (1.7) | 2.5 (1.5) | 3 (1.4) |
//! | `brightness` | over-exposure | added to HSV value | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 |
//! | `contrast` | flat light, a washed-out sensor | factor towards each channel's mean | 0.4 | 0.3 | 0.2 | 0.1 | 0.05 |
//! | `saturate` | a mis-tuned ISP | HSV saturation × a + b | 0.3 | 0.1 | 2 | 5 + 0.1 | 20 + 0.2 |
//! | `jpeg_compression` | compression | JPEG quality | 25 | 18 | 15 | 10 | 7 |
//! | `pixelate` | low resolution | box-filtered down to, of each side | 0.6 | 0.5 | 0.4 | 0.3 | 0.25 |
//! | `elastic_transform` | a wobbling lens or window | α, σ, affine jitter, px | 488, 171, 24 | 488, 20, 49 | 12, 2.4, 4.9 | 17, 2.4, 4.9 | 29, 2.4, 4.9 |
//!
//! preflight's own, not ImageNet-C:
//!
//! | name | what it is | parameter | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|---|---|
//! | `low_light` | dusk, a dark room | share of the light (200 photons at full scale) | 0.6 | 0.45 | 0.3 | 0.2 | 0.1 |
//! | `gamma` | a wrong tone curve | exponent on [0, 1] values | 1.5 | 2.0 | 2.5 | 3.0 | 3.5 |
//! | `rotate` | a tilted camera | degrees, sign from the seed | 5 | 10 | 15 | 20 | 30 |
//! | `translate` | framing | shift, share of each side, direction from the seed (black fill) | 0.05 | 0.1 | 0.15 | 0.2 | 0.3 |
//! | `occlude` | something in front | gray square, share of the shorter side | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 |
//! | `flip` | mirrored mounting | horizontal mirror | – | – | – | – | – |
//! | `upside_down` | a line fed turned | 180° turn | – | – | – | – | – |
//!
//! `blur` and `jpeg`, the names of the first release, load as `gaussian_blur` and
//! `jpeg_compression` with a warning.

mod blur;
mod color;
mod fault;
mod geometry;
mod noise;
mod planes;
pub(crate) mod rng;

use std::fmt;
use std::str::FromStr;

use image::{imageops, RgbImage};
use serde::{Deserialize, Serialize};

pub use fault::{At, Fault};
use planes::Planes;
use rng::SplitMix64;

/// A named perturbation kind. The order of the variants is part of the seeds: new ones go
/// last.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, strum::IntoStaticStr, strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Perturbation {
    /// HSV value raised (ImageNet-C).
    Brightness,
    /// Each channel pulled towards its mean (ImageNet-C).
    Contrast,
    /// Values raised to a power: darker mid-tones.
    Gamma,
    /// Additive Gaussian noise (ImageNet-C).
    GaussianNoise,
    /// Gaussian blur (ImageNet-C's extra corruptions).
    GaussianBlur,
    /// JPEG compression artefacts (ImageNet-C).
    JpegCompression,
    /// Box-filtered down and up (ImageNet-C).
    Pixelate,
    /// In-plane rotation.
    Rotate,
    /// Shift with black fill.
    Translate,
    /// A gray square covering the middle of the image.
    Occlude,
    /// Horizontal mirror.
    Flip,
    /// Turned by 180 degrees (a text line fed upside down).
    UpsideDown,
    /// Poisson photon noise (ImageNet-C).
    ShotNoise,
    /// Salt and pepper (ImageNet-C).
    ImpulseNoise,
    /// Multiplicative Gaussian noise (ImageNet-C).
    SpeckleNoise,
    /// Convolution with an anti-aliased disk (ImageNet-C).
    DefocusBlur,
    /// One-sided Gaussian streak at a seeded angle (ImageNet-C).
    MotionBlur,
    /// Mean of centre zooms (ImageNet-C).
    ZoomBlur,
    /// Plasma-fractal fog (ImageNet-C).
    Fog,
    /// HSV saturation scaled (ImageNet-C).
    Saturate,
    /// Random affine warp plus a smooth displacement field (ImageNet-C).
    ElasticTransform,
    /// Less light and its shot noise.
    LowLight,
}

/// Every perturbation.
pub const ALL: &[Perturbation] = <Perturbation as strum::VariantArray>::VARIANTS;

/// Names of the first release and what they load as.
const ALIASES: &[(&str, Perturbation)] =
    &[("blur", Perturbation::GaussianBlur), ("jpeg", Perturbation::JpegCompression)];

/// Numbers 1..5 of `arange(1, stop, step)`, ImageNet-C's zoom factors.
fn zooms(stop: f32, step: f32) -> Vec<f32> {
    let n = ((stop - 1.0) / step).ceil() as usize;
    (0..n).map(|i| 1.0 + i as f32 * step).collect()
}

impl Perturbation {
    /// The name used in suites, reports and docs.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Whether the corruption is ImageNet-C's (formula and parameters), not preflight's own.
    pub fn is_imagenet_c(self) -> bool {
        use Perturbation::*;
        !matches!(self, Gamma | Rotate | Translate | Occlude | Flip | UpsideDown | LowLight)
    }

    /// Applies the perturbation at `severity` (1..=5, clamped); same inputs, same output.
    pub fn apply(self, img: &RgbImage, severity: u8, seed: u64) -> RgbImage {
        use Perturbation::*;
        let i = (severity.clamp(1, 5) - 1) as usize;
        let mut rng = SplitMix64::new(seed ^ (self as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        // Pixel sizes are ImageNet-C's at 224 px.
        let px = img.width().min(img.height()) as f32 / 224.0;
        let pick = |t: [f32; 5]| t[i];
        let planes = |f: &dyn Fn(&mut Planes)| {
            let mut p = Planes::from_rgb(img);
            f(&mut p);
            p.to_rgb()
        };
        match self {
            GaussianNoise => {
                let sigma = pick([0.08, 0.12, 0.18, 0.26, 0.38]);
                let mut p = Planes::from_rgb(img);
                noise::gaussian(&mut p, sigma, &mut rng);
                p.to_rgb()
            }
            ShotNoise => {
                let mut p = Planes::from_rgb(img);
                noise::shot(&mut p, pick([60.0, 25.0, 12.0, 5.0, 3.0]), &mut rng);
                p.to_rgb()
            }
            ImpulseNoise => {
                let mut p = Planes::from_rgb(img);
                noise::impulse(&mut p, pick([0.03, 0.06, 0.09, 0.17, 0.27]), &mut rng);
                p.to_rgb()
            }
            SpeckleNoise => {
                let mut p = Planes::from_rgb(img);
                noise::speckle(&mut p, pick([0.15, 0.2, 0.35, 0.45, 0.6]), &mut rng);
                p.to_rgb()
            }
            LowLight => {
                let mut p = Planes::from_rgb(img);
                noise::low_light(&mut p, pick([0.6, 0.45, 0.3, 0.2, 0.1]), 200.0, &mut rng);
                p.to_rgb()
            }
            GaussianBlur => {
                blur::gaussian(&Planes::from_rgb(img), pick([1.0, 2.0, 3.0, 4.0, 6.0]) * px)
                    .to_rgb()
            }
            DefocusBlur => {
                let (r, alias) = [(3.0, 0.1), (4.0, 0.5), (6.0, 0.5), (8.0, 0.5), (10.0, 0.5)][i];
                blur::defocus(&Planes::from_rgb(img), r * px, alias * px).to_rgb()
            }
            MotionBlur => {
                let (r, s) = [(10.0, 3.0), (15.0, 5.0), (15.0, 8.0), (15.0, 12.0), (20.0, 15.0)][i];
                let angle = rng.uniform(-45.0, 45.0);
                blur::motion(&Planes::from_rgb(img), r * px, s * px, angle).to_rgb()
            }
            ZoomBlur => {
                let (stop, step) =
                    [(1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)][i];
                blur::zoom(&Planes::from_rgb(img), &zooms(stop, step)).to_rgb()
            }
            Fog => {
                let (c, decay) = [(1.5, 2.0), (2.0, 2.0), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)][i];
                let mut p = Planes::from_rgb(img);
                color::fog(&mut p, c, decay, &mut rng);
                p.to_rgb()
            }
            Brightness => planes(&|p| color::brightness(p, pick([0.1, 0.2, 0.3, 0.4, 0.5]))),
            Contrast => planes(&|p| color::contrast(p, pick([0.4, 0.3, 0.2, 0.1, 0.05]))),
            Saturate => {
                let (a, b) = [(0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)][i];
                planes(&|p| color::saturate(p, a, b))
            }
            Gamma => planes(&|p| color::gamma(p, pick([1.5, 2.0, 2.5, 3.0, 3.5]))),
            JpegCompression => geometry::jpeg(img, [25, 18, 15, 10, 7][i]),
            Pixelate => geometry::pixelate(img, pick([0.6, 0.5, 0.4, 0.3, 0.25])),
            ElasticTransform => {
                let (a, s, j) = [
                    (244.0 * 2.0, 244.0 * 0.7, 244.0 * 0.1),
                    (244.0 * 2.0, 244.0 * 0.08, 244.0 * 0.2),
                    (244.0 * 0.05, 244.0 * 0.01, 244.0 * 0.02),
                    (244.0 * 0.07, 244.0 * 0.01, 244.0 * 0.02),
                    (244.0 * 0.12, 244.0 * 0.01, 244.0 * 0.02),
                ][i];
                geometry::elastic(&Planes::from_rgb(img), a * px, s * px, j * px, &mut rng).to_rgb()
            }
            Rotate => {
                let sign = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                geometry::rotate(img, sign * pick([5.0, 10.0, 15.0, 20.0, 30.0]).to_radians())
            }
            Translate => geometry::translate(img, pick([0.05, 0.1, 0.15, 0.2, 0.3]), &mut rng),
            Occlude => geometry::occlude(img, pick([0.1, 0.2, 0.3, 0.4, 0.5]), &mut rng),
            Flip => imageops::flip_horizontal(img),
            UpsideDown => imageops::rotate180(img),
        }
    }
}

impl fmt::Display for Perturbation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A seed for one (run seed, perturbation, severity, case) combination, so each case gets its
/// own noise and the result does not depend on the order cases are run in.
pub fn case_seed(seed: u64, p: Perturbation, severity: u8, case_id: &str) -> u64 {
    // FNV-1a over the case id, mixed with the rest by SplitMix64.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in case_id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    let mut mix = SplitMix64::new(seed ^ h ^ ((p as u64) << 8) ^ severity as u64);
    mix.next_u64()
}

/// A perturbation name that is not one of [`ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown perturbation {name:?} (known: {})", ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", "))]
pub struct UnknownPerturbation {
    /// The name given.
    pub name: String,
}

impl FromStr for Perturbation {
    type Err = UnknownPerturbation;
    fn from_str(s: &str) -> Result<Self, UnknownPerturbation> {
        if let Some(p) = ALL.iter().copied().find(|p| p.name() == s) {
            return Ok(p);
        }
        match ALIASES.iter().find(|(old, _)| *old == s) {
            Some(&(old, p)) => {
                log::warn!(
                    "perturbation {old:?} is now {:?}, ImageNet-C's name; the old name still loads",
                    p.name()
                );
                Ok(p)
            }
            None => Err(UnknownPerturbation { name: s.to_string() }),
        }
    }
}

impl<'de> Deserialize<'de> for Perturbation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A photo-like test card: gradients, a bright square and fine texture, 112x84 (half
    /// ImageNet-C's side, so the mildest blur is still half a pixel).
    fn card() -> RgbImage {
        RgbImage::from_fn(112, 84, |x, y| {
            let edge = if (36..76).contains(&x) && (24..60).contains(&y) { 200 } else { 40 };
            // Aperiodic fine texture: a periodic one can beat with a blur kernel.
            let texture = ((x.wrapping_mul(374_761_393) ^ y.wrapping_mul(668_265_263)) >> 7) % 17;
            let texture = texture as u8 * 3;
            Rgb([edge + texture, (x * 2) as u8, (y * 3) as u8])
        })
    }

    /// Mean absolute difference to the original, per channel value.
    fn distance(a: &RgbImage, b: &RgbImage) -> f64 {
        let d: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(&x, &y)| (x as i64 - y as i64).unsigned_abs())
            .sum();
        d as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn same_seed_same_image_for_every_perturbation() {
        let img = card();
        for &p in ALL {
            for s in 1..=5 {
                assert_eq!(p.apply(&img, s, 42), p.apply(&img, s, 42), "{p} at {s}");
            }
        }
    }

    #[test]
    fn seeded_perturbations_vary_with_the_seed() {
        let img = card();
        for p in [
            Perturbation::GaussianNoise,
            Perturbation::Occlude,
            Perturbation::Translate,
            Perturbation::MotionBlur,
            Perturbation::Fog,
            Perturbation::ShotNoise,
            Perturbation::ElasticTransform,
        ] {
            assert_ne!(p.apply(&img, 3, 1), p.apply(&img, 3, 2), "{p}");
        }
    }

    #[test]
    fn strength_grows_with_severity() {
        let img = card();
        // Two of ImageNet-C's scales are not monotonic in pixel change, by their parameters:
        // saturate takes colour away at 1-2 and adds it at 3-5; elastic_transform's affine
        // jitter is largest at 1-2 (24 and 49 px), its local warp grows over 3-5.
        let fixed = [
            Perturbation::Flip,
            Perturbation::UpsideDown,
            Perturbation::Saturate,
            Perturbation::ElasticTransform,
        ];
        for p in ALL.iter().copied().filter(|p| !fixed.contains(p)) {
            let d: Vec<f64> = (1..=5).map(|s| distance(&img, &p.apply(&img, s, 7))).collect();
            assert!(d[0] > 0.0, "{p} at severity 1 changes nothing");
            for pair in d.windows(2) {
                // Small tolerance: JPEG and pixelation are not strictly monotonic per pixel.
                assert!(pair[1] >= pair[0] * 0.97, "{p} not monotonic: {d:?}");
            }
            assert!(d[4] > d[0], "{p}: severity 5 no stronger than 1: {d:?}");
        }
    }

    #[test]
    fn flip_and_upside_down_are_involutions_and_keep_size() {
        let img = card();
        for p in [Perturbation::Flip, Perturbation::UpsideDown] {
            let f = p.apply(&img, 1, 0);
            assert_ne!(f, img, "{p}");
            assert_eq!(f.dimensions(), img.dimensions());
            assert_eq!(p.apply(&f, 1, 0), img, "{p}");
        }
        let turned = Perturbation::UpsideDown.apply(&img, 1, 0);
        let (w, h) = img.dimensions();
        assert_eq!(turned.get_pixel(0, 0), img.get_pixel(w - 1, h - 1));
    }

    #[test]
    fn names_round_trip() {
        for &p in ALL {
            assert_eq!(p.name().parse::<Perturbation>().unwrap(), p);
        }
        assert!("frost".parse::<Perturbation>().unwrap_err().to_string().contains("known"));
        assert_eq!("blur".parse::<Perturbation>().unwrap(), Perturbation::GaussianBlur);
        assert_eq!("jpeg".parse::<Perturbation>().unwrap(), Perturbation::JpegCompression);
    }

    #[test]
    fn case_seeds_differ_per_case_and_are_stable() {
        let a = case_seed(1, Perturbation::GaussianBlur, 1, "face_000");
        assert_eq!(a, case_seed(1, Perturbation::GaussianBlur, 1, "face_000"));
        assert_ne!(a, case_seed(1, Perturbation::GaussianBlur, 1, "face_001"));
        assert_ne!(a, case_seed(2, Perturbation::GaussianBlur, 1, "face_000"));
    }
}
