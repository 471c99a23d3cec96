//! Resampling an image to a new size: the one place preflight scales pixels for a model.

use std::cell::RefCell;

use fast_image_resize as fir;
use image::imageops::{self, FilterType};
use image::RgbImage;

use super::manifest::Filter;

/// Resamples to `w`×`h` with a convolution whose support widens with the downscale factor
/// (antialiased, as Pillow's filters and `image`'s), in SIMD where the CPU has it. An image
/// already that size is copied as is, so inputs prepared at the model's geometry reach it
/// unchanged.
pub(crate) fn scale(img: &RgbImage, w: u32, h: u32, filter: Filter) -> RgbImage {
    if img.dimensions() == (w, h) {
        return img.clone();
    }
    let mut out = vec![0u8; w as usize * h as usize * 3];
    // Typed views: the untyped `Resizer::resize` instantiates the convolution of every pixel
    // type (13) in this crate, for the one it uses.
    type Px = fir::pixels::U8x3;
    let resized =
        fir::images::TypedImageRef::<Px>::from_buffer(img.width(), img.height(), img.as_raw())
            .ok()
            .zip(fir::images::TypedImage::<Px>::from_buffer(w, h, &mut out).ok())
            .and_then(|(src, mut dst)| {
                let kind = match filter {
                    Filter::Bilinear => fir::FilterType::Bilinear,
                    Filter::Bicubic => fir::FilterType::CatmullRom,
                    Filter::Lanczos3 => fir::FilterType::Lanczos3,
                };
                let options =
                    fir::ResizeOptions::new().resize_alg(fir::ResizeAlg::Convolution(kind));
                // The resizer keeps its scratch buffers between frames: one per thread.
                RESIZER.with(|r| r.borrow_mut().resize_typed(&src, &mut dst, &options)).ok()
            });
    match resized.and_then(|()| RgbImage::from_raw(w, h, out)) {
        Some(image) => image,
        // Unreachable for an RGB image and a non-empty size; never worth a panic on a camera.
        None => imageops::resize(
            img,
            w,
            h,
            match filter {
                Filter::Bilinear => FilterType::Triangle,
                Filter::Bicubic => FilterType::CatmullRom,
                Filter::Lanczos3 => FilterType::Lanczos3,
            },
        ),
    }
}

thread_local! {
    static RESIZER: RefCell<fir::Resizer> = RefCell::new(fir::Resizer::new());
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// A `w`×`h` test pattern: channels `x·k0 + y·k1`, `x²·k2 + y·k3`, `255 − x·k4 − y·k5`
    /// (mod 256), as built with numpy for the Pillow references below.
    fn pattern(w: u32, h: u32, k: [i32; 6]) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let (x, y) = (x as i32, y as i32);
            let c = |v: i32| v.rem_euclid(256) as u8;
            Rgb([c(x * k[0] + y * k[1]), c(x * x * k[2] + y * k[3]), c(255 - x * k[4] - y * k[5])])
        })
    }

    #[test]
    fn downscale_matches_pillow_bilinear() {
        // Pillow 13.0.0: `Image.fromarray(a).resize((4, 3), Image.BILINEAR)` on this 9×7 image,
        // the resampling the Python reference pipelines (and the PP-OCR tools) use.
        let img = pattern(9, 7, [37, 11, 5, 29, 20, 13]);
        let pillow: [u8; 36] = [
            40, 31, 227, 115, 70, 187, 181, 150, 141, 70, 119, 101, 64, 93, 199, 139, 132, 159,
            185, 150, 113, 79, 106, 73, 88, 155, 171, 163, 189, 131, 160, 115, 85, 66, 153, 45,
        ];
        let ours = scale(&img, 4, 3, Filter::Bilinear);
        for (i, (a, b)) in ours.as_raw().iter().zip(pillow).enumerate() {
            assert!(a.abs_diff(b) <= 1, "value {i}: {a} vs Pillow's {b}");
        }
    }

    #[test]
    fn upscale_matches_pillow_bicubic_and_lanczos() {
        // Pillow 13.0.0: `Image.fromarray(a).resize((7, 5), Image.BICUBIC)` (then `LANCZOS`) on
        // this 4×3 image: a small text line scaled up to a recogniser's height.
        let img = pattern(4, 3, [61, 23, 17, 41, 50, 31]);
        let bicubic: [u8; 105] = [
            0, 0, 255, 14, 0, 244, 54, 12, 211, 90, 35, 182, 125, 70, 153, 165, 126, 120, 186, 157,
            103, 5, 12, 247, 23, 16, 233, 63, 28, 200, 99, 51, 171, 134, 86, 142, 174, 142, 109,
            195, 173, 92, 18, 40, 228, 39, 44, 211, 79, 56, 178, 115, 79, 149, 150, 114, 120, 190,
            170, 87, 211, 201, 70, 34, 68, 207, 55, 72, 189, 95, 84, 156, 131, 107, 127, 166, 142,
            98, 206, 198, 65, 227, 229, 48, 43, 84, 195, 64, 88, 178, 104, 100, 145, 140, 123, 116,
            175, 158, 87, 215, 214, 54, 236, 245, 37,
        ];
        let lanczos: [u8; 105] = [
            0, 0, 255, 12, 0, 246, 53, 12, 212, 90, 30, 182, 126, 72, 152, 167, 129, 118, 186, 158,
            103, 4, 9, 249, 19, 11, 237, 60, 24, 203, 97, 42, 173, 133, 84, 143, 174, 141, 109,
            193, 170, 94, 18, 41, 228, 37, 43, 213, 78, 56, 179, 115, 74, 149, 151, 116, 119, 192,
            173, 85, 211, 202, 70, 35, 73, 204, 55, 75, 189, 96, 88, 155, 133, 106, 125, 169, 148,
            95, 210, 205, 61, 229, 234, 46, 43, 85, 195, 62, 87, 180, 103, 100, 146, 140, 118, 116,
            176, 160, 86, 217, 217, 52, 236, 246, 37,
        ];
        for (filter, pillow) in [(Filter::Bicubic, bicubic), (Filter::Lanczos3, lanczos)] {
            // Pillow rounds to 8 bits between its horizontal and vertical passes; the SIMD
            // convolution keeps more: a few levels apart where the lobes ring, one on average.
            let ours = scale(&img, 7, 5, filter);
            let mut total = 0;
            for (i, (a, b)) in ours.as_raw().iter().zip(pillow).enumerate() {
                assert!(a.abs_diff(b) <= 4, "{filter:?} value {i}: {a} vs Pillow's {b}");
                total += u32::from(a.abs_diff(b));
            }
            assert!(total <= pillow.len() as u32, "{filter:?}: {total} levels apart in all");
        }
    }
}
