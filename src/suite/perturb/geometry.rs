//! Resampling, compression and geometry: ImageNet-C's pixelate, JPEG and elastic transform,
//! and preflight's own rotate, translate and occlude.

use image::codecs::jpeg::JpegEncoder;
use image::{imageops, Rgb, RgbImage};

use super::planes::{decimated, gaussian_kernel, reflect, reflect101, separable, Planes};
use super::rng::SplitMix64;

/// Down to `fraction` of each side with a box filter and back up with a box filter (Pillow's
/// `BOX` both ways, as ImageNet-C): a low-resolution sensor or a digital zoom.
pub(super) fn pixelate(img: &RgbImage, fraction: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let sw = ((w as f32 * fraction) as u32).max(1);
    let sh = ((h as f32 * fraction) as u32).max(1);
    let small = box_resize(img, sw, sh);
    box_resize(&small, w, h)
}

/// Pillow's BOX resampling: each output pixel the mean of the input pixels whose centres its
/// footprint covers (one pixel when enlarging).
fn box_resize(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    let weights = |from: u32, to: u32| -> Vec<Vec<(usize, f32)>> {
        let scale = from as f32 / to as f32;
        let filter_scale = scale.max(1.0);
        let support = 0.5 * filter_scale;
        (0..to)
            .map(|o| {
                let centre = (o as f32 + 0.5) * scale;
                let lo = (centre - support + 0.5).floor().max(0.0) as i64;
                let hi = ((centre + support + 0.5).floor() as i64).min(from as i64);
                let mut taps: Vec<(usize, f32)> = (lo..hi)
                    .filter(|&i| {
                        let t = (i as f32 - centre + 0.5) / filter_scale;
                        (-0.5..0.5).contains(&t)
                    })
                    .map(|i| (i as usize, 1.0))
                    .collect();
                if taps.is_empty() {
                    taps.push(((centre.floor() as usize).min(from as usize - 1), 1.0));
                }
                let n = taps.len() as f32;
                taps.iter_mut().for_each(|t| t.1 /= n);
                taps
            })
            .collect()
    };
    let (wx, wy) = (weights(img.width(), w), weights(img.height(), h));
    RgbImage::from_fn(w, h, |x, y| {
        let mut acc = [0.0f32; 3];
        for &(yi, wy) in &wy[y as usize] {
            for &(xi, wx) in &wx[x as usize] {
                let p = img.get_pixel(xi as u32, yi as u32).0;
                for c in 0..3 {
                    acc[c] += p[c] as f32 * wx * wy;
                }
            }
        }
        Rgb(acc.map(|v| v.round().clamp(0.0, 255.0) as u8))
    })
}

/// Encoded at JPEG `quality` and decoded (a camera's or a network's compression).
pub(super) fn jpeg(img: &RgbImage, quality: u8) -> RgbImage {
    let mut bytes = Vec::new();
    let encoded = JpegEncoder::new_with_quality(&mut bytes, quality).encode_image(img);
    match encoded.ok().and_then(|_| image::load_from_memory(&bytes).ok()) {
        Some(decoded) => decoded.to_rgb8(),
        // Encoding an in-memory RGB image cannot fail short of allocation failure; keep the
        // input rather than invent pixels.
        None => img.clone(),
    }
}

/// ImageNet-C's elastic transform, its sizes scaled by `scale` (the image's side / 224): a
/// random affine warp moving three points by up to `jitter` pixels, then every pixel displaced
/// by a field of uniform noise smoothed by a Gaussian of `sigma`, times `alpha` (a lens
/// wobbling, a rolling shutter, a warped protective window).
pub(super) fn elastic(
    p: &Planes,
    alpha: f32,
    sigma: f32,
    jitter: f32,
    rng: &mut SplitMix64,
) -> Planes {
    let (w, h) = (p.w as f32, p.h as f32);
    let centre = [(p.w / 2) as f32, (p.h / 2) as f32];
    let sq = (p.w.min(p.h) / 3) as f32;
    let from = [
        [centre[0] + sq, centre[1] + sq],
        [centre[0] + sq, centre[1] - sq],
        [centre[0] - sq, centre[1] - sq],
    ];
    let to =
        from.map(|[x, y]| [x + rng.uniform(-jitter, jitter), y + rng.uniform(-jitter, jitter)]);
    // The affine map to -> from, so each output pixel reads where it came from.
    let inverse = affine(&to, &from);
    let mut warped = vec![0.0; p.v.len()];
    for y in 0..p.h {
        for x in 0..p.w {
            let (fx, fy) = (x as f32, y as f32);
            let sx = inverse[0] * fx + inverse[1] * fy + inverse[2];
            let sy = inverse[3] * fx + inverse[4] * fy + inverse[5];
            for c in 0..3 {
                warped[(y * p.w + x) * 3 + c] = p.sample(sx, sy, c, reflect101);
            }
        }
    }
    let warped = Planes { w: p.w, h: p.h, v: warped };
    // A wide smoothing runs on block means of the noise: the field keeps nothing finer.
    let factor = if sigma > 8.0 { (sigma / 4.0) as usize } else { 1 };
    let k = gaussian_kernel((sigma / factor as f32).max(0.05), 3.0);
    let mut field = || {
        let noise: Vec<f32> = (0..p.w * p.h).map(|_| rng.uniform(-1.0, 1.0)).collect();
        decimated(&noise, p.w, p.h, 1, factor, |v, w, h| separable(v, w, h, 1, &k, reflect))
    };
    let (dx, dy) = (field(), field());
    let mut out = vec![0.0; p.v.len()];
    for y in 0..p.h {
        for x in 0..p.w {
            let i = y * p.w + x;
            let (sx, sy) = (x as f32 + alpha * dx[i], y as f32 + alpha * dy[i]);
            for c in 0..3 {
                out[i * 3 + c] =
                    warped.sample(sx.clamp(-w, 2.0 * w), sy.clamp(-h, 2.0 * h), c, reflect);
            }
        }
    }
    Planes { w: p.w, h: p.h, v: out }
}

/// The affine map taking the three points `a` to `b`: [m00, m01, m02, m10, m11, m12].
fn affine(a: &[[f32; 2]; 3], b: &[[f32; 2]; 3]) -> [f32; 6] {
    // Solve [x y 1] * [m00 m10; m01 m11; m02 m12] = b by Cramer's rule.
    let det = a[0][0] * (a[1][1] - a[2][1]) - a[0][1] * (a[1][0] - a[2][0])
        + (a[1][0] * a[2][1] - a[2][0] * a[1][1]);
    let solve = |v: [f32; 3]| -> [f32; 3] {
        let d0 = v[0] * (a[1][1] - a[2][1]) - a[0][1] * (v[1] - v[2])
            + (v[1] * a[2][1] - v[2] * a[1][1]);
        let d1 = a[0][0] * (v[1] - v[2]) - v[0] * (a[1][0] - a[2][0])
            + (a[1][0] * v[2] - a[2][0] * v[1]);
        let d2 = a[0][0] * (a[1][1] * v[2] - a[2][1] * v[1])
            - a[0][1] * (a[1][0] * v[2] - a[2][0] * v[1])
            + v[0] * (a[1][0] * a[2][1] - a[2][0] * a[1][1]);
        [d0 / det, d1 / det, d2 / det]
    };
    let x = solve([b[0][0], b[1][0], b[2][0]]);
    let y = solve([b[0][1], b[1][1], b[2][1]]);
    [x[0], x[1], x[2], y[0], y[1], y[2]]
}

/// Turned by `radians` about the centre, bilinear, uncovered pixels black.
pub(super) fn rotate(img: &RgbImage, radians: f32) -> RgbImage {
    let (w, h) = img.dimensions();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let (s, c) = radians.sin_cos();
    RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let sx = c * dx + s * dy + cx - 0.5;
        let sy = -s * dx + c * dy + cy - 0.5;
        bilinear_black(img, sx, sy)
    })
}

fn bilinear_black(img: &RgbImage, x: f32, y: f32) -> Rgb<u8> {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let get = |xi: i64, yi: i64| -> [f32; 3] {
        if xi < 0 || yi < 0 || xi >= w || yi >= h {
            [0.0; 3]
        } else {
            img.get_pixel(xi as u32, yi as u32).0.map(|v| v as f32)
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

/// Shifted by a `fraction` of each side in a direction from the seed, black fill.
pub(super) fn translate(img: &RgbImage, fraction: f32, rng: &mut SplitMix64) -> RgbImage {
    let angle = rng.unit() * std::f32::consts::TAU;
    let dx = (angle.cos() * fraction * img.width() as f32).round() as i64;
    let dy = (angle.sin() * fraction * img.height() as f32).round() as i64;
    let mut out = RgbImage::new(img.width(), img.height());
    imageops::replace(&mut out, img, dx, dy);
    out
}

/// A gray square of `fraction` of the shorter side, centred within the middle half (where
/// the subject usually is).
pub(super) fn occlude(img: &RgbImage, fraction: f32, rng: &mut SplitMix64) -> RgbImage {
    let short = img.width().min(img.height()) as f32;
    let side = (fraction * short).round().max(1.0) as i64;
    let cx = (img.width() as f32 * (0.375 + 0.25 * rng.unit())) as i64;
    let cy = (img.height() as f32 * (0.375 + 0.25 * rng.unit())) as i64;
    let square = RgbImage::from_pixel(side as u32, side as u32, Rgb([128, 128, 128]));
    let mut out = img.clone();
    imageops::replace(&mut out, &square, cx - side / 2, cy - side / 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_maps_its_points() {
        let a = [[10.0, 10.0], [40.0, 12.0], [15.0, 35.0]];
        let b = [[12.0, 9.0], [41.0, 15.0], [13.0, 37.0]];
        let m = affine(&a, &b);
        for (p, q) in a.iter().zip(&b) {
            let x = m[0] * p[0] + m[1] * p[1] + m[2];
            let y = m[3] * p[0] + m[4] * p[1] + m[5];
            assert!((x - q[0]).abs() < 1e-3 && (y - q[1]).abs() < 1e-3, "{p:?} -> {x},{y}");
        }
    }

    #[test]
    fn box_resize_averages_blocks_and_repeats_them() {
        let img = RgbImage::from_fn(4, 2, |x, _| Rgb([if x < 2 { 0 } else { 200 }, 0, 0]));
        let small = box_resize(&img, 2, 1);
        assert_eq!(small.get_pixel(0, 0).0[0], 0);
        assert_eq!(small.get_pixel(1, 0).0[0], 200);
        let mixed = box_resize(&RgbImage::from_fn(2, 1, |x, _| Rgb([x as u8 * 100, 0, 0])), 1, 1);
        assert_eq!(mixed.get_pixel(0, 0).0[0], 50);
        let big = box_resize(&small, 4, 2);
        assert_eq!(big, img);
    }
}
