//! Average precision as COCO defines it (pycocotools' `COCOeval` for boxes, area range "all",
//! at most 100 detections per image and class): per class, detections of every image ranked by
//! score and matched greedily to the unmatched labelled box of highest IoU at or above the
//! threshold; the precision/recall curve made monotone and read at 101 recall points; the mean
//! over classes that have labelled boxes (and over IoU 0.50:0.05:0.95 for `map50_95`).
//! Crowd boxes are matched as pycocotools matches them: IoU over the detection's own area, any
//! number of detections each, and a detection matched to one is neither right nor wrong.

use std::collections::BTreeMap;

/// A labelled box of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// The image's index.
    pub image: usize,
    /// The class's name.
    pub class: String,
    /// `[x0, y0, x1, y1]`.
    pub bbox: [f64; 4],
    /// A crowd region (COCO's `iscrowd`): ignored, never missed.
    pub crowd: bool,
}

/// A detection in one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The image's index.
    pub image: usize,
    /// The class's name.
    pub class: String,
    /// `[x0, y0, x1, y1]`.
    pub bbox: [f64; 4],
    /// Confidence.
    pub score: f64,
}

/// COCO's ten IoU thresholds, 0.50 to 0.95.
pub fn coco_thresholds() -> Vec<f64> {
    // Exactly numpy's linspace(.5, .95, 10), as pycocotools makes them: start + i * step, the
    // step from the float difference (the ninth is 0.8999999999999999), the last the stop.
    let step = (0.95 - 0.5) / 9.0;
    (0..10).map(|i| if i == 9 { 0.95 } else { 0.5 + i as f64 * step }).collect()
}

/// Detections per image and class that count (COCO's `maxDets` for the headline AP).
pub const MAX_DETECTIONS: usize = 100;

/// Average precision per class (classes with at least one labelled, non-crowd box), at each of
/// `thresholds`: `class → [AP at each threshold]`.
pub fn per_class(
    truths: &[Truth],
    found: &[Found],
    thresholds: &[f64],
) -> BTreeMap<String, Vec<f64>> {
    let mut classes: BTreeMap<&str, (Vec<&Truth>, Vec<&Found>)> = BTreeMap::new();
    for t in truths {
        classes.entry(&t.class).or_default().0.push(t);
    }
    for f in found {
        classes.entry(&f.class).or_default().1.push(f);
    }
    let mut out = BTreeMap::new();
    for (class, (truths, found)) in classes {
        let positives = truths.iter().filter(|t| !t.crowd).count();
        if positives == 0 {
            continue;
        }
        let aps = thresholds.iter().map(|&t| class_ap(&truths, &found, t, positives)).collect();
        out.insert(class.to_string(), aps);
    }
    out
}

/// The mean over classes of their APs averaged over `thresholds`; `None` without any class
/// that has a labelled box.
pub fn mean_ap(truths: &[Truth], found: &[Found], thresholds: &[f64]) -> Option<f64> {
    let per = per_class(truths, found, thresholds);
    let all: Vec<f64> = per.values().flatten().copied().collect();
    (!all.is_empty()).then(|| all.iter().sum::<f64>() / all.len() as f64)
}

fn area(b: &[f64; 4]) -> f64 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// IoU, or for a crowd box the intersection over the detection's area (pycocotools' `iou`).
fn overlap(d: &[f64; 4], t: &Truth) -> f64 {
    let g = &t.bbox;
    let w = (d[2].min(g[2]) - d[0].max(g[0])).max(0.0);
    let h = (d[3].min(g[3]) - d[1].max(g[1])).max(0.0);
    let inter = w * h;
    let union = if t.crowd { area(d) } else { area(d) + area(g) - inter };
    if union > 0.0 {
        inter / union
    } else {
        0.0
    }
}

/// One class's AP at one IoU threshold.
fn class_ap(truths: &[&Truth], found: &[&Found], threshold: f64, positives: usize) -> f64 {
    let mut images: BTreeMap<usize, (Vec<&Truth>, Vec<&Found>)> = BTreeMap::new();
    for t in truths {
        images.entry(t.image).or_default().0.push(t);
    }
    for f in found {
        images.entry(f.image).or_default().1.push(f);
    }
    // (score, true positive, ignored) of every counted detection, images in order.
    let mut ranked: Vec<(f64, bool, bool)> = Vec::new();
    for (_, (mut gts, mut dts)) in images {
        // Ignored (crowd) boxes last, so a detection prefers a real box (stable sorts, as
        // numpy's mergesort).
        gts.sort_by_key(|t| t.crowd);
        dts.sort_by(|a, b| b.score.total_cmp(&a.score));
        dts.truncate(MAX_DETECTIONS);
        let mut taken = vec![false; gts.len()];
        for d in dts {
            let mut best: Option<usize> = None;
            let mut floor = threshold.min(1.0 - 1e-10);
            for (g, t) in gts.iter().enumerate() {
                if taken[g] && !t.crowd {
                    continue;
                }
                // Past the real boxes once one matched: crowd boxes cannot beat it.
                if best.is_some_and(|b| !gts[b].crowd) && t.crowd {
                    break;
                }
                let iou = overlap(&d.bbox, t);
                if iou < floor {
                    continue;
                }
                floor = iou;
                best = Some(g);
            }
            match best {
                Some(g) => {
                    taken[g] = true;
                    ranked.push((d.score, !gts[g].crowd, gts[g].crowd));
                }
                None => ranked.push((d.score, false, false)),
            }
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0.0f64, 0.0f64);
    let mut recall = Vec::with_capacity(ranked.len());
    let mut precision = Vec::with_capacity(ranked.len());
    for &(_, hit, ignored) in &ranked {
        if ignored {
            // Neither right nor wrong: the curve does not move (pycocotools keeps the point).
        } else if hit {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        recall.push(tp / positives as f64);
        precision.push(tp / (tp + fp + f64::EPSILON));
    }
    // The precision envelope: at each rank the best precision at any later rank.
    for i in (1..precision.len()).rev() {
        if precision[i] > precision[i - 1] {
            precision[i - 1] = precision[i];
        }
    }
    let points = 101;
    let mut sum = 0.0;
    for r in 0..points {
        // numpy's linspace(0, 1, 101) to the bit (i * 0.01, the last exactly 1), searched on
        // the left: a recall of exactly 0.07 falls short of the level 7 * 0.01.
        let level = if r == points - 1 { 1.0 } else { r as f64 * 0.01 };
        let at = recall.partition_point(|&v| v < level);
        if at < precision.len() {
            sum += precision[at];
        }
    }
    sum / points as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth(image: usize, bbox: [f64; 4]) -> Truth {
        Truth { image, class: "a".into(), bbox, crowd: false }
    }

    fn found(image: usize, bbox: [f64; 4], score: f64) -> Found {
        Found { image, class: "a".into(), bbox, score }
    }

    #[test]
    fn perfect_detections_score_one_and_none_score_zero() {
        let t = vec![truth(0, [0.0, 0.0, 10.0, 10.0]), truth(1, [5.0, 5.0, 20.0, 20.0])];
        let f = vec![found(0, [0.0, 0.0, 10.0, 10.0], 0.9), found(1, [5.0, 5.0, 20.0, 20.0], 0.8)];
        assert_eq!(mean_ap(&t, &f, &coco_thresholds()), Some(1.0));
        assert_eq!(mean_ap(&t, &[], &[0.5]), Some(0.0));
        assert_eq!(mean_ap(&[], &f, &[0.5]), None, "no labelled box, no AP");
    }

    #[test]
    fn a_false_positive_ranked_first_costs_the_points_before_it() {
        // Ranks: wrong (0.9), right (0.8). Recall 0.5 reached at precision 0.5; the envelope
        // holds 0.5 from recall 0 to 0.5, then nothing: 51 points of 101 at 0.5.
        let t = vec![truth(0, [0.0, 0.0, 10.0, 10.0]), truth(0, [20.0, 0.0, 30.0, 10.0])];
        let f =
            vec![found(0, [50.0, 50.0, 60.0, 60.0], 0.9), found(0, [0.0, 0.0, 10.0, 10.0], 0.8)];
        let ap = mean_ap(&t, &f, &[0.5]).unwrap();
        assert!((ap - 0.5 * 51.0 / 101.0).abs() < 1e-12, "{ap}");
    }

    #[test]
    fn one_truth_matches_one_detection_and_crowds_are_ignored() {
        let t = vec![truth(0, [0.0, 0.0, 10.0, 10.0])];
        // A duplicate is a false positive, ranked after the hit: AP stays 1.
        let f = vec![found(0, [0.0, 0.0, 10.0, 10.0], 0.9), found(0, [0.0, 0.0, 10.0, 9.0], 0.8)];
        // (One hit is a precision of 1 / (1 + ε), as pycocotools computes it.)
        let one = |ap: Option<f64>| ap.is_some_and(|v| (v - 1.0).abs() < 1e-12);
        assert!(one(mean_ap(&t, &f, &[0.5])));
        // Ranked before the hit, a detection inside a crowd region costs nothing.
        let mut t = t;
        t.push(Truth { crowd: true, ..truth(0, [100.0, 100.0, 200.0, 200.0]) });
        let f = vec![found(0, [120.0, 120.0, 130.0, 130.0], 0.95), f[0].clone()];
        assert!(one(mean_ap(&t, &f, &[0.5])));
    }

    /// COCO's box `[x, y, w, h]` as corners.
    fn corners(v: &serde_json::Value) -> [f64; 4] {
        let b: Vec<f64> = v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        [b[0], b[1], b[0] + b[2], b[1] + b[3]]
    }

    #[test]
    fn equals_pycocotools_on_the_committed_fixture() {
        // tools/coco_reference.py runs pycocotools 2.0.11 (pinned in the cases' venv) on the
        // same files; CI builds the venv before the tests, elsewhere the script builds it.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/coco-map");
        let read = |name: &str| -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(format!("{dir}/{name}")).unwrap()).unwrap()
        };
        let (gt, dt) = (read("ground_truth.json"), read("detections.json"));
        let names: BTreeMap<i64, String> = gt["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_i64().unwrap(), c["name"].as_str().unwrap().to_string()))
            .collect();
        let class = |v: &serde_json::Value| names[&v["category_id"].as_i64().unwrap()].clone();
        let image = |v: &serde_json::Value| v["image_id"].as_u64().unwrap() as usize;
        let truths: Vec<Truth> = gt["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| Truth {
                image: image(a),
                class: class(a),
                bbox: corners(&a["bbox"]),
                crowd: a["iscrowd"].as_i64() == Some(1),
            })
            .collect();
        let found: Vec<Found> = dt
            .as_array()
            .unwrap()
            .iter()
            .map(|d| Found {
                image: image(d),
                class: class(d),
                bbox: corners(&d["bbox"]),
                score: d["score"].as_f64().unwrap(),
            })
            .collect();
        let out = std::process::Command::new("python3")
            .args(["tools/coco_reference.py", "eval"])
            .arg(format!("{dir}/ground_truth.json"))
            .arg(format!("{dir}/detections.json"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("python3 runs tools/coco_reference.py");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let want: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ours50 = mean_ap(&truths, &found, &[0.5]).unwrap();
        let ours = mean_ap(&truths, &found, &coco_thresholds()).unwrap();
        // The issue asks for 1e-4; on this fixture the two agree to 1e-12 (2026-12-07).
        let close = |a: f64, b: &serde_json::Value| (a - b.as_f64().unwrap()).abs() < 1e-4;
        assert!(close(ours50, &want["map50"]), "map50 {ours50} vs pycocotools {}", want["map50"]);
        assert!(close(ours, &want["map50_95"]), "map50_95 {ours} vs {}", want["map50_95"]);
        let per = per_class(&truths, &found, &coco_thresholds());
        let theirs = want["per_class"].as_object().unwrap();
        assert_eq!(per.len(), theirs.len(), "{per:?} vs {theirs:?}");
        for (name, aps) in &per {
            let mean = aps.iter().sum::<f64>() / aps.len() as f64;
            assert!(close(mean, &theirs[name]), "{name}: {mean} vs {}", theirs[name]);
        }
        assert!(ours50 > 0.1 && ours50 < 0.9, "the fixture exercises misses and hits: {ours50}");
    }

    #[test]
    fn thresholds_are_cocos() {
        let t = coco_thresholds();
        assert_eq!(t.len(), 10);
        assert!((t[0] - 0.5).abs() < 1e-15 && (t[9] - 0.95).abs() < 1e-12);
    }
}
