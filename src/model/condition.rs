//! Per-frame condition measures: how bright, how contrasted, how sharp and how noisy the image
//! the model sees is. Computed on the resized input (before normalisation), over the part the
//! original image covers (padding is not scene), in one pass and without allocating, so they
//! can run on every served frame.
//!
//! All four work on luma `Y = 0.2126 R + 0.7152 G + 0.0722 B` (Rec. 709), scaled to [0, 1]:
//!
//! - brightness: the mean of `Y`;
//! - contrast: the RMS contrast, the standard deviation of `Y`;
//! - sharpness: the variance of the 4-neighbour Laplacian `Y[x-1] + Y[x+1] + Y[y-1] + Y[y+1]
//!   - 4 Y` over interior pixels (Pech-Pacheco et al. 2000), high for crisp edges;
//! - noise: Immerkær's estimate of the standard deviation of additive noise (J. Immerkær,
//!   "Fast Noise Variance Estimation", CVIU 1996): `sqrt(pi/2) / (6 (W-2) (H-2)) * sum |Y * N|`
//!   with `N = [1 -2 1; -2 4 -2; 1 -2 1]`, a mask that cancels the image's local structure
//!   up to second order and keeps the noise.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// One frame's condition measures (each in [0, 1]-luma units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Mean luma.
    pub brightness: f32,
    /// Standard deviation of luma (RMS contrast).
    pub contrast: f32,
    /// Variance of the Laplacian of luma.
    pub sharpness: f32,
    /// Immerkær's noise standard deviation.
    pub noise: f32,
}

/// A condition measure, by name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Measure {
    /// Mean luma.
    Brightness,
    /// RMS contrast.
    Contrast,
    /// Variance of the Laplacian.
    Sharpness,
    /// Noise standard deviation.
    Noise,
}

impl Measure {
    /// Lower-case name, as in reports.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl Condition {
    /// The value of one measure.
    pub fn get(&self, m: Measure) -> f32 {
        match m {
            Measure::Brightness => self.brightness,
            Measure::Contrast => self.contrast,
            Measure::Sharpness => self.sharpness,
            Measure::Noise => self.noise,
        }
    }

    /// The measures of `img` within `[x0, y0, x1, y1]` (clamped to the image; the whole
    /// image when the region is empty).
    pub fn measure(img: &RgbImage, region: [u32; 4]) -> Condition {
        let (w, h) = img.dimensions();
        let [mut x0, mut y0, mut x1, mut y1] = region;
        (x1, y1) = (x1.min(w), y1.min(h));
        if x1 <= x0 || y1 <= y0 {
            (x0, y0, x1, y1) = (0, 0, w, h);
        }
        let raw = img.as_raw();
        let stride = w as usize * 3;
        // The region's pixels of row `y`, as RGB triples.
        let row = |y: u32| {
            let start = y as usize * stride + x0 as usize * 3;
            raw[start..start + (x1 - x0) as usize * 3].chunks_exact(3)
        };
        let luma = |p: &[u8]| -> f32 {
            (0.2126 / 255.0) * p[0] as f32
                + (0.7152 / 255.0) * p[1] as f32
                + (0.0722 / 255.0) * p[2] as f32
        };
        // Sums per row in f32, across rows in f64, of values shifted by the first pixel's:
        // without the shift, E[Y^2] - E[Y]^2 cancels to noise on flat images.
        let shift = row(y0).next().map_or(0.0, luma);
        let (mut sum, mut sum_sq) = (0f64, 0f64);
        for y in y0..y1 {
            let (mut s, mut sq) = (0f32, 0f32);
            for p in row(y) {
                let v = luma(p) - shift;
                s += v;
                sq += v * v;
            }
            sum += s as f64;
            sum_sq += sq as f64;
        }
        let n = ((x1 - x0) as f64) * ((y1 - y0) as f64);
        let mean_shifted = sum / n;
        let mean = shift as f64 + mean_shifted;
        let contrast = (sum_sq / n - mean_shifted * mean_shifted).max(0.0).sqrt();
        let (mut lap_sum, mut lap_sq, mut immerkaer, mut interior) = (0f64, 0f64, 0f64, 0f64);
        if x1 - x0 >= 3 && y1 - y0 >= 3 {
            // Tiles of TILE columns: three rows of luma in stack arrays, then the two masks as
            // plain array arithmetic over LANES independent sums, which the compiler turns into
            // vector code (one running sum would chain every addition to the previous one).
            const TILE: usize = 256;
            const LANES: usize = 8;
            let width = (x1 - x0) as usize;
            let mut rows = [[0f32; TILE + 2]; 3];
            for y in y0 + 1..y1 - 1 {
                let (mut sums, mut squares, mut masks) =
                    ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
                let mut start = 0;
                while start + 2 < width {
                    let end = (start + TILE + 2).min(width);
                    let n = end - start;
                    for (r, dy) in rows.iter_mut().zip([y - 1, y, y + 1]) {
                        for (v, p) in r.iter_mut().zip(row(dy).skip(start).take(n)) {
                            *v = luma(p);
                        }
                    }
                    let [up, mid, down] = &rows;
                    let m = n - 2;
                    let mut i = 0;
                    while i < m {
                        let lanes = LANES.min(m - i);
                        let accumulators = sums.iter_mut().zip(&mut squares).zip(&mut masks);
                        for (x, ((sum, square), masked)) in (i + 1..i + 1 + lanes).zip(accumulators)
                        {
                            let edges = mid[x - 1] + mid[x + 1] + up[x] + down[x];
                            let lap = edges - 4.0 * mid[x];
                            let corners = up[x - 1] + up[x + 1] + down[x - 1] + down[x + 1];
                            let mask = corners - 2.0 * edges + 4.0 * mid[x];
                            *sum += lap;
                            *square += lap * lap;
                            *masked += mask.abs();
                        }
                        i += lanes;
                    }
                    start += TILE;
                }
                let total = |v: &[f32; LANES]| v.iter().map(|&x| x as f64).sum::<f64>();
                lap_sum += total(&sums);
                lap_sq += total(&squares);
                immerkaer += total(&masks);
                interior += (width - 2) as f64;
            }
        }
        let (sharpness, noise) = if interior > 0.0 {
            let lap_mean = lap_sum / interior;
            let sharpness = (lap_sq / interior - lap_mean * lap_mean).max(0.0);
            let noise = (std::f64::consts::PI / 2.0).sqrt() * immerkaer / (6.0 * interior);
            (sharpness, noise)
        } else {
            (0.0, 0.0)
        };
        Condition {
            brightness: mean as f32,
            contrast: contrast as f32,
            sharpness: sharpness as f32,
            noise: noise as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gray(w: u32, h: u32, f: impl Fn(u32, u32) -> f64) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = f(x, y).round().clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        })
    }

    fn all(img: &RgbImage) -> Condition {
        Condition::measure(img, [0, 0, img.width(), img.height()])
    }

    #[test]
    fn flat_gray_is_mid_bright_with_nothing_else() {
        let c = all(&gray(64, 48, |_, _| 51.0));
        assert!((c.brightness - 0.2).abs() < 1e-3, "{c:?}");
        assert!(c.contrast < 1e-6 && c.sharpness < 1e-9 && c.noise < 1e-6, "{c:?}");
    }

    #[test]
    fn half_black_half_white_has_contrast_one_half() {
        let c = all(&gray(64, 64, |x, _| if x < 32 { 0.0 } else { 255.0 }));
        assert!((c.brightness - 0.5).abs() < 1e-3);
        assert!((c.contrast - 0.5).abs() < 1e-3, "{c:?}");
    }

    #[test]
    fn a_linear_ramp_has_no_laplacian_and_no_noise() {
        // Both masks cancel first-order structure: a smooth gradient is neither sharp nor noisy.
        let c = all(&gray(100, 100, |x, y| x as f64 * 1.2 + y as f64 * 0.8));
        assert!(c.sharpness < 1e-4, "rounding to 8 bits only: {c:?}");
        assert!(c.noise < 2e-3, "rounding only: {c:?}");
    }

    #[test]
    fn immerkaer_recovers_the_sigma_of_added_gaussian_noise() {
        let mut state = 0x2545_f491u64;
        let mut normal = move || {
            // Box-Muller from a xorshift stream.
            let mut uniform = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64
            };
            let (u1, u2) = (uniform().max(1e-12), uniform());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        let noise: Vec<f64> = (0..256 * 256).map(|_| normal() * 10.0).collect();
        let img = gray(256, 256, |x, y| 128.0 + noise[(y * 256 + x) as usize]);
        let c = all(&img);
        let expected = 10.0 / 255.0;
        assert!((c.noise - expected).abs() / expected < 0.08, "{} vs {expected}", c.noise);
        assert!(c.sharpness > 0.0);
    }

    #[test]
    fn blur_lowers_sharpness_and_noise_rises_with_sigma() {
        let edges = gray(96, 96, |x, y| if (x / 8 + y / 8) % 2 == 0 { 30.0 } else { 220.0 });
        let blurred = image::imageops::blur(&edges, 2.0);
        assert!(all(&blurred).sharpness < all(&edges).sharpness / 4.0);
    }

    /// The formulas as written in the module doc, pixel by pixel.
    fn reference(img: &RgbImage) -> (f64, f64) {
        let y = |x: u32, yy: u32| {
            let p = img.get_pixel(x, yy).0;
            (0.2126 * p[0] as f64 + 0.7152 * p[1] as f64 + 0.0722 * p[2] as f64) / 255.0
        };
        let (w, h) = img.dimensions();
        let (mut laps, mut abs_mask) = (Vec::new(), 0.0);
        for yy in 1..h - 1 {
            for x in 1..w - 1 {
                let edges = y(x - 1, yy) + y(x + 1, yy) + y(x, yy - 1) + y(x, yy + 1);
                let corners =
                    y(x - 1, yy - 1) + y(x + 1, yy - 1) + y(x - 1, yy + 1) + y(x + 1, yy + 1);
                laps.push(edges - 4.0 * y(x, yy));
                abs_mask += (corners - 2.0 * edges + 4.0 * y(x, yy)).abs();
            }
        }
        let n = laps.len() as f64;
        let mean = laps.iter().sum::<f64>() / n;
        let var = laps.iter().map(|l| (l - mean) * (l - mean)).sum::<f64>() / n;
        (var, (std::f64::consts::PI / 2.0).sqrt() * abs_mask / (6.0 * n))
    }

    #[test]
    fn tiled_pass_matches_the_formulas_at_any_width() {
        for (w, h) in [(3, 3), (257, 4), (258, 5), (259, 3), (600, 7), (1030, 4)] {
            let img = RgbImage::from_fn(w, h, |x, y| {
                let v = (x * 7919 + y * 104729) % 251;
                image::Rgb([v as u8, (v * 3 % 256) as u8, (255 - v) as u8])
            });
            let c = all(&img);
            let (sharpness, noise) = reference(&img);
            assert!(
                (c.sharpness as f64 - sharpness).abs() <= 1e-8 + 1e-4 * sharpness,
                "{w}x{h}: {} vs {sharpness}",
                c.sharpness
            );
            assert!(
                (c.noise as f64 - noise).abs() <= 1e-8 + 1e-4 * noise,
                "{w}x{h}: {} vs {noise}",
                c.noise
            );
        }
    }

    #[test]
    fn padding_outside_the_region_is_not_measured() {
        let mut img = gray(80, 40, |_, _| 100.0);
        for y in 0..40 {
            for x in 60..80 {
                img.put_pixel(x, y, image::Rgb([255, 0, 255]));
            }
        }
        let c = Condition::measure(&img, [0, 0, 60, 40]);
        assert!((c.brightness - 100.0 / 255.0).abs() < 1e-3 && c.contrast < 1e-6, "{c:?}");
        // An empty or out-of-range region falls back to the whole image.
        assert_eq!(Condition::measure(&img, [5, 5, 5, 5]), all(&img));
        assert_eq!(Condition::measure(&gray(2, 2, |_, _| 9.0), [0, 0, 2, 2]).sharpness, 0.0);
    }
}
