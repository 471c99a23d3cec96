//! Image files → pixels, within limits: PNG or JPEG only, the size checked from the header
//! before any pixel is allocated, and a JPEG cut short refused instead of decoded with gray
//! fill (a camera that loses the end of a frame must not be judged on half a picture).

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat, ImageReader, Limits};

use super::manifest::DEFAULT_MAX_IMAGE_PIXELS;
use crate::error::{Error, Result};

/// Reads and decodes an image file (PNG or JPEG; gray, RGB or RGBA) of at most
/// [`DEFAULT_MAX_IMAGE_PIXELS`] pixels.
pub fn load_image(path: &Path) -> Result<DynamicImage> {
    load_image_limited(path, DEFAULT_MAX_IMAGE_PIXELS)
}

/// [`load_image`] with another pixel limit (a bundle's `input.max_image_pixels`).
pub fn load_image_limited(path: &Path, max_pixels: u64) -> Result<DynamicImage> {
    let bytes = crate::files::read_bounded(path, crate::files::MAX_IMAGE_BYTES)?;
    decode(&bytes, max_pixels).map_err(|message| Error::Image { path: path.to_path_buf(), message })
}

/// Decodes an in-memory PNG or JPEG of at most [`DEFAULT_MAX_IMAGE_PIXELS`] pixels (the
/// error's path is `<memory>`).
pub fn decode_image(bytes: &[u8]) -> Result<DynamicImage> {
    decode(bytes, DEFAULT_MAX_IMAGE_PIXELS)
        .map_err(|message| Error::Image { path: "<memory>".into(), message })
}

/// Decodes PNG or JPEG bytes; the error is the reason.
fn decode(bytes: &[u8], max_pixels: u64) -> std::result::Result<DynamicImage, String> {
    let format = image::guess_format(bytes).map_err(|_| "not a PNG or JPEG file".to_string())?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return Err(format!("{format:?} images are not supported (PNG or JPEG)"));
    }
    if format == ImageFormat::Jpeg {
        jpeg_complete(bytes)?;
    }
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| e.to_string())?;
    let pixels = w as u64 * h as u64;
    if pixels == 0 {
        return Err("image is empty".into());
    }
    if pixels > max_pixels {
        return Err(format!(
            "{w}x{h} is {pixels} pixels, over the limit of {max_pixels} (input.max_image_pixels)"
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    // 16-bit RGBA is the widest pixel a PNG holds (8 bytes); decoders allocate little else.
    limits.max_alloc = Some(pixels * 8 + (16 << 20));
    reader.limits(limits);
    reader.decode().map_err(|e| e.to_string())
}

/// Refuses a JPEG that ends before its end-of-image marker. The decoder fills what is
/// missing with gray and reports success; the marker walk finds the truncation.
fn jpeg_complete(bytes: &[u8]) -> std::result::Result<(), String> {
    let truncated = || Err("JPEG ends before its end-of-image marker (truncated file)".to_string());
    let mut i = 2; // after SOI (FF D8), checked by guess_format
    loop {
        // A marker: one or more 0xFF, then its code.
        if bytes.get(i) != Some(&0xFF) {
            return if i >= bytes.len() {
                truncated()
            } else {
                Err(format!("JPEG marker expected at byte {i}"))
            };
        }
        while bytes.get(i) == Some(&0xFF) {
            i += 1;
        }
        let Some(&code) = bytes.get(i) else { return truncated() };
        i += 1;
        match code {
            0xD9 => return Ok(()),
            // Standalone markers: restart markers, TEM.
            0xD0..=0xD7 | 0x01 => continue,
            _ => {}
        }
        let Some(len) = bytes.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize)
        else {
            return truncated();
        };
        if len < 2 {
            return Err(format!("JPEG segment at byte {i} has length {len}"));
        }
        i += len;
        if i > bytes.len() {
            return truncated();
        }
        if code == 0xDA {
            // Entropy-coded scan: runs to the next marker that is neither a stuffed 0xFF00
            // nor a restart marker.
            loop {
                let Some(at) = bytes[i..].iter().position(|&b| b == 0xFF) else {
                    return truncated();
                };
                i += at;
                match bytes.get(i + 1) {
                    None => return truncated(),
                    Some(0x00 | 0xD0..=0xD7) => i += 2,
                    Some(0xFF) => i += 1,
                    Some(_) => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Jpeg).unwrap();
        bytes
    }

    #[test]
    fn decode_rejects_garbage_and_other_formats() {
        assert!(decode_image(b"definitely not an image").is_err());
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&[0; 32]);
        assert!(decode_image(&gif).unwrap_err().to_string().contains("not supported"));
    }

    #[test]
    fn complete_jpeg_decodes_and_every_truncation_is_refused() {
        let bytes = jpeg(40, 30);
        assert_eq!(decode_image(&bytes).unwrap().width(), 40);
        for cut in [bytes.len() / 2, bytes.len() - 2, bytes.len() - 1, 3] {
            let err = decode_image(&bytes[..cut]).unwrap_err().to_string();
            assert!(err.contains("truncated") || err.contains("marker"), "cut {cut}: {err}");
        }
        // Bytes after the end-of-image marker (some cameras append data) are not an error.
        let mut trailing = bytes.clone();
        trailing.extend_from_slice(b"trailer");
        assert!(decode_image(&trailing).is_ok());
    }

    #[test]
    fn pixel_limit_is_checked_from_the_header() {
        let bytes = jpeg(64, 64);
        assert!(decode(&bytes, 64 * 64).is_ok());
        let err = decode(&bytes, 64 * 64 - 1).unwrap_err();
        assert!(err.contains("64x64 is 4096 pixels, over the limit of 4095"), "{err}");
    }
}
