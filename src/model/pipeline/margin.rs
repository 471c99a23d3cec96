//! Margins around the lines a detector found: a recogniser reads a line best with some
//! background around its glyphs (it was trained on crops grown well past the ink), but a crop
//! grown blindly on a page takes in the lines above and below. Each line's crop grows by a share
//! of its height on every side, and never past half the gap to a neighbouring line.

/// A line's corners: top-left, top-right, bottom-right, bottom-left (original-image pixels).
pub type Quad = [[f32; 2]; 4];

/// The axis-aligned box `[x0, y0, x1, y1]` as a quad.
pub fn quad_of(bbox: [f32; 4]) -> Quad {
    [[bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]]]
}

/// The smallest axis-aligned box `[x0, y0, x1, y1]` holding `quad`.
pub fn bounds(quad: &Quad) -> [f32; 4] {
    let xs = quad.iter().map(|p| p[0]);
    let ys = quad.iter().map(|p| p[1]);
    [
        xs.clone().fold(f32::INFINITY, f32::min),
        ys.clone().fold(f32::INFINITY, f32::min),
        xs.fold(f32::NEG_INFINITY, f32::max),
        ys.fold(f32::NEG_INFINITY, f32::max),
    ]
}

/// Each quad grown by `share` of its shorter side (the text's height) on every side, each side
/// stopping at half the gap to the nearest other line across it: lines that overlap it
/// horizontally limit its top and bottom, lines that overlap it vertically its left and right
/// (judged on the quads' bounds, so a line turned a few degrees is treated as level). Quads
/// that touch or overlap a neighbour do not grow towards it.
pub fn grow(quads: &[Quad], share: f32) -> Vec<Quad> {
    if share <= 0.0 || !share.is_finite() {
        return quads.to_vec();
    }
    let boxes: Vec<[f32; 4]> = quads.iter().map(bounds).collect();
    quads
        .iter()
        .zip(&boxes)
        .enumerate()
        .map(|(i, (quad, b))| {
            let [tl, tr, _, bl] = *quad;
            let u = [tr[0] - tl[0], tr[1] - tl[1]];
            let v = [bl[0] - tl[0], bl[1] - tl[1]];
            let (lu, lv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
            if !(lu > 0.0 && lv > 0.0 && lu.is_finite() && lv.is_finite()) {
                return *quad;
            }
            let margin = share * lu.min(lv);
            let [mut up, mut down, mut left, mut right] = [margin; 4];
            let (cx, cy) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
            for (j, o) in boxes.iter().enumerate() {
                if j == i {
                    continue;
                }
                let across_x = o[0] < b[2] && b[0] < o[2];
                let across_y = o[1] < b[3] && b[1] < o[3];
                let half = |gap: f32| (gap / 2.0).max(0.0);
                if across_x && (o[1] + o[3]) / 2.0 < cy {
                    up = up.min(half(b[1] - o[3]));
                } else if across_x {
                    down = down.min(half(o[1] - b[3]));
                } else if across_y && (o[0] + o[2]) / 2.0 < cx {
                    left = left.min(half(b[0] - o[2]));
                } else if across_y {
                    right = right.min(half(o[0] - b[2]));
                }
            }
            let (uh, vh) = ([u[0] / lu, u[1] / lu], [v[0] / lv, v[1] / lv]);
            let at = |p: [f32; 2], along_u: f32, along_v: f32| {
                [p[0] + uh[0] * along_u + vh[0] * along_v, p[1] + uh[1] * along_u + vh[1] * along_v]
            };
            [
                at(quad[0], -left, -up),
                at(quad[1], right, -up),
                at(quad[2], right, down),
                at(quad[3], -left, down),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Quad, b: Quad) -> bool {
        a.iter().flatten().zip(b.iter().flatten()).all(|(x, y)| (x - y).abs() < 1e-4)
    }

    #[test]
    fn a_lone_line_grows_by_its_height_share_on_every_side() {
        let q = quad_of([10.0, 20.0, 110.0, 40.0]);
        let g = grow(&[q], 0.25);
        assert!(close(g[0], quad_of([5.0, 15.0, 115.0, 45.0])), "{g:?}");
        assert!(close(grow(&[q], 0.0)[0], q));
    }

    #[test]
    fn lines_of_a_page_stop_at_half_the_gap() {
        // Two lines 20 px tall, 8 px apart: each grows 4 px towards the other, 10 px away.
        let a = quad_of([0.0, 0.0, 200.0, 20.0]);
        let b = quad_of([0.0, 28.0, 150.0, 48.0]);
        let g = grow(&[a, b], 0.5);
        assert!(close(g[0], quad_of([-10.0, -10.0, 210.0, 24.0])), "{:?}", g[0]);
        assert!(close(g[1], quad_of([-10.0, 24.0, 160.0, 58.0])), "{:?}", g[1]);
        // Words side by side on a row limit each other's left and right.
        let c = quad_of([0.0, 0.0, 50.0, 20.0]);
        let d = quad_of([56.0, 2.0, 100.0, 22.0]);
        let g = grow(&[c, d], 0.5);
        assert_eq!(bounds(&g[0])[2], 53.0);
        assert_eq!(bounds(&g[1])[0], 53.0);
        // Overlapping lines do not grow towards each other.
        let e = quad_of([0.0, 15.0, 100.0, 35.0]);
        assert_eq!(bounds(&grow(&[a, e], 0.5)[0])[3], 20.0);
    }

    #[test]
    fn a_turned_line_grows_along_its_own_axes() {
        // A 100×20 line turned 90°: its height runs along x.
        let q = [[0.0, 0.0], [0.0, 100.0], [-20.0, 100.0], [-20.0, 0.0]];
        let g = grow(&[q], 0.1);
        let want = [[2.0, -2.0], [2.0, 102.0], [-22.0, 102.0], [-22.0, -2.0]];
        assert!(close(g[0], want), "{g:?}");
    }

    #[test]
    fn degenerate_quads_are_left_alone() {
        let q = [[1.0, 1.0]; 4];
        assert_eq!(grow(&[q], 0.5), vec![q]);
        let nan = [[f32::NAN, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
        assert!(grow(&[nan], 0.5)[0][0][0].is_nan());
    }
}
