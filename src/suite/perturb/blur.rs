//! Blur: out of focus, moving, zooming; ImageNet-C's formulas with their sizes in pixels of
//! the caller's scale.

use super::planes::{decimated, filter2d, gaussian_kernel, nearest, reflect101, separable, Planes};

/// Past these sizes (pixels) a blur runs on a copy shrunk so they are back to about a quarter
/// of them: on a 2000-pixel photo, severity 5's σ is 54 px and the disk's radius 89.
const WIDE_SIGMA: f32 = 8.0;
const WIDE_RADIUS: f32 = 12.0;

/// Gaussian blur of `sigma` pixels (scikit-image's `gaussian`: truncated at 4 σ, edges
/// repeated).
pub(super) fn gaussian(p: &Planes, sigma: f32) -> Planes {
    let factor = if sigma > WIDE_SIGMA { (sigma / 4.0) as usize } else { 1 };
    let v = decimated(&p.v, p.w, p.h, 3, factor, |v, w, h| {
        let k = gaussian_kernel((sigma / factor as f32).max(0.05), 4.0);
        separable(v, w, h, 3, &k, nearest)
    });
    Planes { w: p.w, h: p.h, v }
}

/// A lens out of focus: the image convolved with a disk of `radius` pixels whose edge is
/// anti-aliased by a Gaussian of `alias` (ImageNet-C's `disk`, OpenCV's borders).
pub(super) fn defocus(p: &Planes, radius: f32, alias: f32) -> Planes {
    if radius > WIDE_RADIUS {
        let factor = (radius / 6.0) as usize;
        let v = decimated(&p.v, p.w, p.h, 3, factor, |v, w, h| {
            let small = Planes { w, h, v: v.to_vec() };
            defocus(&small, radius / factor as f32, alias / factor as f32).v
        });
        return Planes { w: p.w, h: p.h, v };
    }
    let half = radius.ceil() as i64 + 2;
    let side = (2 * half + 1) as usize;
    let mut disk: Vec<f32> = (0..side * side)
        .map(|i| {
            let (x, y) = ((i % side) as i64 - half, (i / side) as i64 - half);
            if ((x * x + y * y) as f32) <= radius * radius {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let sum: f32 = disk.iter().sum();
    disk.iter_mut().for_each(|v| *v /= sum);
    // OpenCV's GaussianBlur with a 3x3 kernel (5x5 past radius 8) on the kernel itself.
    let ksize = if radius <= 8.0 { 3 } else { 5 };
    let g: Vec<f32> = {
        let r = ksize as i64 / 2;
        let s = alias.max(1e-3);
        let mut g: Vec<f32> = (-r..=r).map(|i| (-((i * i) as f32) / (2.0 * s * s)).exp()).collect();
        let t: f32 = g.iter().sum();
        g.iter_mut().for_each(|v| *v /= t);
        g
    };
    let kernel = separable(&disk, side, side, 1, &g, reflect101);
    filter2d(p, &kernel, side, reflect101)
}

/// Motion blur along `angle` degrees (0: to the right): ImageMagick's `MotionBlurImage`, a
/// one-sided Gaussian of `sigma` over 2·⌈radius⌉+1 taps, edges repeated.
pub(super) fn motion(p: &Planes, radius: f32, sigma: f32, angle: f32) -> Planes {
    let width = 2 * radius.ceil().max(1.0) as usize + 1;
    let sigma = sigma.max(0.05);
    let mut k: Vec<f32> =
        (0..width).map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    let (s, c) = angle.to_radians().sin_cos();
    let offsets: Vec<(i64, i64)> = (0..width)
        .map(|i| ((i as f32 * c - 0.5).ceil() as i64, (i as f32 * s - 0.5).ceil() as i64))
        .collect();
    let mut out = vec![0.0; p.v.len()];
    for y in 0..p.h {
        for x in 0..p.w {
            let mut acc = [0.0f32; 3];
            for (kv, &(dx, dy)) in k.iter().zip(&offsets) {
                let xi = nearest(x as i64 + dx, p.w);
                let yi = nearest(y as i64 + dy, p.h);
                for (ch, a) in acc.iter_mut().enumerate() {
                    *a += kv * p.get(xi, yi, ch);
                }
            }
            out[(y * p.w + x) * 3..][..3].copy_from_slice(&acc);
        }
    }
    Planes { w: p.w, h: p.h, v: out }
}

/// Zoom blur (a camera moving towards the scene): the mean of the image and its centre
/// zoomed by each factor (ImageNet-C's `clipped_zoom`, SciPy's order-1 `zoom` grid).
pub(super) fn zoom(p: &Planes, factors: &[f32]) -> Planes {
    let mut acc = p.v.clone();
    for &z in factors {
        let axis = |n: usize| {
            let crop = (n as f32 / z).ceil() as usize;
            let top = (n - crop.min(n)) / 2;
            let zoomed = (crop as f32 * z).round() as usize;
            let trim = zoomed.saturating_sub(n) / 2;
            let step = if zoomed > 1 { (crop as f32 - 1.0) / (zoomed as f32 - 1.0) } else { 0.0 };
            // Output index o reads the crop at (o + trim) * step, offset by its top.
            (0..n).map(|o| top as f32 + (o + trim) as f32 * step).collect::<Vec<f32>>()
        };
        let (xs, ys) = (axis(p.w), axis(p.h));
        for (y, &sy) in ys.iter().enumerate() {
            for (x, &sx) in xs.iter().enumerate() {
                for c in 0..3 {
                    acc[(y * p.w + x) * 3 + c] += p.sample(sx, sy, c, nearest);
                }
            }
        }
    }
    let n = factors.len() as f32 + 1.0;
    Planes { w: p.w, h: p.h, v: acc.into_iter().map(|v| v / n).collect() }
}
