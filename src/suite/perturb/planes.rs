//! An RGB image as floats in [0, 1], the form ImageNet-C's formulas work in, and the filters
//! several corruptions share.

use image::RgbImage;

/// Interleaved RGB values in [0, 1] (unclipped while a corruption works on them).
#[derive(Clone)]
pub(super) struct Planes {
    pub w: usize,
    pub h: usize,
    pub v: Vec<f32>,
}

impl Planes {
    pub fn from_rgb(img: &RgbImage) -> Planes {
        let v = img.as_raw().iter().map(|&x| x as f32 / 255.0).collect();
        Planes { w: img.width() as usize, h: img.height() as usize, v }
    }

    /// Back to 8 bits: clipped to [0, 1], rounded half away from zero (`f32::round`).
    pub fn to_rgb(&self) -> RgbImage {
        let raw = self.v.iter().map(|&x| round_to_u8(x.clamp(0.0, 1.0) * 255.0)).collect();
        RgbImage::from_raw(self.w as u32, self.h as u32, raw).expect("w * h * 3 values")
    }

    pub fn get(&self, x: usize, y: usize, c: usize) -> f32 {
        self.v[(y * self.w + x) * 3 + c]
    }

    /// Bilinear sample at (x, y) in pixel coordinates; `edge` maps an out-of-range index back in.
    pub fn sample(&self, x: f32, y: f32, c: usize, edge: fn(i64, usize) -> usize) -> f32 {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let at = |xi: i64, yi: i64| self.get(edge(xi, self.w), edge(yi, self.h), c);
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

/// `y.round() as u8` for `y` in [0, 255] (NaN gives 0, as the cast does), without the libm call
/// `round` is on x86-64 without SSE4.1: the fraction `y − ⌊y⌋` is exact below 2²³, so adding
/// one when it is at least a half is `round`'s half-away-from-zero rule; the loop vectorises.
fn round_to_u8(y: f32) -> u8 {
    let whole = y as u8;
    whole + u8::from(y - f32::from(whole) >= 0.5)
}

/// Index clamped to the edge (scikit-image's `nearest`).
pub(super) fn nearest(i: i64, n: usize) -> usize {
    i.clamp(0, n as i64 - 1) as usize
}

/// Mirrored without repeating the edge (OpenCV's `BORDER_REFLECT_101`, SciPy's `mirror`).
pub(super) fn reflect101(i: i64, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as i64 - 1);
    let m = i.rem_euclid(period);
    (if m < n as i64 { m } else { period - m }) as usize
}

/// Mirrored repeating the edge (SciPy's and scikit-image's `reflect`).
pub(super) fn reflect(i: i64, n: usize) -> usize {
    let period = 2 * n as i64;
    let m = i.rem_euclid(period);
    (if m < n as i64 { m } else { period - 1 - m }) as usize
}

/// A normalised 1-D Gaussian of `sigma`, `truncate` sigmas each side (SciPy's kernel).
pub(super) fn gaussian_kernel(sigma: f32, truncate: f32) -> Vec<f32> {
    let radius = (truncate * sigma + 0.5).floor().max(0.0) as i64;
    let mut k: Vec<f32> =
        (-radius..=radius).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// `v` (`channels` per pixel, `w`×`h`) padded by `r` pixels on every side through `edge`, so
/// the filters below read without bounds checks.
fn padded(
    v: &[f32],
    w: usize,
    h: usize,
    channels: usize,
    r: usize,
    edge: fn(i64, usize) -> usize,
) -> Vec<f32> {
    let pw = w + 2 * r;
    let mut out = Vec::with_capacity(pw * (h + 2 * r) * channels);
    for y in 0..h + 2 * r {
        let sy = edge(y as i64 - r as i64, h);
        for x in 0..pw {
            let sx = edge(x as i64 - r as i64, w);
            out.extend_from_slice(&v[(sy * w + sx) * channels..][..channels]);
        }
    }
    out
}

/// Separable convolution of one channel-interleaved float image (`channels` per pixel) with
/// `k` along x then y.
pub(super) fn separable(
    v: &[f32],
    w: usize,
    h: usize,
    channels: usize,
    k: &[f32],
    edge: fn(i64, usize) -> usize,
) -> Vec<f32> {
    let r = k.len() / 2;
    let row = w * channels;
    // Along x: each row padded by r pixels, the kernel run over it.
    let mut tmp = vec![0.0; v.len()];
    let mut line = vec![0.0; (w + 2 * r) * channels];
    for y in 0..h {
        for (x, px) in line.chunks_exact_mut(channels).enumerate() {
            let sx = edge(x as i64 - r as i64, w);
            px.copy_from_slice(&v[y * row + sx * channels..][..channels]);
        }
        let out = &mut tmp[y * row..][..row];
        for (j, kv) in k.iter().enumerate() {
            for (o, s) in out.iter_mut().zip(&line[j * channels..]) {
                *o += kv * s;
            }
        }
    }
    // Along y: whole rows weighted and added.
    let mut out = vec![0.0; v.len()];
    for y in 0..h {
        let dst = &mut out[y * row..][..row];
        for (j, kv) in k.iter().enumerate() {
            let sy = edge(y as i64 + j as i64 - r as i64, h);
            for (o, s) in dst.iter_mut().zip(&tmp[sy * row..][..row]) {
                *o += kv * s;
            }
        }
    }
    out
}

/// 2-D convolution (correlation, as OpenCV's filter2D) with a square kernel of odd side.
pub(super) fn filter2d(
    p: &Planes,
    k: &[f32],
    side: usize,
    edge: fn(i64, usize) -> usize,
) -> Planes {
    let r = side / 2;
    let src = padded(&p.v, p.w, p.h, 3, r, edge);
    let prow = (p.w + 2 * r) * 3;
    let row = p.w * 3;
    let mut out = vec![0.0; p.v.len()];
    for y in 0..p.h {
        let dst = &mut out[y * row..][..row];
        for (i, &kv) in k.iter().enumerate() {
            if kv == 0.0 {
                continue;
            }
            let (dx, dy) = (i % side, i / side);
            let from = &src[(y + dy) * prow + dx * 3..][..row];
            for (o, s) in dst.iter_mut().zip(from) {
                *o += kv * s;
            }
        }
    }
    Planes { w: p.w, h: p.h, v: out }
}

/// Runs `f` on a copy shrunk by the integer `factor` (box mean of factor×factor blocks) and
/// scales its result back up (bilinear, pixel centres aligned): what a wide blur computes on a
/// large image at a small fraction of the cost, since it keeps nothing finer than a block.
pub(super) fn decimated(
    v: &[f32],
    w: usize,
    h: usize,
    channels: usize,
    factor: usize,
    f: impl FnOnce(&[f32], usize, usize) -> Vec<f32>,
) -> Vec<f32> {
    if factor <= 1 {
        return f(v, w, h);
    }
    let (sw, sh) = (w.div_ceil(factor), h.div_ceil(factor));
    let mut small = vec![0.0; sw * sh * channels];
    let mut count = vec![0.0f32; sw * sh];
    for y in 0..h {
        for x in 0..w {
            let i = (y / factor) * sw + x / factor;
            count[i] += 1.0;
            for c in 0..channels {
                small[i * channels + c] += v[(y * w + x) * channels + c];
            }
        }
    }
    for (i, n) in count.iter().enumerate() {
        for c in 0..channels {
            small[i * channels + c] /= n;
        }
    }
    let done = f(&small, sw, sh);
    let mut out = vec![0.0; v.len()];
    let at =
        |xi: i64, yi: i64, c: usize| done[(nearest(yi, sh) * sw + nearest(xi, sw)) * channels + c];
    for y in 0..h {
        // Centre of pixel y in block coordinates (blocks are `factor` wide, centred).
        let sy = (y as f32 + 0.5) / factor as f32 - 0.5;
        let (y0, fy) = (sy.floor() as i64, sy - sy.floor());
        for x in 0..w {
            let sx = (x as f32 + 0.5) / factor as f32 - 0.5;
            let (x0, fx) = (sx.floor() as i64, sx - sx.floor());
            for c in 0..channels {
                let top = at(x0, y0, c) * (1.0 - fx) + at(x0 + 1, y0, c) * fx;
                let bottom = at(x0, y0 + 1, c) * (1.0 - fx) + at(x0 + 1, y0 + 1, c) * fx;
                out[(y * w + x) * channels + c] = top * (1.0 - fy) + bottom * fy;
            }
        }
    }
    out
}

/// RGB in [0, 1] to HSV in [0, 1] (scikit-image's `rgb2hsv`).
pub(super) fn rgb_to_hsv([r, g, b]: [f32; 3]) -> [f32; 3] {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    let s = if max > 0.0 { delta / max } else { 0.0 };
    let h = if delta <= 0.0 {
        0.0
    } else if max == r {
        ((g - b) / delta).rem_euclid(6.0) / 6.0
    } else if max == g {
        ((b - r) / delta + 2.0) / 6.0
    } else {
        ((r - g) / delta + 4.0) / 6.0
    };
    [h, s, max]
}

/// HSV in [0, 1] back to RGB (scikit-image's `hsv2rgb`).
pub(super) fn hsv_to_rgb([h, s, v]: [f32; 3]) -> [f32; 3] {
    let h6 = (h * 6.0).rem_euclid(6.0);
    let i = h6.floor();
    let f = h6 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - f * s), v * (1.0 - (1.0 - f) * s));
    match i as u8 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borders_match_their_libraries() {
        // n = 4: ... 2 1 | 0 1 2 3 | 2 1 ... (reflect101), 1 0 | 0 1 2 3 | 3 2 (reflect)
        let r101: Vec<usize> = (-2..6).map(|i| reflect101(i, 4)).collect();
        assert_eq!(r101, [2, 1, 0, 1, 2, 3, 2, 1]);
        let r: Vec<usize> = (-2..6).map(|i| reflect(i, 4)).collect();
        assert_eq!(r, [1, 0, 0, 1, 2, 3, 3, 2]);
        assert_eq!(nearest(-3, 4), 0);
    }

    #[test]
    fn rounding_to_8_bits_is_f32_round() {
        // Every 37th float of [0, 255], and every half-way point and its neighbours.
        let top = 255f32.to_bits();
        let sampled = (0..=top).step_by(37).map(f32::from_bits);
        let halves = (0..255).flat_map(|i| {
            let h = i as f32 + 0.5;
            [h, f32::from_bits(h.to_bits() - 1), f32::from_bits(h.to_bits() + 1)]
        });
        for y in sampled.chain(halves).chain([0.0, 255.0, f32::NAN]) {
            assert_eq!(round_to_u8(y), y.round() as u8, "{y}");
        }
    }

    #[test]
    fn hsv_round_trips() {
        for rgb in
            [[0.2, 0.5, 0.9], [0.9, 0.1, 0.1], [0.3, 0.3, 0.3], [0.0, 0.0, 0.0], [1.0, 0.8, 0.0]]
        {
            let back = hsv_to_rgb(rgb_to_hsv(rgb));
            for c in 0..3 {
                assert!((back[c] - rgb[c]).abs() < 1e-5, "{rgb:?} -> {back:?}");
            }
        }
    }

    #[test]
    fn gaussian_kernel_is_normalised_and_truncated_like_scipy() {
        let k = gaussian_kernel(1.0, 4.0);
        assert_eq!(k.len(), 9);
        assert!((k.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }
}
