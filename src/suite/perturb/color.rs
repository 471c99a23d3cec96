//! Light and colour: ImageNet-C's brightness, contrast, saturate and fog, and gamma.

use super::planes::{hsv_to_rgb, rgb_to_hsv, Planes};
use super::rng::SplitMix64;

/// Applies `f` to every pixel's HSV values.
fn in_hsv(p: &mut Planes, f: impl Fn(&mut [f32; 3])) {
    for px in p.v.chunks_exact_mut(3) {
        let mut hsv = rgb_to_hsv([px[0], px[1], px[2]]);
        f(&mut hsv);
        px.copy_from_slice(&hsv_to_rgb(hsv));
    }
}

/// Brighter: `c` added to the HSV value (over-exposure; colours keep their hue).
pub(super) fn brightness(p: &mut Planes, c: f32) {
    in_hsv(p, |hsv| hsv[2] = (hsv[2] + c).clamp(0.0, 1.0));
}

/// Flatter: each channel pulled towards its own mean by the factor `c` (haze, a washed-out
/// sensor).
pub(super) fn contrast(p: &mut Planes, c: f32) {
    let n = (p.w * p.h).max(1) as f32;
    let mut mean = [0.0f32; 3];
    for px in p.v.chunks_exact(3) {
        for ch in 0..3 {
            mean[ch] += px[ch] / n;
        }
    }
    for px in p.v.chunks_exact_mut(3) {
        for ch in 0..3 {
            px[ch] = (px[ch] - mean[ch]) * c + mean[ch];
        }
    }
}

/// HSV saturation scaled by `scale` and raised by `add` (a mis-tuned ISP, vivid mode).
pub(super) fn saturate(p: &mut Planes, scale: f32, add: f32) {
    in_hsv(p, |hsv| hsv[1] = (hsv[1] * scale + add).clamp(0.0, 1.0));
}

/// Values raised to `exponent` (a wrong tone curve). Not an ImageNet-C corruption.
pub(super) fn gamma(p: &mut Planes, exponent: f32) {
    p.v.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0).powf(exponent));
}

/// Fog: a plasma fractal of strength `c` added, then the range compressed so the brightest
/// value stays where it was (ImageNet-C: a 256-pixel map over a 224-pixel image, here
/// resampled to the image's size).
pub(super) fn fog(p: &mut Planes, c: f32, decay: f32, rng: &mut SplitMix64) {
    let map = plasma(256, decay, rng);
    let max = p.v.iter().copied().fold(0.0f32, f32::max);
    for y in 0..p.h {
        for x in 0..p.w {
            // The reference's map covers [0, 224) of 256: pixel centres scaled into it.
            let mx = ((x as f32 + 0.5) * 224.0 / p.w as f32 - 0.5).clamp(0.0, 223.0);
            let my = ((y as f32 + 0.5) * 224.0 / p.h as f32 - 0.5).clamp(0.0, 223.0);
            let (x0, y0) = (mx.floor() as usize, my.floor() as usize);
            let (fx, fy) = (mx - x0 as f32, my - y0 as f32);
            let at = |xx: usize, yy: usize| map[yy.min(255) * 256 + xx.min(255)];
            let f = (at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx) * (1.0 - fy)
                + (at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
            for ch in 0..3 {
                let v = &mut p.v[(y * p.w + x) * 3 + ch];
                *v = (*v + c * f) * max / (max + c);
            }
        }
    }
}

/// The diamond-square height map ImageNet-C's fog uses: `size` a power of two, values in
/// [0, 1], roughness falling by `decay` per octave.
fn plasma(size: usize, decay: f32, rng: &mut SplitMix64) -> Vec<f32> {
    let mut m = vec![0.0f32; size * size];
    let idx = |y: usize, x: usize| (y % size) * size + (x % size);
    let mut step = size;
    let mut wibble = 100.0f32;
    while step >= 2 {
        let half = step / 2;
        // Squares: the centre of each square is the mean of its corners plus noise.
        for y in (0..size).step_by(step) {
            for x in (0..size).step_by(step) {
                let sum = m[idx(y, x)]
                    + m[idx(y + step, x)]
                    + m[idx(y, x + step)]
                    + m[idx(y + step, x + step)];
                m[idx(y + half, x + half)] = sum / 4.0 + wibble * rng.uniform(-wibble, wibble);
            }
        }
        // Diamonds: edge midpoints from the two corners and the two centres beside them.
        for y in (0..size).step_by(step) {
            for x in (0..size).step_by(step) {
                let top = m[idx(y, x)]
                    + m[idx(y, x + step)]
                    + m[idx(y + half, x + half)]
                    + m[idx(y + size - half, x + half)];
                m[idx(y, x + half)] = top / 4.0 + wibble * rng.uniform(-wibble, wibble);
                let left = m[idx(y, x)]
                    + m[idx(y + step, x)]
                    + m[idx(y + half, x + half)]
                    + m[idx(y + half, x + size - half)];
                m[idx(y + half, x)] = left / 4.0 + wibble * rng.uniform(-wibble, wibble);
            }
        }
        step = half;
        wibble /= decay;
    }
    let (lo, hi) = m.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = (hi - lo).max(f32::MIN_POSITIVE);
    m.iter().map(|v| (v - lo) / span).collect()
}
