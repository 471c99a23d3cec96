//! DBNet-style post-processing: a per-pixel text probability map → one scored box per region.
//!
//! Binarise at `threshold`, optionally dilate, label 8-connected regions, score each by the
//! mean probability over its own pixels (rapidocr's polygon "slow" score: a slanted line's
//! bounding box is mostly background, so a box mean would sink below the threshold), drop
//! small or weak ones, and grow ("unclip") the survivors' bounding boxes by
//! `area × ratio / perimeter`, as DBNet's labels were shrunk by that offset during training.
//! Each region gives two boxes: the axis-aligned one (what detection metrics compare) and a
//! rotated rectangle along the region's principal axis, grown the same way, whose corners are
//! the detection's four keypoints (top-left, top-right, bottom-right, bottom-left of the text):
//! a slanted line's crop is then the line, not the line and its neighbours' edges.

use super::{output, DecodeError, DecodeOptions, Decoder, Detection, Prediction};
use crate::model::engine::Outputs;
use crate::model::manifest::SegmentationSpec;
use crate::model::preprocess::Transform;

impl Decoder {
    pub(super) fn segment(
        &self,
        outputs: &Outputs,
        spec: &SegmentationSpec,
        transform: &Transform,
        options: DecodeOptions,
    ) -> Result<Prediction, DecodeError> {
        let map = output(outputs, spec.output.as_deref(), "segmentation")?;
        let [_, _, h, w] = map.shape[..] else {
            return Err(
                format!("segmentation map has shape {:?}, not [1, 1, H, W]", map.shape).into()
            );
        };
        if map.data.len() != h * w {
            return Err(
                format!("segmentation map has shape {:?}, not [1, 1, H, W]", map.shape).into()
            );
        }
        let threshold = options.threshold.unwrap_or(spec.box_threshold);
        let max_score = map.data.iter().copied().fold(0.0f32, f32::max);
        let limit = options.top.unwrap_or(spec.max_regions);
        // The map has the input's size (DBNet), so map pixels are input pixels.
        let grown;
        let spec = match options.unclip_ratio {
            Some(ratio) if ratio.is_finite() && ratio >= 0.0 => {
                grown = SegmentationSpec { unclip_ratio: ratio, ..spec.clone() };
                &grown
            }
            _ => spec,
        };
        let detections = regions(&map.data, w, h, spec, threshold)
            .into_iter()
            .take(limit)
            .map(|r| {
                let mut d = Detection::mapped(r.score, r.bbox, transform);
                d.keypoints = r
                    .quad
                    .iter()
                    .map(|&[x, y]| {
                        // Not clamped: a corner past the edge keeps the rectangle's shape (a
                        // crop replicates the border there).
                        let (ox, oy) = (
                            (x - transform.offset_x) / transform.scale_x,
                            (y - transform.offset_y) / transform.scale_y,
                        );
                        [ox, oy]
                    })
                    .collect();
                d
            })
            .collect();
        Ok(Prediction::Detections { detections, max_score })
    }
}

/// A region found in the map, in map pixels (`[x0, y0, x1, y1]`, exclusive ends).
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Mean probability over the region's pixels.
    pub score: f32,
    /// The unclipped box.
    pub bbox: [f32; 4],
    /// The unclipped rotated rectangle: top-left, top-right, bottom-right, bottom-left.
    pub quad: [[f32; 2]; 4],
}

/// Finds the regions of a `width`×`height` row-major probability map, best first.
pub fn regions(
    map: &[f32],
    width: usize,
    height: usize,
    spec: &SegmentationSpec,
    box_threshold: f32,
) -> Vec<Region> {
    debug_assert_eq!(map.len(), width * height);
    let mut fg: Vec<bool> = map.iter().map(|&p| p > spec.threshold).collect();
    if spec.dilate {
        fg = dilate(&fg, width, height);
    }
    let mut found = Vec::new();
    for Component { bbox: [x0, y0, x1, y1], sum, pixels, members } in
        components(&fg, map, width, height)
    {
        let (w, h) = ((x1 - x0) as f32, (y1 - y0) as f32);
        if w.min(h) < spec.min_size {
            continue;
        }
        let score = (sum / pixels as f64) as f32;
        if score < box_threshold {
            continue;
        }
        let grow = w * h * spec.unclip_ratio / (2.0 * (w + h));
        if (w + 2.0 * grow).min(h + 2.0 * grow) < spec.min_size + 2.0 {
            continue;
        }
        let bbox = [
            (x0 as f32 - grow).max(0.0),
            (y0 as f32 - grow).max(0.0),
            (x1 as f32 + grow).min(width as f32),
            (y1 as f32 + grow).min(height as f32),
        ];
        let quad = rotated(&members, width, spec.unclip_ratio);
        found.push(Region { score, bbox, quad });
    }
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found.truncate(spec.max_regions);
    found
}

/// The rectangle along the principal axis of a region's pixels (indices into a `width`-wide
/// map), grown like the axis-aligned box. Its first side is the axis nearer horizontal, so a
/// line standing upright gives a tall rectangle (the pipeline turns such crops).
fn rotated(members: &[usize], width: usize, ratio: f32) -> [[f32; 2]; 4] {
    let n = members.len().max(1) as f64;
    let at = |i: usize| ((i % width) as f64 + 0.5, (i / width) as f64 + 0.5);
    let (mut mx, mut my) = (0.0, 0.0);
    for &i in members {
        let (x, y) = at(i);
        (mx, my) = (mx + x, my + y);
    }
    (mx, my) = (mx / n, my / n);
    let (mut cxx, mut cyy, mut cxy) = (0.0, 0.0, 0.0);
    for &i in members {
        let (x, y) = at(i);
        let (dx, dy) = (x - mx, y - my);
        (cxx, cyy, cxy) = (cxx + dx * dx, cyy + dy * dy, cxy + dx * dy);
    }
    let theta = 0.5 * (2.0 * cxy).atan2(cxx - cyy);
    let (mut ux, mut uy) = (theta.cos(), theta.sin());
    if ux.abs() < uy.abs() {
        (ux, uy) = (-uy, ux);
    }
    if ux < 0.0 {
        (ux, uy) = (-ux, -uy);
    }
    // Perpendicular, pointing down the image.
    let (vx, vy) = (-uy, ux);
    let (mut u0, mut u1, mut v0, mut v1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &i in members {
        let (x, y) = at(i);
        let (u, v) = ((x - mx) * ux + (y - my) * uy, (x - mx) * vx + (y - my) * vy);
        (u0, u1, v0, v1) = (u0.min(u), u1.max(u), v0.min(v), v1.max(v));
    }
    // Pixel centres span one pixel less than the pixels do.
    let (w, h) = (u1 - u0 + 1.0, v1 - v0 + 1.0);
    let grow = w * h * ratio as f64 / (2.0 * (w + h));
    let (cu, cv) = ((u0 + u1) / 2.0, (v0 + v1) / 2.0);
    let (cx, cy) = (mx + cu * ux + cv * vx, my + cu * uy + cv * vy);
    let (hw, hh) = (w / 2.0 + grow, h / 2.0 + grow);
    let corner = |su: f64, sv: f64| {
        [(cx + su * hw * ux + sv * hh * vx) as f32, (cy + su * hw * uy + sv * hh * vy) as f32]
    };
    [corner(-1.0, -1.0), corner(1.0, -1.0), corner(1.0, 1.0), corner(-1.0, 1.0)]
}

/// A pixel is set when it or its left, upper or upper-left neighbour is (a 2×2 kernel).
fn dilate(fg: &[bool], width: usize, height: usize) -> Vec<bool> {
    let mut out = fg.to_vec();
    for y in 0..height {
        for x in 0..width {
            let at = |dx: usize, dy: usize| x >= dx && y >= dy && fg[(y - dy) * width + x - dx];
            out[y * width + x] = at(0, 0) || at(1, 0) || at(0, 1) || at(1, 1);
        }
    }
    out
}

/// An 8-connected foreground component.
#[derive(Debug, PartialEq)]
struct Component {
    /// `[x0, y0, x1, y1]`, exclusive ends.
    bbox: [usize; 4],
    /// Sum of the map over the component's pixels.
    sum: f64,
    /// Number of pixels.
    pixels: usize,
    /// The pixels' indices.
    members: Vec<usize>,
}

/// The 8-connected foreground components, in scan order of their first pixel.
fn components(fg: &[bool], map: &[f32], width: usize, height: usize) -> Vec<Component> {
    let mut seen = vec![false; fg.len()];
    let mut boxes = Vec::new();
    let mut stack = Vec::new();
    for start in 0..fg.len() {
        if !fg[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut sum, mut pixels) = (0.0f64, 0usize);
        let mut members = Vec::new();
        while let Some(i) = stack.pop() {
            members.push(i);
            let (x, y) = (i % width, i / width);
            sum += map[i] as f64;
            pixels += 1;
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            for ny in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                    let j = ny * width + nx;
                    if fg[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        boxes.push(Component { bbox: [x0, y0, x1, y1], sum, pixels, members });
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> SegmentationSpec {
        SegmentationSpec {
            output: None,
            threshold: 0.3,
            box_threshold: 0.5,
            unclip_ratio: 1.6,
            min_size: 3.0,
            dilate: false,
            max_regions: 100,
        }
    }

    fn map_with(width: usize, height: usize, rects: &[([usize; 4], f32)]) -> Vec<f32> {
        let mut m = vec![0.0; width * height];
        for &([x0, y0, x1, y1], v) in rects {
            for y in y0..y1 {
                for x in x0..x1 {
                    m[y * width + x] = v;
                }
            }
        }
        m
    }

    #[test]
    fn two_lines_become_two_unclipped_boxes() {
        let m = map_with(64, 32, &[([8, 5, 48, 11], 0.9), ([8, 20, 28, 26], 0.7)]);
        let r = regions(&m, 64, 32, &spec(), 0.5);
        assert_eq!(r.len(), 2);
        assert!((r[0].score - 0.9).abs() < 1e-6 && (r[1].score - 0.7).abs() < 1e-6);
        // 40×6: grows by 240 × 1.6 / 92 ≈ 4.17 on every side.
        let g = 40.0 * 6.0 * 1.6 / 92.0;
        let want = [8.0 - g, 5.0 - g, 48.0 + g, 11.0 + g];
        for (a, b) in r[0].bbox.iter().zip(want) {
            assert!((a - b).abs() < 1e-4, "{:?} vs {want:?}", r[0].bbox);
        }
    }

    #[test]
    fn a_slanted_line_gets_a_thin_rotated_rectangle() {
        // A band 4 px tall rising 1 px every 4 columns over 80 columns (82.5 px along its
        // slope): its axis-aligned box is 24 px tall, the rotated rectangle about 4 px.
        let mut m = vec![0.0; 100 * 40];
        for x in 10..90 {
            for y in 0..4 {
                m[(30 - x / 4 + y) * 100 + x] = 0.9;
            }
        }
        let mut s = spec();
        s.unclip_ratio = 0.0;
        let r = &regions(&m, 100, 40, &s, 0.5)[0];
        assert!(r.bbox[3] - r.bbox[1] > 20.0, "{:?}", r.bbox);
        let [tl, tr, br, bl] = r.quad;
        let len = |a: [f32; 2], b: [f32; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        assert!((len(tl, tr) - 82.5).abs() < 2.0, "{:?}", r.quad);
        assert!(len(tl, bl) < 6.0, "{:?}", r.quad);
        assert!(tr[1] < tl[1], "the top side rises to the right: {:?}", r.quad);
        assert!(bl[1] > tl[1] && br[0] > bl[0], "corners clockwise from top-left: {:?}", r.quad);
    }

    #[test]
    fn an_upright_line_gives_a_tall_rectangle() {
        let m = map_with(20, 60, &[([7, 5, 13, 55], 0.9)]);
        let mut s = spec();
        s.unclip_ratio = 0.0;
        let [tl, tr, _, bl] = regions(&m, 20, 60, &s, 0.5)[0].quad;
        assert!((tr[0] - tl[0] - 6.0).abs() < 1e-3 && (bl[1] - tl[1] - 50.0).abs() < 1e-3);
        assert!((tl[0] - 7.0).abs() < 1e-3 && (tl[1] - 5.0).abs() < 1e-3, "{tl:?}");
    }

    #[test]
    fn a_slanted_line_scores_by_its_pixels_not_its_box() {
        // A one-pixel-per-column diagonal band 4 px thick: its box is mostly background.
        let mut m = vec![0.0; 40 * 44];
        for x in 0..40 {
            for y in x..x + 4 {
                m[y * 40 + x] = 0.8;
            }
        }
        let r = regions(&m, 40, 44, &spec(), 0.5);
        assert_eq!(r.len(), 1);
        assert!((r[0].score - 0.8).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn weak_small_and_empty_regions_are_dropped() {
        let m = map_with(32, 32, &[([2, 2, 20, 8], 0.4), ([25, 25, 27, 27], 0.99)]);
        assert!(regions(&m, 32, 32, &spec(), 0.5).is_empty(), "mean 0.4 < 0.5; 2 px < 3 px");
        assert_eq!(regions(&m, 32, 32, &spec(), 0.35).len(), 1);
        assert!(regions(&[0.0; 16], 4, 4, &spec(), 0.5).is_empty());
    }

    #[test]
    fn diagonal_neighbours_join_and_dilation_bridges_one_pixel_gaps() {
        let m = map_with(16, 16, &[([0, 0, 5, 5], 0.9), ([5, 5, 10, 10], 0.9)]);
        let fg: Vec<bool> = m.iter().map(|&v| v > 0.3).collect();
        let c = components(&fg, &m, 16, 16);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].bbox, c[0].pixels), ([0, 0, 10, 10], 50));
        let gap = map_with(16, 8, &[([0, 0, 5, 5], 0.9), ([6, 0, 11, 5], 0.9)]);
        let fg: Vec<bool> = gap.iter().map(|&v| v > 0.3).collect();
        assert_eq!(components(&fg, &gap, 16, 8).len(), 2);
        let joined = components(&dilate(&fg, 16, 8), &gap, 16, 8);
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].bbox, [0, 0, 12, 6]);
    }

    proptest! {
        #[test]
        fn boxes_stay_inside_the_map(
            w in 1usize..40, h in 1usize..40,
            values in proptest::collection::vec(0.0f32..1.0, 1600),
            dilate_map in any::<bool>(),
        ) {
            let map = &values[..w * h];
            let mut s = spec();
            s.dilate = dilate_map;
            let r = regions(map, w, h, &s, 0.5);
            for region in &r {
                let [x0, y0, x1, y1] = region.bbox;
                prop_assert!(0.0 <= x0 && x0 < x1 && x1 <= w as f32);
                prop_assert!(0.0 <= y0 && y0 < y1 && y1 <= h as f32);
                prop_assert!(region.score >= 0.5 && region.score <= 1.0);
            }
            prop_assert!(r.windows(2).all(|p| p[0].score >= p[1].score));
        }
    }
}
