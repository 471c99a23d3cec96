//! Metrics over labelled predictions: detection recall, precision, false-positive rate and
//! count match (by counts, or by IoU-matched boxes), top-1/top-k, character error rate and
//! exact text match.

use crate::model::decode::{iou, Detection, Prediction};
use crate::model::pipeline::page_text;
use crate::suite::spec::{Case, Metric, Scoring};

/// A metric's value with what it counted.
#[derive(Debug)]
pub(crate) struct MetricValue {
    pub(crate) value: f64,
    pub(crate) hits: usize,
    pub(crate) total: usize,
    pub(crate) failures: Vec<String>,
    /// What the report says instead of `hits/total`, for metrics that do not count cases.
    pub(crate) summary: Option<String>,
    /// Figures beside the value (mAP: each class's AP).
    pub(crate) values: Vec<(String, f64)>,
}

/// Computes `m` over labelled predictions; an error when the cases lack the labels it needs.
pub(crate) fn metric(
    m: Metric,
    preds: &[(Case, Prediction)],
    scoring: Scoring,
) -> Result<MetricValue, String> {
    if matches!(m, Metric::Map50 | Metric::Map50To95) {
        return mean_average_precision(m, preds);
    }
    let (k, iou_min) = (scoring.k, scoring.iou);
    let (mut hits, mut total, mut failures) = (0usize, 0usize, Vec::new());
    let mut confusion: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for (case, pred) in preds {
        // A pipeline's lines are a text for text metrics, and boxes for detection metrics.
        let converted;
        let pred = match pred {
            Prediction::Lines { lines } => {
                converted = if matches!(m, Metric::Cer | Metric::TextMatch) {
                    Prediction::Text {
                        text: page_text(lines),
                        confidence: 0.0,
                        char_scores: vec![],
                    }
                } else {
                    let detections = lines
                        .iter()
                        .map(|l| Detection {
                            score: l.confidence,
                            bbox: l.bbox,
                            keypoints: vec![],
                            class: None,
                            label: None,
                        })
                        .collect();
                    Prediction::Detections { detections, max_score: 0.0 }
                };
                &converted
            }
            other => other,
        };
        let outcome: Option<bool> = match (m, pred) {
            (Metric::Top1 | Metric::TopK, Prediction::Classes { classes }) => {
                let label = case
                    .label
                    .as_ref()
                    .ok_or_else(|| format!("case {} has no `label`", case.id))?;
                let depth = if m == Metric::Top1 { 1 } else { k };
                if m == Metric::Top1 {
                    let top = classes.first().map_or_else(|| "(none)".into(), |c| c.label.clone());
                    *confusion.entry((label.clone(), top)).or_default() += 1;
                }
                Some(classes.iter().take(depth).any(|c| &c.label == label))
            }
            (Metric::Top1 | Metric::TopK, _) => {
                return Err(format!("{} needs a classification model", m.name()))
            }
            (Metric::Cer | Metric::TextMatch, Prediction::Text { text, .. }) => {
                let label =
                    case.text.as_ref().ok_or_else(|| format!("case {} has no `text`", case.id))?;
                // Margins around a line can read as spaces; they are not part of the text.
                let (text, label) = (text.trim(), label.trim());
                let errors = edit_distance(text, label);
                if m == Metric::Cer {
                    // Counted per character: errors over the labelled characters.
                    hits += errors;
                    total += label.chars().count().max(1);
                    if errors > 0 {
                        failures.push(case.id.clone());
                    }
                    None
                } else {
                    Some(errors == 0)
                }
            }
            (Metric::Cer | Metric::TextMatch, _) => {
                return Err(format!("{} needs a text recognition (ctc) model", m.name()))
            }
            (_, Prediction::Detections { detections, .. }) => {
                let objects = case
                    .objects
                    .ok_or_else(|| format!("case {} has no `objects` label", case.id))?;
                let found = detections.len();
                if !case.boxes.is_empty() && matches!(m, Metric::Recall | Metric::Precision) {
                    let matched = match_boxes(
                        &case.boxes,
                        detections.iter().map(|d| d.bbox).collect(),
                        iou_min,
                    );
                    let (h, t) = if m == Metric::Recall {
                        (matched, case.boxes.len())
                    } else {
                        (matched, found)
                    };
                    hits += h;
                    total += t;
                    if h < t {
                        failures.push(case.id.clone());
                    }
                    None
                } else {
                    match m {
                        Metric::Recall => (objects > 0).then_some(found > 0),
                        Metric::Precision => (found > 0).then_some(objects > 0),
                        // Counted as "hit" = a false positive, so the rate is hits / total.
                        Metric::FalsePositiveRate => (objects == 0).then_some(found == 0),
                        Metric::CountMatch => Some(found == objects),
                        Metric::Top1
                        | Metric::TopK
                        | Metric::Cer
                        | Metric::TextMatch
                        | Metric::Map50
                        | Metric::Map50To95 => unreachable!("handled above"),
                    }
                }
            }
            (_, _) => return Err(format!("{} needs a detection model", m.name())),
        };
        if let Some(ok) = outcome {
            total += 1;
            if ok {
                hits += 1;
            } else {
                failures.push(case.id.clone());
            }
        }
    }
    if total == 0 {
        return Err(format!("no case in the slice is labelled for {}", m.name()));
    }
    let value = if m == Metric::FalsePositiveRate {
        (total - hits) as f64 / total as f64
    } else {
        hits as f64 / total as f64
    };
    let values = super::confusion::values(&confusion);
    Ok(MetricValue { value, hits, total, failures, summary: None, values })
}

/// A detection's class as labels name it: its label, else its class index, else none (a
/// single-class detector).
fn class_of(d: &Detection) -> String {
    d.label.clone().or_else(|| d.class.map(|c| c.to_string())).unwrap_or_default()
}

/// Keeps only the labelled boxes and detections of `classes`: per-class recall, precision
/// and AP, or mAP over a chosen set of classes.
pub(crate) fn for_classes(
    preds: &[(Case, Prediction)],
    classes: &[String],
) -> Vec<(Case, Prediction)> {
    let kept = |c: &str| classes.iter().any(|k| k == c);
    preds
        .iter()
        .map(|(case, pred)| {
            let mut case = case.clone();
            if !case.box_classes.is_empty() {
                let keep: Vec<bool> = case.box_classes.iter().map(|c| kept(c)).collect();
                let mut k = keep.iter();
                case.boxes.retain(|_| *k.next().unwrap_or(&false));
                case.box_classes.retain(|c| kept(c));
                case.objects = Some(case.boxes.len());
            }
            let pred = match pred {
                Prediction::Detections { detections, max_score } => Prediction::Detections {
                    // A single-class detector's detections (no class, no label) are of any.
                    detections: detections
                        .iter()
                        .filter(|d| (d.class.is_none() && d.label.is_none()) || kept(&class_of(d)))
                        .cloned()
                        .collect(),
                    max_score: *max_score,
                },
                other => other.clone(),
            };
            (case, pred)
        })
        .collect()
}

/// Keeps only the labelled boxes of `size` (per-size recall); detections stay as they are.
pub(crate) fn for_size(
    preds: &[(Case, Prediction)],
    size: crate::suite::spec::BoxSize,
) -> Vec<(Case, Prediction)> {
    use crate::suite::spec::BoxSize;
    preds
        .iter()
        .map(|(case, pred)| {
            let mut case = case.clone();
            let keep: Vec<bool> = case.boxes.iter().map(|b| BoxSize::of(b) == size).collect();
            let mut k = keep.iter();
            case.boxes.retain(|_| *k.next().unwrap_or(&false));
            if !case.box_classes.is_empty() {
                let mut k = keep.iter();
                case.box_classes.retain(|_| *k.next().unwrap_or(&false));
            }
            case.objects = Some(case.boxes.len());
            (case, pred.clone())
        })
        .collect()
}

/// COCO's mAP over the cases' labelled boxes, classes matched by name (`box_classes` against
/// the detections' labels). Boxes without classes, or a detector that names none (a
/// single-class detector), score everything as one class.
fn mean_average_precision(m: Metric, preds: &[(Case, Prediction)]) -> Result<MetricValue, String> {
    use crate::suite::ap::{coco_thresholds, per_class, Found, Truth};
    let mut detections = Vec::new();
    for (image, (_, pred)) in preds.iter().enumerate() {
        let Prediction::Detections { detections: d, .. } = pred else {
            return Err(format!("{} needs a detection model", m.name()));
        };
        detections.extend(d.iter().map(|d| (image, d)));
    }
    let by_class = preds.iter().any(|(c, _)| !c.box_classes.is_empty())
        && detections.iter().any(|(_, d)| d.class.is_some() || d.label.is_some());
    let truths: Vec<Truth> = preds
        .iter()
        .enumerate()
        .flat_map(|(image, (case, _))| {
            case.boxes.iter().enumerate().map(move |(i, b)| Truth {
                image,
                class: if by_class {
                    case.box_classes.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                },
                bbox: b.map(f64::from),
                crowd: false,
            })
        })
        .collect();
    let found: Vec<Found> = detections
        .iter()
        .map(|&(image, d)| Found {
            image,
            class: if by_class { class_of(d) } else { String::new() },
            bbox: d.bbox.map(f64::from),
            score: f64::from(d.score),
        })
        .collect();
    let thresholds = if m == Metric::Map50 { vec![0.5] } else { coco_thresholds() };
    let per = per_class(&truths, &found, &thresholds);
    if per.is_empty() {
        return Err(format!("no case in the slice has a labelled box for {}", m.name()));
    }
    let aps: Vec<(String, f64)> =
        per.into_iter().map(|(c, v)| (c, v.iter().sum::<f64>() / v.len() as f64)).collect();
    let value = aps.iter().map(|(_, v)| v).sum::<f64>() / aps.len() as f64;
    let summary = format!(
        "{} {value:.4} over {} boxes in {} images, {} class{}",
        m.name(),
        truths.len(),
        preds.len(),
        aps.len(),
        if aps.len() == 1 { "" } else { "es" }
    );
    let values = aps
        .into_iter()
        .filter(|(c, _)| !c.is_empty())
        .map(|(c, v)| (format!("ap:{c}"), v))
        .collect();
    Ok(MetricValue {
        value,
        hits: 0,
        total: truths.len(),
        failures: vec![],
        summary: Some(summary),
        values,
    })
}

/// Greedy one-to-one matching of labelled boxes to detections at `iou_min`.
fn match_boxes(labels: &[[f32; 4]], mut detections: Vec<[f32; 4]>, iou_min: f32) -> usize {
    let mut matched = 0;
    for l in labels {
        let best = detections
            .iter()
            .enumerate()
            .map(|(i, d)| (i, iou(l, d)))
            .filter(|&(_, v)| v >= iou_min)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((i, _)) = best {
            detections.swap_remove(i);
            matched += 1;
        }
    }
    matched
}

pub use crate::text::edit_distance;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::decode::Detection;
    use crate::suite::checks::rate_outcome;
    use crate::suite::gate::Status;
    use proptest::prelude::*;

    const S: Scoring = Scoring { score_threshold: None, k: 5, iou: 0.5 };

    fn case(id: &str, objects: usize) -> Case {
        Case {
            id: id.into(),
            path: "x.png".into(),
            tags: vec![],
            objects: Some(objects),
            boxes: vec![],
            box_classes: vec![],
            label: None,
            text: None,
            capture: None,
        }
    }

    fn dets(n: usize) -> Prediction {
        let d = Detection {
            score: 0.9,
            bbox: [0.0, 0.0, 10.0, 10.0],
            keypoints: vec![],
            class: None,
            label: None,
        };
        Prediction::Detections { detections: vec![d; n], max_score: 0.9 }
    }

    #[test]
    fn detection_metrics_from_counts() {
        let preds = vec![
            (case("f1", 1), dets(1)),
            (case("f2", 1), dets(0)),
            (case("n1", 0), dets(2)),
            (case("n2", 0), dets(0)),
        ];
        let r = metric(Metric::Recall, &preds, S).unwrap();
        assert_eq!((r.value, r.failures.clone()), (0.5, vec!["f2".to_string()]));
        let f = metric(Metric::FalsePositiveRate, &preds, S).unwrap();
        assert_eq!((f.value, f.failures.clone()), (0.5, vec!["n1".to_string()]));
        let p = metric(Metric::Precision, &preds, S).unwrap();
        assert_eq!(p.value, 0.5);
        let c = metric(Metric::CountMatch, &preds, S).unwrap();
        assert_eq!((c.value, c.failures.clone()), (0.5, vec!["f2".to_string(), "n1".to_string()]));
    }

    fn lines(texts: &[&str]) -> Prediction {
        let lines = texts
            .iter()
            .enumerate()
            .map(|(i, t)| crate::model::TextLine {
                text: t.to_string(),
                confidence: 0.9,
                score: 0.8,
                bbox: [0.0, 20.0 * i as f32, 100.0, 20.0 * i as f32 + 15.0],
                turned: 0,
            })
            .collect();
        Prediction::Lines { lines }
    }

    #[test]
    fn a_pipelines_lines_are_a_page_of_text_and_a_set_of_boxes() {
        let page = Case { objects: Some(2), ..text_case("page", "first line\nsecond line") };
        let preds =
            vec![(page, lines(&["first line", "second lime"])), (case("cat", 0), lines(&[]))];
        let m = metric(Metric::Cer, &preds[..1], S).unwrap();
        assert_eq!((m.hits, m.total), (1, 22), "the line break counts as a character");
        let swapped = vec![(preds[0].0.clone(), lines(&["second line", "first line"]))];
        assert!(metric(Metric::Cer, &swapped, S).unwrap().hits > 5, "order matters");
        let c = metric(Metric::CountMatch, &preds, S).unwrap();
        assert_eq!((c.hits, c.total), (2, 2));
        let fp = metric(Metric::FalsePositiveRate, &[(case("cat", 0), lines(&["ghost"]))], S);
        assert_eq!(fp.unwrap().value, 1.0);
    }

    fn text_case(id: &str, text: &str) -> Case {
        Case { text: Some(text.into()), objects: None, ..case(id, 0) }
    }

    fn read(text: &str) -> Prediction {
        Prediction::Text { text: text.into(), confidence: 0.9, char_scores: vec![] }
    }

    #[test]
    fn character_error_rate_counts_characters_and_ignores_edge_spaces() {
        let preds = vec![
            (text_case("a", "Region-based"), read(" Reqion-based ")),
            (text_case("b", "segmentation"), read("segmentation")),
            (text_case("c", "word"), read("wordy")),
        ];
        let m = metric(Metric::Cer, &preds, S).unwrap();
        assert_eq!((m.hits, m.total), (2, 28));
        assert!((m.value - 2.0 / 28.0).abs() < 1e-12);
        assert_eq!(m.failures, vec!["a", "c"]);
        let m = metric(Metric::TextMatch, &preds, S).unwrap();
        assert_eq!((m.hits, m.total), (1, 3));
        let o = rate_outcome(Metric::Cer, metric(Metric::Cer, &preds, S).unwrap(), 0.05, "");
        assert_eq!(o.status, Status::Fail);
        assert!(o.detail.contains("2/28 characters wrong"), "{}", o.detail);
        let err = metric(Metric::Cer, &[(case("d", 1), read("x"))], S).unwrap_err();
        assert!(err.contains("no `text`"), "{err}");
    }

    #[test]
    fn labelled_boxes_are_matched_by_iou() {
        let mut c = case("b", 1);
        c.boxes = vec![[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 60.0, 60.0]];
        let r = metric(Metric::Recall, &[(c, dets(1))], S).unwrap();
        assert_eq!((r.hits, r.total), (1, 2));
    }

    #[test]
    fn missing_labels_cannot_be_evaluated() {
        let mut c = case("u", 0);
        c.objects = None;
        assert!(metric(Metric::Recall, &[(c, dets(1))], S).unwrap_err().contains("objects"));
        assert!(metric(Metric::Recall, &[(case("n", 0), dets(0))], S)
            .unwrap_err()
            .contains("no case"));
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("Region", "Reqion"), 1);
        assert_eq!(edit_distance("based segmentation", "basedsegmentation"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("héllo", "hello"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    proptest! {
        #[test]
        fn edit_distance_is_a_metric(a in "[a-c ]{0,12}", b in "[a-c ]{0,12}", c in "[a-c ]{0,12}") {
            prop_assert_eq!(edit_distance(&a, &b), edit_distance(&b, &a));
            prop_assert_eq!(edit_distance(&a, &a), 0);
            prop_assert!(edit_distance(&a, &c) <= edit_distance(&a, &b) + edit_distance(&b, &c));
            prop_assert!(edit_distance(&a, &b) <= a.chars().count().max(b.chars().count()));
        }
    }
}
