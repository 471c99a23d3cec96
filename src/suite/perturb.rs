//! Image perturbations for behaviour checks, ImageNet-C style: each has severities 1 (mild)
//! to 5 (harsh) and is deterministic for a given seed. Pure Rust, on `RgbImage`.
//!
//! Sizes are relative to the image's shorter side, so a severity means the same on a 25-pixel
//! crop and a 512-pixel photo. Parameters per severity 1..5:
//!
//! | name | parameter | 1 | 2 | 3 | 4 | 5 |
//! |---|---|---|---|---|---|---|
//! | `brightness` | added to every channel, fraction of 255 | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 |
//! | `contrast` | factor towards the mean gray | 0.4 | 0.3 | 0.2 | 0.1 | 0.05 |
//! | `gamma` | exponent on [0, 1] values (darkens) | 1.5 | 2.0 | 2.5 | 3.0 | 3.5 |
//! | `gaussian_noise` | σ, fraction of 255 | 0.08 | 0.12 | 0.18 | 0.26 | 0.38 |
//! | `blur` | Gaussian σ, fraction of the shorter side | 0.01 | 0.02 | 0.03 | 0.045 | 0.06 |
//! | `jpeg` | JPEG quality | 25 | 18 | 15 | 10 | 7 |
//! | `pixelate` | block size, fraction of the shorter side | 0.04 | 0.06 | 0.08 | 0.11 | 0.15 |
//! | `rotate` | degrees, sign from the seed | 5 | 10 | 15 | 20 | 30 |
//! | `translate` | shift, fraction of each side, direction from the seed | 0.05 | 0.1 | 0.15 | 0.2 | 0.3 |
//! | `occlude` | gray square, side as fraction of the shorter side, centred near the middle | 0.1 | 0.2 | 0.3 | 0.4 | 0.5 |
//! | `flip` | horizontal mirror (severity has no effect) | – | – | – | – | – |
//! | `upside_down` | 180° turn (severity has no effect) | – | – | – | – | – |
//!
//! Uncovered pixels (rotate, translate) are black.

use std::fmt;
use std::str::FromStr;

use image::codecs::jpeg::JpegEncoder;
use image::{imageops, Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// A named perturbation kind.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Perturbation {
    /// Brighter image.
    Brightness,
    /// Lower contrast.
    Contrast,
    /// Darker mid-tones.
    Gamma,
    /// Additive Gaussian noise.
    GaussianNoise,
    /// Gaussian blur (defocus).
    Blur,
    /// JPEG compression artefacts.
    Jpeg,
    /// Mosaic blocks (low resolution).
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
}

/// Every perturbation, in documentation order.
pub const ALL: &[Perturbation] = <Perturbation as strum::VariantArray>::VARIANTS;

impl Perturbation {
    /// The name used in suites, reports and docs.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The parameter of the table above at `severity` (1..=5, clamped).
    pub fn parameter(self, severity: u8) -> f32 {
        let table: [f32; 5] = match self {
            Perturbation::Brightness => [0.1, 0.2, 0.3, 0.4, 0.5],
            Perturbation::Contrast => [0.4, 0.3, 0.2, 0.1, 0.05],
            Perturbation::Gamma => [1.5, 2.0, 2.5, 3.0, 3.5],
            Perturbation::GaussianNoise => [0.08, 0.12, 0.18, 0.26, 0.38],
            Perturbation::Blur => [0.01, 0.02, 0.03, 0.045, 0.06],
            Perturbation::Jpeg => [25.0, 18.0, 15.0, 10.0, 7.0],
            Perturbation::Pixelate => [0.04, 0.06, 0.08, 0.11, 0.15],
            Perturbation::Rotate => [5.0, 10.0, 15.0, 20.0, 30.0],
            Perturbation::Translate => [0.05, 0.1, 0.15, 0.2, 0.3],
            Perturbation::Occlude => [0.1, 0.2, 0.3, 0.4, 0.5],
            Perturbation::Flip | Perturbation::UpsideDown => [1.0; 5],
        };
        table[(severity.clamp(1, 5) - 1) as usize]
    }

    /// Applies the perturbation at `severity` (1..=5, clamped); same inputs, same output.
    pub fn apply(self, img: &RgbImage, severity: u8, seed: u64) -> RgbImage {
        let p = self.parameter(severity);
        let mut rng = SplitMix64::new(seed ^ (self as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let short = img.width().min(img.height()) as f32;
        match self {
            Perturbation::Brightness => map_values(img, |v| v + p),
            Perturbation::Contrast => {
                let mean = mean_value(img);
                map_values(img, |v| (v - mean) * p + mean)
            }
            Perturbation::Gamma => map_values(img, |v| v.powf(p)),
            Perturbation::GaussianNoise => {
                let mut out = img.clone();
                for px in out.pixels_mut() {
                    for c in &mut px.0 {
                        *c = to_u8(*c as f32 / 255.0 + p * rng.normal());
                    }
                }
                out
            }
            Perturbation::Blur => imageops::blur(img, (p * short).max(0.3)),
            Perturbation::Jpeg => jpeg_roundtrip(img, p as u8),
            Perturbation::Pixelate => {
                let block = (p * short).round().max(2.0);
                let (w, h) = img.dimensions();
                let sw = ((w as f32 / block).round() as u32).max(1);
                let sh = ((h as f32 / block).round() as u32).max(1);
                let small = imageops::resize(img, sw, sh, imageops::FilterType::Triangle);
                imageops::resize(&small, w, h, imageops::FilterType::Nearest)
            }
            Perturbation::Rotate => {
                let sign = if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 };
                rotate(img, sign * p.to_radians())
            }
            Perturbation::Translate => {
                let angle = rng.unit() * std::f32::consts::TAU;
                let dx = (angle.cos() * p * img.width() as f32).round() as i64;
                let dy = (angle.sin() * p * img.height() as f32).round() as i64;
                let mut out = RgbImage::new(img.width(), img.height());
                imageops::replace(&mut out, img, dx, dy);
                out
            }
            Perturbation::Occlude => {
                let side = (p * short).round().max(1.0) as i64;
                // Centre within the middle half: where the subject usually is.
                let cx = (img.width() as f32 * (0.375 + 0.25 * rng.unit())) as i64;
                let cy = (img.height() as f32 * (0.375 + 0.25 * rng.unit())) as i64;
                let square = RgbImage::from_pixel(side as u32, side as u32, Rgb([128, 128, 128]));
                let mut out = img.clone();
                imageops::replace(&mut out, &square, cx - side / 2, cy - side / 2);
                out
            }
            Perturbation::Flip => imageops::flip_horizontal(img),
            Perturbation::UpsideDown => imageops::rotate180(img),
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

/// SplitMix64: tiny, fast and, unlike a library RNG, guaranteed to produce the same stream in
/// every future build, which reproducible reports depend on.
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f32 {
        let u1 = self.unit().max(1e-7);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

fn to_u8(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

fn map_values(img: &RgbImage, f: impl Fn(f32) -> f32) -> RgbImage {
    let lut: Vec<u8> = (0..=255).map(|v| to_u8(f(v as f32 / 255.0))).collect();
    let mut out = img.clone();
    for px in out.pixels_mut() {
        for c in &mut px.0 {
            *c = lut[*c as usize];
        }
    }
    out
}

fn mean_value(img: &RgbImage) -> f32 {
    let sum: u64 = img.as_raw().iter().map(|&v| v as u64).sum();
    sum as f32 / img.as_raw().len().max(1) as f32 / 255.0
}

fn jpeg_roundtrip(img: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoded = JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(img);
    match encoded.ok().and_then(|_| image::load_from_memory(&bytes).ok()) {
        Some(decoded) => decoded.to_rgb8(),
        // Encoding an in-memory RGB image cannot fail short of allocation failure; keep the
        // input rather than invent pixels.
        None => img.clone(),
    }
}

fn rotate(img: &RgbImage, radians: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (s, c) = radians.sin_cos();
    RgbImage::from_fn(w, h, |x, y| {
        // Inverse mapping with bilinear sampling.
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let sx = c * dx + s * dy + cx - 0.5;
        let sy = -s * dx + c * dy + cy - 0.5;
        bilinear(img, sx, sy)
    })
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let get = |xi: i64, yi: i64| -> [f32; 3] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            [0.0; 3]
        } else {
            let p = img.get_pixel(xi as u32, yi as u32).0;
            [p[0] as f32, p[1] as f32, p[2] as f32]
        }
    };
    let (a, b, c, d) = (get(x0, y0), get(x0 + 1, y0), get(x0, y0 + 1), get(x0 + 1, y0 + 1));
    let mut out = [0u8; 3];
    for i in 0..3 {
        let top = a[i] * (1.0 - fx) + b[i] * fx;
        let bottom = c[i] * (1.0 - fx) + d[i] * fx;
        out[i] = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(out)
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
        ALL.iter()
            .copied()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPerturbation { name: s.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A photo-like test card: gradients, a bright square and fine texture.
    fn card() -> RgbImage {
        RgbImage::from_fn(64, 48, |x, y| {
            let edge = if (20..40).contains(&x) && (12..36).contains(&y) { 200 } else { 40 };
            let texture = ((x * 7 + y * 13) % 17) as u8 * 3;
            Rgb([edge + texture, (x * 4) as u8, (y * 5) as u8])
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
        for p in [Perturbation::GaussianNoise, Perturbation::Occlude, Perturbation::Translate] {
            assert_ne!(p.apply(&img, 3, 1), p.apply(&img, 3, 2), "{p}");
        }
    }

    #[test]
    fn strength_grows_with_severity() {
        let img = card();
        let fixed = [Perturbation::Flip, Perturbation::UpsideDown];
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
        assert!("fog".parse::<Perturbation>().unwrap_err().to_string().contains("known"));
    }

    #[test]
    fn case_seeds_differ_per_case_and_are_stable() {
        let a = case_seed(1, Perturbation::Blur, 1, "face_000");
        assert_eq!(a, case_seed(1, Perturbation::Blur, 1, "face_000"));
        assert_ne!(a, case_seed(1, Perturbation::Blur, 1, "face_001"));
        assert_ne!(a, case_seed(2, Perturbation::Blur, 1, "face_000"));
    }
}
