//! Image → input tensor, exactly as the model was trained: decode, resize per the manifest,
//! channel order, layout and normalisation. Pure functions; no tract here.

use std::borrow::Cow;

use image::imageops;
use image::{DynamicImage, Rgb, RgbImage};

pub use super::image_io::{decode_image, load_image, load_image_limited};
use super::manifest::{ColorOrder, InputSpec, Layout, ResizeMode};
use super::resample::scale;

/// A dense `f32` tensor ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    /// Shape, batch first.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Maps model-input pixel coordinates back to the original image (undoes resize, letterbox
/// padding and centre crop): `x_input = x_original * scale_x + offset_x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Horizontal scale from original to input pixels.
    pub scale_x: f32,
    /// Vertical scale from original to input pixels.
    pub scale_y: f32,
    /// Horizontal offset in input pixels (padding > 0, crop < 0).
    pub offset_x: f32,
    /// Vertical offset in input pixels.
    pub offset_y: f32,
    /// Original image width.
    pub width: u32,
    /// Original image height.
    pub height: u32,
    /// `[x0, y0, x1, y1]`: the part of the input covered by the image; the rest is padding.
    pub content: [u32; 4],
}

impl Transform {
    /// Original-image coordinates of an input-pixel point, clamped to the image.
    pub fn to_original(&self, x: f32, y: f32) -> (f32, f32) {
        let ox = ((x - self.offset_x) / self.scale_x).clamp(0.0, self.width as f32);
        let oy = ((y - self.offset_y) / self.scale_y).clamp(0.0, self.height as f32);
        (ox, oy)
    }
}

/// Resizes `image` per the spec and lays it out as the model's input tensor.
///
/// Alpha is dropped; gray models get Rec. 709 luma. Output values lie in
/// `[(0·scale − mean) / std, (255·scale − mean) / std]` per channel.
pub fn preprocess(image: &DynamicImage, spec: &InputSpec) -> (InputTensor, Transform) {
    let (resized, transform) = resize(&as_rgb8(image), spec);
    (to_tensor(&resized, spec, &transform), transform)
}

/// The image as 8-bit RGB, borrowed when it already is (a camera frame is not copied).
pub fn as_rgb8(image: &DynamicImage) -> Cow<'_, RgbImage> {
    match image {
        DynamicImage::ImageRgb8(rgb) => Cow::Borrowed(rgb),
        other => Cow::Owned(other.to_rgb8()),
    }
}

/// The input size (width, height) for an `iw`×`ih` image: the shape's, or for per-image
/// modes the one the resize rule picks.
pub fn input_size(iw: u32, ih: u32, spec: &InputSpec) -> (u32, u32) {
    let (h, w) = spec.size();
    let m = spec.multiple as f64;
    match spec.resize {
        ResizeMode::FitLongerSide => {
            // The longer side is the shape's, rounded down to a multiple (at least one).
            let limit = ((h.max(w) as f64 / m).floor() * m).max(m);
            let s = limit / iw.max(ih) as f64;
            let round = |v: u32| (((v as f64 * s) / m).round() * m).clamp(m, limit) as u32;
            (round(iw), round(ih))
        }
        ResizeMode::PadRight => {
            let scaled = scaled_width(iw, ih, h as u32);
            let width = match spec.max_width {
                Some(max) => ((scaled as f64 / m).ceil() * m).clamp(w as f64, max as f64) as u32,
                None => w as u32,
            };
            (width, h as u32)
        }
        _ => (w as u32, h as u32),
    }
}

/// Width of an `iw`×`ih` image scaled to height `h`, rounded up as PaddleOCR does.
fn scaled_width(iw: u32, ih: u32, h: u32) -> u32 {
    ((h as f64 * iw as f64 / ih as f64).ceil() as u32).max(1)
}

/// Brings `img` to the input size per the spec's resize mode.
pub fn resize(img: &RgbImage, spec: &InputSpec) -> (RgbImage, Transform) {
    let (w, h) = input_size(img.width(), img.height(), spec);
    let pad = spec.pad.round() as u8;
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let base = Transform {
        scale_x: w as f32 / iw,
        scale_y: h as f32 / ih,
        offset_x: 0.0,
        offset_y: 0.0,
        width: img.width(),
        height: img.height(),
        content: [0, 0, w, h],
    };
    match spec.resize {
        ResizeMode::Stretch | ResizeMode::FitLongerSide => (scale(img, w, h, spec.filter), base),
        ResizeMode::PadRight => {
            let nw = scaled_width(img.width(), img.height(), h).min(w);
            let mut out = RgbImage::from_pixel(w, h, Rgb([pad, pad, pad]));
            imageops::replace(&mut out, &scale(img, nw, h, spec.filter), 0, 0);
            let t = Transform { scale_x: nw as f32 / iw, content: [0, 0, nw, h], ..base };
            (out, t)
        }
        ResizeMode::Letterbox | ResizeMode::CenterCrop => {
            let s = if spec.resize == ResizeMode::Letterbox {
                base.scale_x.min(base.scale_y)
            } else {
                // Scaled past the input by 1/fraction, so the crop keeps that share.
                base.scale_x.max(base.scale_y) / spec.crop_fraction.unwrap_or(1.0)
            };
            let nw = ((iw * s).round() as u32).max(1);
            let nh = ((ih * s).round() as u32).max(1);
            let scaled = scale(img, nw, nh, spec.filter);
            // Centre the scaled image; negative offsets crop, positive ones pad.
            let ox = (w as i64 - nw as i64) / 2;
            let oy = (h as i64 - nh as i64) / 2;
            let mut out = RgbImage::from_pixel(w, h, Rgb([pad, pad, pad]));
            imageops::replace(&mut out, &scaled, ox, oy);
            let clip = |v: i64, max: u32| v.clamp(0, max as i64) as u32;
            let t = Transform {
                scale_x: nw as f32 / iw,
                scale_y: nh as f32 / ih,
                offset_x: ox as f32,
                offset_y: oy as f32,
                content: [
                    clip(ox, w),
                    clip(oy, h),
                    clip(ox + nw as i64, w),
                    clip(oy + nh as i64, h),
                ],
                ..base
            };
            (out, t)
        }
    }
}

/// Lays out an image of the input size as the normalised tensor. Pixels outside the
/// transform's content are padding and get exactly the normalised `pad` value.
pub fn to_tensor(img: &RgbImage, spec: &InputSpec, transform: &Transform) -> InputTensor {
    let (h, w) = (img.height() as usize, img.width() as usize);
    let c = spec.color.channels();
    let mut data = vec![0.0f32; h * w * c];
    // Per channel, so each value is one multiply-add: v * mul + add.
    let mul: Vec<f32> = spec.std.iter().map(|s| spec.scale / s).collect();
    let add: Vec<f32> = spec.mean.iter().zip(&spec.std).map(|(m, s)| -m / s).collect();
    let padded: Vec<f32> = (0..c).map(|ch| spec.pad * mul[ch] + add[ch]).collect();
    // Which source byte of an RGB pixel feeds each tensor channel (gray is computed).
    let source: [usize; 3] = match spec.color {
        ColorOrder::Bgr => [2, 1, 0],
        _ => [0, 1, 2],
    };
    let [cx0, cy0, cx1, cy1] = transform.content.map(|v| v as usize);
    let (cx1, cy1) = (cx1.min(w), cy1.min(h));
    let raw = img.as_raw();
    // Rows and columns are walked in the tensor's memory order so writes stay sequential.
    for y in 0..h {
        let row = &raw[y * w * 3..(y + 1) * w * 3];
        let inside_row = y >= cy0 && y < cy1;
        for ch in 0..c {
            let (m, a, p) = (mul[ch], add[ch], padded[ch]);
            let value = |x: usize| -> f32 {
                if !inside_row || x < cx0 || x >= cx1 {
                    return p;
                }
                let px = &row[x * 3..x * 3 + 3];
                let v = match spec.color {
                    ColorOrder::Gray => luma(px[0], px[1], px[2]),
                    _ => px[source[ch]],
                };
                v as f32 * m + a
            };
            match spec.layout {
                Layout::Nchw => {
                    let plane = &mut data[(ch * h + y) * w..(ch * h + y + 1) * w];
                    for (x, out) in plane.iter_mut().enumerate() {
                        *out = value(x);
                    }
                }
                Layout::Nhwc => {
                    let line = &mut data[y * w * c..(y + 1) * w * c];
                    for (x, out) in line.iter_mut().skip(ch).step_by(c).enumerate() {
                        *out = value(x);
                    }
                }
            }
        }
    }
    InputTensor { shape: spec.shape_for(h, w), data }
}

/// Rec. 709 luma, as `image`'s own gray conversion uses.
fn luma(r: u8, g: u8, b: u8) -> u8 {
    (0.2126 * r as f32 + 0.7152 * g as f32 + 0.0722 * b as f32).round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(shape: [usize; 4], layout: Layout, color: ColorOrder, resize: ResizeMode) -> InputSpec {
        let c = color.channels();
        InputSpec {
            name: "input".into(),
            shape: shape.to_vec(),
            layout,
            color,
            resize,
            scale: 1.0 / 127.5,
            mean: vec![1.0; c],
            std: vec![1.0; c],
            pad: 0.0,
            multiple: 32,
            max_width: None,
            max_image_pixels: None,
            crop_fraction: None,
            filter: crate::model::manifest::Filter::Bilinear,
        }
    }

    #[test]
    fn nhwc_rgb_normalises_to_minus_one_one() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_fn(2, 1, |x, _| {
            if x == 0 {
                Rgb([0, 255, 0])
            } else {
                Rgb([255, 0, 255])
            }
        }));
        let s = spec([1, 1, 2, 3], Layout::Nhwc, ColorOrder::Rgb, ResizeMode::Stretch);
        let (t, _) = preprocess(&img, &s);
        assert_eq!(t.shape, vec![1, 1, 2, 3]);
        assert_eq!(t.data, vec![-1.0, 1.0, -1.0, 1.0, -1.0, 1.0]);
    }

    #[test]
    fn nchw_bgr_puts_blue_plane_first() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(2, 2, Rgb([10, 20, 30])));
        let mut s = spec([1, 3, 2, 2], Layout::Nchw, ColorOrder::Bgr, ResizeMode::Stretch);
        s.scale = 1.0;
        s.mean = vec![0.0; 3];
        let (t, _) = preprocess(&img, &s);
        assert_eq!(&t.data[..4], &[30.0; 4]);
        assert_eq!(&t.data[4..8], &[20.0; 4]);
        assert_eq!(&t.data[8..], &[10.0; 4]);
    }

    #[test]
    fn gray_and_rgba_sources_are_accepted() {
        let gray = DynamicImage::ImageLuma8(image::GrayImage::from_pixel(3, 3, image::Luma([200])));
        let rgba = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            3,
            3,
            image::Rgba([200, 200, 200, 7]),
        ));
        let s = spec([1, 1, 3, 3], Layout::Nchw, ColorOrder::Gray, ResizeMode::Stretch);
        let a = preprocess(&gray, &s).0;
        let b = preprocess(&rgba, &s).0;
        assert_eq!(a, b);
        assert!((a.data[0] - (200.0 / 127.5 - 1.0)).abs() < 1e-6);
    }

    #[test]
    fn letterbox_pads_and_maps_back() {
        let img = RgbImage::from_pixel(200, 100, Rgb([255, 255, 255]));
        let s = spec([1, 100, 100, 3], Layout::Nhwc, ColorOrder::Rgb, ResizeMode::Letterbox);
        let (out, t) = resize(&img, &s);
        assert_eq!(t.content, [0, 25, 100, 75]);
        assert_eq!(out.get_pixel(50, 10).0, [0, 0, 0], "top band is padding");
        assert_eq!(out.get_pixel(50, 50).0, [255, 255, 255]);
        assert_eq!((t.offset_x, t.offset_y), (0.0, 25.0));
        let (x, y) = t.to_original(100.0, 75.0);
        assert!((x - 200.0).abs() < 1e-3 && (y - 100.0).abs() < 1e-3);
    }

    #[test]
    fn center_crop_maps_back_inside_the_crop() {
        let img = RgbImage::from_pixel(200, 100, Rgb([9, 9, 9]));
        let s = spec([1, 100, 100, 3], Layout::Nhwc, ColorOrder::Rgb, ResizeMode::CenterCrop);
        let (out, t) = resize(&img, &s);
        assert_eq!(out.dimensions(), (100, 100));
        assert_eq!((t.offset_x, t.offset_y), (-50.0, 0.0));
        let (x, _) = t.to_original(0.0, 0.0);
        assert!((x - 50.0).abs() < 1e-3);
    }

    #[test]
    fn crop_fraction_keeps_the_centre_share() {
        // ImageNet's evaluation: the shorter side to 256, the centre 224 kept.
        let img = RgbImage::from_fn(256, 256, |x, y| Rgb([x as u8, y as u8, 0]));
        let mut s = spec([1, 224, 224, 3], Layout::Nhwc, ColorOrder::Rgb, ResizeMode::CenterCrop);
        s.crop_fraction = Some(0.875);
        let (out, t) = resize(&img, &s);
        assert_eq!(out.dimensions(), (224, 224));
        assert_eq!((t.offset_x, t.offset_y), (-16.0, -16.0));
        assert_eq!(out.get_pixel(0, 0).0, [16, 16, 0], "no resampling at 256: a plain crop");
        assert_eq!(t.content, [0, 0, 224, 224]);
    }

    fn ocr_spec(shape: [usize; 4], resize: ResizeMode) -> InputSpec {
        let mut s = spec(shape, Layout::Nchw, ColorOrder::Bgr, resize);
        s.scale = 1.0 / 255.0;
        s.mean = vec![0.5; 3];
        s.std = vec![0.5; 3];
        s.pad = 127.5;
        s
    }

    #[test]
    fn fit_longer_side_rounds_to_multiples() {
        let s = ocr_spec([1, 3, 384, 384], ResizeMode::FitLongerSide);
        assert_eq!(input_size(384, 191, &s), (384, 192));
        assert_eq!(input_size(1000, 100, &s), (384, 32));
        assert_eq!(input_size(100, 1000, &s), (32, 384));
        assert_eq!(input_size(1, 1, &s), (384, 384));
        let img = RgbImage::from_pixel(384, 160, Rgb([1, 2, 3]));
        let (out, t) = resize(&img, &s);
        assert_eq!(out, img, "an image at the model's geometry is not resampled");
        assert_eq!((t.scale_x, t.scale_y), (1.0, 1.0));
    }

    #[test]
    fn pad_right_keeps_aspect_and_pads_with_tensor_zero() {
        let s = ocr_spec([1, 3, 48, 192], ResizeMode::PadRight);
        let img = RgbImage::from_pixel(100, 48, Rgb([255, 0, 0]));
        let (t, tr) = preprocess(&DynamicImage::ImageRgb8(img), &s);
        assert_eq!(t.shape, vec![1, 3, 48, 192]);
        assert_eq!(tr.content, [0, 0, 100, 48]);
        // BGR: plane 2 is red.
        assert_eq!(t.data[2 * 48 * 192], 1.0);
        assert_eq!(t.data[0], -1.0);
        assert_eq!(t.data[100], 0.0, "padding is the normalised 127.5");
        // A wider line is squeezed to the width.
        assert_eq!(input_size(1000, 48, &s), (192, 48));
        let (out, tr) = resize(&RgbImage::new(1000, 48), &s);
        assert_eq!((out.width(), tr.content[2]), (192, 192));
    }

    #[test]
    fn pad_right_with_max_width_widens_in_steps() {
        let mut s = ocr_spec([1, 3, 48, 320], ResizeMode::PadRight);
        s.max_width = Some(960);
        assert_eq!(input_size(100, 48, &s), (320, 48));
        assert_eq!(input_size(400, 48, &s), (416, 48));
        assert_eq!(input_size(4000, 48, &s), (960, 48));
        assert_eq!(input_size(200, 24, &s), (416, 48));
    }

    proptest! {
        #[test]
        fn shape_and_range_invariants(
            iw in 1u32..64, ih in 1u32..64,
            tw in 1usize..48, th in 1usize..48,
            nchw in any::<bool>(), color in 0usize..3, mode in 0usize..5,
            seed in any::<u64>(),
        ) {
            let color = [ColorOrder::Rgb, ColorOrder::Bgr, ColorOrder::Gray][color];
            let mode = [
                ResizeMode::Stretch,
                ResizeMode::Letterbox,
                ResizeMode::CenterCrop,
                ResizeMode::FitLongerSide,
                ResizeMode::PadRight,
            ][mode];
            let c = color.channels();
            let layout = if nchw { Layout::Nchw } else { Layout::Nhwc };
            let shape = if nchw { [1, c, th, tw] } else { [1, th, tw, c] };
            let mut s = spec(shape, layout, color, mode);
            s.scale = 1.0 / 255.0;
            s.mean = (0..c).map(|i| 0.4 + 0.05 * i as f32).collect();
            s.std = (0..c).map(|i| 0.2 + 0.03 * i as f32).collect();
            let mut state = seed;
            let img = RgbImage::from_fn(iw, ih, |_, _| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let v = (state >> 33) as u32;
                Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
            });
            s.multiple = 8;
            let (t, tr) = preprocess(&DynamicImage::ImageRgb8(img), &s);
            let (w, h) = input_size(iw, ih, &s);
            let shape = s.shape_for(h as usize, w as usize);
            if !matches!(mode, ResizeMode::FitLongerSide) {
                prop_assert_eq!((w as usize, h as usize), (tw, th));
            } else {
                let limit = (tw.max(th) / 8).max(1) as u32 * 8;
                prop_assert!(w % 8 == 0 && h % 8 == 0 && w.max(h) == limit, "{}x{} limit {}", w, h, limit);
            }
            prop_assert_eq!(&t.shape, &shape);
            prop_assert_eq!(t.data.len(), shape.iter().product::<usize>());
            let lo = s.mean.iter().zip(&s.std).map(|(m, sd)| -m / sd).fold(f32::INFINITY, f32::min);
            let hi = s.mean.iter().zip(&s.std).map(|(m, sd)| (1.0 - m) / sd).fold(f32::NEG_INFINITY, f32::max);
            for v in &t.data {
                prop_assert!(v.is_finite() && *v >= lo - 1e-4 && *v <= hi + 1e-4, "{} not in [{}, {}]", v, lo, hi);
            }
            let [x0, y0, x1, y1] = tr.content;
            prop_assert!(x0 <= x1 && x1 <= w && y0 <= y1 && y1 <= h);
            let (x, y) = tr.to_original(w as f32, h as f32);
            prop_assert!(x <= iw as f32 && y <= ih as f32);
        }
    }
}
