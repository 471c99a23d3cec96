//! The geometry between the stages: a detected box becomes a crop the recogniser can read
//! (turned a quarter when it stands upright), and read lines are put in reading order.

use image::RgbImage;
use serde::Serialize;

/// One line of text read from an image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextLine {
    /// The text read.
    pub text: String,
    /// The recogniser's confidence (mean character score).
    pub confidence: f32,
    /// The detector's score for the line's box.
    pub score: f32,
    /// `[x0, y0, x1, y1]` in original-image pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Degrees the crop was turned counter-clockwise before reading: 0, 90 (vertical text),
    /// 180 (the direction stage found it upside down) or 270.
    pub turned: u16,
}

/// The pixels of `bbox` (original-image pixels, fractional) in `image`: the smallest whole
/// pixel rectangle covering it, clipped to the image; `None` when nothing is left.
pub fn crop(image: &RgbImage, bbox: [f32; 4]) -> Option<RgbImage> {
    let clamp = |v: f32, max: u32| {
        if v.is_finite() {
            v.clamp(0.0, max as f32)
        } else {
            0.0
        }
    };
    let x0 = clamp(bbox[0], image.width()).floor() as u32;
    let y0 = clamp(bbox[1], image.height()).floor() as u32;
    let x1 = clamp(bbox[2], image.width()).ceil() as u32;
    let y1 = clamp(bbox[3], image.height()).ceil() as u32;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    Some(image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image())
}

/// The rotated rectangle `quad` (top-left, top-right, bottom-right, bottom-left, in
/// original-image pixels) cut out of `image` and laid flat: sampled bilinearly, the image's
/// border replicated past its edges (as PaddleOCR's perspective crop). `None` for a
/// degenerate rectangle, one more than `max_side` pixels long, or one of more pixels than
/// twice the image (a hostile decoder setting cannot make a crop allocate more than that).
pub fn warp(image: &RgbImage, quad: [[f32; 2]; 4], max_side: u32) -> Option<RgbImage> {
    let [tl, tr, _, bl] = quad;
    if quad.iter().flatten().any(|v| !v.is_finite()) || image.width() == 0 || image.height() == 0 {
        return None;
    }
    let (ux, uy) = (tr[0] - tl[0], tr[1] - tl[1]);
    let (vx, vy) = (bl[0] - tl[0], bl[1] - tl[1]);
    let w = (ux * ux + uy * uy).sqrt().round();
    let h = (vx * vx + vy * vy).sqrt().round();
    if !(1.0..=max_side as f32).contains(&w) || !(1.0..=max_side as f32).contains(&h) {
        return None;
    }
    let (w, h) = (w as u32, h as u32);
    if u64::from(w) * u64::from(h) > 2 * u64::from(image.width()) * u64::from(image.height()) {
        return None;
    }
    let (max_x, max_y) = ((image.width() - 1) as f32, (image.height() - 1) as f32);
    let at = |x: i64, y: i64| image.get_pixel(x as u32, y as u32).0;
    Some(RgbImage::from_fn(w, h, |i, j| {
        let (fu, fv) = ((i as f32 + 0.5) / w as f32, (j as f32 + 0.5) / h as f32);
        // Pixel centres sit at +0.5.
        let x = (tl[0] + fu * ux + fv * vx - 0.5).clamp(0.0, max_x);
        let y = (tl[1] + fu * uy + fv * vy - 0.5).clamp(0.0, max_y);
        let (x0, y0) = (x.floor() as i64, y.floor() as i64);
        let (x1, y1) = ((x0 + 1).min(max_x as i64), (y0 + 1).min(max_y as i64));
        let (ax, ay) = (x - x0 as f32, y - y0 as f32);
        let (p00, p10, p01, p11) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
        let mut out = [0u8; 3];
        for c in 0..3 {
            let top = p00[c] as f32 * (1.0 - ax) + p10[c] as f32 * ax;
            let bottom = p01[c] as f32 * (1.0 - ax) + p11[c] as f32 * ax;
            out[c] = (top * (1.0 - ay) + bottom * ay).round() as u8;
        }
        image::Rgb(out)
    }))
}

/// Turns a crop standing `ratio` times taller than wide a quarter counter-clockwise (vertical
/// text read along its length, as PaddleOCR's `np.rot90`); returns the degrees turned.
pub fn stand_up(crop: RgbImage, ratio: f32) -> (RgbImage, u16) {
    if crop.height() as f32 >= ratio * crop.width() as f32 {
        (image::imageops::rotate270(&crop), 90)
    } else {
        (crop, 0)
    }
}

/// Sorts lines into reading order: top to bottom, and left to right within a row (boxes whose
/// tops lie within half a line height of each other share a row). On a page the direction
/// stage found upside down (most lines turned 180°), the order is reversed: the page's first
/// line is then at the bottom right of the image.
pub fn reading_order(lines: &mut [TextLine]) {
    lines.sort_by(|a, b| a.bbox[1].total_cmp(&b.bbox[1]).then(a.bbox[0].total_cmp(&b.bbox[0])));
    // One pass of neighbour swaps, as PaddleOCR's sorted_boxes, with a tolerance that scales
    // with the text instead of its fixed 10 px.
    for i in 1..lines.len() {
        let mut j = i;
        while j > 0 {
            let (a, b) = (&lines[j - 1], &lines[j]);
            let height = (a.bbox[3] - a.bbox[1]).min(b.bbox[3] - b.bbox[1]).max(1.0);
            if (b.bbox[1] - a.bbox[1]).abs() < height / 2.0 && b.bbox[0] < a.bbox[0] {
                lines.swap(j - 1, j);
                j -= 1;
            } else {
                break;
            }
        }
    }
    if upside_down(lines) {
        lines.reverse();
    }
}

/// Most lines were turned upside down by the direction stage.
pub fn upside_down(lines: &[TextLine]) -> bool {
    let turned = lines.iter().filter(|l| l.turned >= 180).count();
    turned * 2 > lines.len()
}

/// The page's text: its lines in reading order, one per line.
pub fn page_text(lines: &[TextLine]) -> String {
    lines.iter().map(|l| l.text.trim()).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, bbox: [f32; 4], turned: u16) -> TextLine {
        TextLine { text: text.into(), confidence: 0.9, score: 0.9, bbox, turned }
    }

    #[test]
    fn crop_covers_fractional_boxes_and_clips() {
        let img = RgbImage::from_fn(10, 8, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let c = crop(&img, [1.5, 2.2, 4.1, 5.0]).unwrap();
        assert_eq!((c.width(), c.height()), (4, 3));
        assert_eq!(c.get_pixel(0, 0).0, [1, 2, 0]);
        let c = crop(&img, [-5.0, -5.0, 50.0, 50.0]).unwrap();
        assert_eq!((c.width(), c.height()), (10, 8));
        assert!(crop(&img, [3.0, 3.0, 3.0, 6.0]).is_none());
        assert!(crop(&img, [f32::NAN, 0.0, f32::NAN, 4.0]).is_none());
        assert!(crop(&img, [12.0, 0.0, 20.0, 4.0]).is_none());
    }

    #[test]
    fn warp_lays_a_rotated_rectangle_flat() {
        let img = RgbImage::from_fn(20, 20, |x, y| image::Rgb([x as u8 * 10, y as u8 * 10, 0]));
        // Axis-aligned: the same pixels as a plain crop.
        let flat = warp(&img, [[2.0, 3.0], [8.0, 3.0], [8.0, 7.0], [2.0, 7.0]], 100).unwrap();
        assert_eq!((flat.width(), flat.height()), (6, 4));
        assert_eq!(flat, crop(&img, [2.0, 3.0, 8.0, 7.0]).unwrap());
        // A quarter turn: the rectangle's top side runs down the image's column x = 10.
        let turned = warp(&img, [[11.0, 2.0], [11.0, 8.0], [10.0, 8.0], [10.0, 2.0]], 100).unwrap();
        assert_eq!((turned.width(), turned.height()), (6, 1));
        assert_eq!(turned.get_pixel(0, 0).0, [100, 20, 0]);
        assert_eq!(turned.get_pixel(5, 0).0, [100, 70, 0]);
        // Past the edge, the border is replicated.
        let edge = warp(&img, [[-4.0, 0.0], [2.0, 0.0], [2.0, 1.0], [-4.0, 1.0]], 100).unwrap();
        assert_eq!(edge.get_pixel(0, 0).0, [0, 0, 0]);
        assert!(warp(&img, [[0.0; 2]; 4], 100).is_none());
        assert!(warp(&img, [[f32::NAN, 0.0], [5.0, 0.0], [5.0, 5.0], [0.0, 5.0]], 100).is_none());
        assert!(warp(&img, [[0.0, 0.0], [500.0, 0.0], [500.0, 5.0], [0.0, 5.0]], 100).is_none());
        let huge = [[0.0, 0.0], [90.0, 0.0], [90.0, 90.0], [0.0, 90.0]];
        assert!(warp(&img, huge, 100).is_none(), "8100 pixels from a 400-pixel image");
    }

    #[test]
    fn tall_crops_are_turned_a_quarter_counter_clockwise() {
        // A 2×4 crop whose top-right pixel is marked: after a quarter turn counter-clockwise
        // it is 4×2 and the mark is at the top left.
        let mut tall = RgbImage::new(2, 4);
        tall.put_pixel(1, 0, image::Rgb([255, 0, 0]));
        let (turned, degrees) = stand_up(tall, 1.5);
        assert_eq!((turned.width(), turned.height(), degrees), (4, 2, 90));
        assert_eq!(turned.get_pixel(0, 0).0, [255, 0, 0]);
        let (wide, degrees) = stand_up(RgbImage::new(4, 2), 1.5);
        assert_eq!((wide.width(), degrees), (4, 0));
    }

    #[test]
    fn reading_order_is_rows_then_columns() {
        let mut lines = vec![
            line("c", [0.0, 40.0, 50.0, 55.0], 0),
            line("b", [60.0, 2.0, 90.0, 17.0], 0),
            line("a", [0.0, 0.0, 50.0, 15.0], 0),
        ];
        reading_order(&mut lines);
        assert_eq!(page_text(&lines), "a\nb\nc");
    }

    #[test]
    fn an_upside_down_page_reads_from_the_bottom() {
        let mut lines = vec![
            line("first", [0.0, 40.0, 50.0, 55.0], 180),
            line("second", [0.0, 0.0, 50.0, 15.0], 180),
        ];
        reading_order(&mut lines);
        assert_eq!(page_text(&lines), "first\nsecond");
        // One line of three turned: the page is upright.
        lines.push(line("third", [0.0, 60.0, 50.0, 75.0], 0));
        for l in &mut lines[..1] {
            l.turned = 0;
        }
        reading_order(&mut lines);
        assert!(!upside_down(&lines));
        assert_eq!(lines[2].text, "third");
    }
}
