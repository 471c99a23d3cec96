//! What a model's outputs say about the decoder it needs, read from the ONNX file alone: a
//! YOLO head (v8/YOLO11 `[1, 4 + C, N]`, v5 `[1, N, 5 + C]`, N the candidates of strides 8,
//! 16, 32 — and 64 for P6 models — at the declared input size) or classification scores
//! (`[1, C]`). `preflight init --cases` writes the decoder from it and `inspect` reports it;
//! anything else is the model author's to name.

use serde::Serialize;

/// A recognised output head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Head {
    /// An Ultralytics-style detection head.
    Yolo {
        /// `v8` (also YOLO11) or `v5`.
        layout: &'static str,
        /// Classes the head scores.
        classes: usize,
        /// Candidate boxes per image.
        candidates: usize,
    },
    /// Class scores.
    Classification {
        /// Classes scored.
        classes: usize,
        /// The graph ends in a Softmax: the scores are probabilities already.
        softmaxed: bool,
    },
}

impl Head {
    /// How many classes the head scores.
    pub fn classes(&self) -> usize {
        match self {
            Head::Yolo { classes, .. } | Head::Classification { classes, .. } => *classes,
        }
    }

    /// One line for `inspect`.
    pub fn describe(&self) -> String {
        match self {
            // A head named rather than read has no known candidate count (0).
            Head::Yolo { layout, classes, candidates: 0 } => format!(
                "YOLO {layout} head: {classes} classes ([output] kind = \"yolo\", layout = \"{layout}\")"
            ),
            Head::Yolo { layout, classes, candidates } => format!(
                "YOLO {layout} head: {classes} classes, {candidates} candidates ([output] kind = \"yolo\", layout = \"{layout}\")"
            ),
            Head::Classification { classes, softmaxed } => format!(
                "classification scores: {classes} classes{} ([output] kind = \"classification\")",
                if *softmaxed { ", already softmaxed" } else { "" }
            ),
        }
    }
}

/// The head of a model with one input of `input` dimensions (NCHW or NHWC, numbers or
/// symbols) and one output of `output` dimensions; `softmaxed` when a Softmax produces it.
pub fn recognise(input: &[String], output: &[String], softmaxed: bool) -> Option<Head> {
    let dims: Vec<Option<usize>> = output.iter().map(|d| d.parse().ok()).collect();
    let batch_ok = |d: &Option<usize>| d.is_none_or(|n| n == 1);
    match dims.as_slice() {
        [b, Some(a), Some(n)] if batch_ok(b) => {
            let cells = grid_cells(input)?;
            if *a > 4 && cells.contains(n) && a < n {
                return Some(Head::Yolo { layout: "v8", classes: a - 4, candidates: *n });
            }
            // v5: candidates first (three anchors a cell), then the box, objectness, classes.
            if *n > 5 && cells.iter().any(|c| 3 * c == *a) {
                return Some(Head::Yolo { layout: "v5", classes: n - 5, candidates: *a });
            }
            None
        }
        [b, Some(c)] | [b, Some(c), Some(1), Some(1)] if batch_ok(b) && *c >= 2 => {
            Some(Head::Classification { classes: *c, softmaxed })
        }
        _ => None,
    }
}

/// Candidates a YOLO head has at this input size: the cells of strides 8, 16, 32, and of
/// 8…64 for P6 models (sizes rounded up, as a padded feature map is).
fn grid_cells(input: &[String]) -> Option<Vec<usize>> {
    // The batch may be symbolic; the height, width and channels must be numbers.
    let n: Vec<Option<usize>> = input.iter().map(|d| d.parse().ok()).collect();
    let (h, w) = match n.as_slice() {
        [_, Some(1 | 3), Some(h), Some(w)] => (*h, *w),
        [_, Some(h), Some(w), Some(1 | 3)] => (*h, *w),
        _ => return None,
    };
    let cells = |strides: &[usize]| -> usize {
        strides.iter().map(|s| h.div_ceil(*s) * w.div_ceil(*s)).sum()
    };
    Some(vec![cells(&[8, 16, 32]), cells(&[8, 16, 32, 64])])
}

/// The class names an Ultralytics export records in its metadata (`names`:
/// `{0: 'person', 1: 'bicycle', …}`), in class order; empty when the value is not that.
pub fn ultralytics_names(value: &str) -> Vec<String> {
    let body = value.trim().trim_start_matches('{').trim_end_matches('}');
    let mut names = Vec::new();
    let mut rest = body;
    while let Some(colon) = rest.find(':') {
        let Ok(index) = rest[..colon].trim().trim_start_matches(',').trim().parse::<usize>() else {
            return vec![];
        };
        let after = rest[colon + 1..].trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            return vec![];
        };
        let Some(end) = after[1..].find(quote) else {
            return vec![];
        };
        if index != names.len() {
            return vec![];
        }
        names.push(after[1..1 + end].to_string());
        rest = &after[1 + end + 1..];
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(d: &[&str]) -> Vec<String> {
        d.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn yolo_heads_are_told_by_their_candidate_count() {
        let input = dims(&["1", "3", "640", "640"]);
        assert_eq!(
            recognise(&input, &dims(&["1", "84", "8400"]), false),
            Some(Head::Yolo { layout: "v8", classes: 80, candidates: 8400 })
        );
        assert_eq!(
            recognise(&input, &dims(&["1", "25200", "85"]), false),
            Some(Head::Yolo { layout: "v5", classes: 80, candidates: 25200 })
        );
        // 320x320: 1600 + 400 + 100 candidates.
        let small = dims(&["batch", "3", "320", "320"]);
        assert_eq!(
            recognise(&small, &dims(&["batch", "22", "2100"]), false),
            Some(Head::Yolo { layout: "v8", classes: 18, candidates: 2100 })
        );
        // A rank-3 output whose length is not a YOLO grid's is not guessed.
        assert_eq!(recognise(&input, &dims(&["1", "84", "8000"]), false), None);
        // An open input size leaves the grid unknown.
        assert_eq!(
            recognise(&dims(&["1", "3", "h", "w"]), &dims(&["1", "84", "8400"]), false),
            None
        );
    }

    #[test]
    fn class_scores_are_classification() {
        let input = dims(&["1", "3", "224", "224"]);
        assert_eq!(
            recognise(&input, &dims(&["1", "4"]), true),
            Some(Head::Classification { classes: 4, softmaxed: true })
        );
        assert_eq!(recognise(&input, &dims(&["1", "1"]), false), None);
        assert_eq!(recognise(&input, &dims(&["1", "1", "64", "64"]), false), None);
    }

    #[test]
    fn ultralytics_names_read_in_order() {
        assert_eq!(
            ultralytics_names("{0: 'person', 1: 'bicycle', 2: \"teddy's bear\"}"),
            ["person", "bicycle", "teddy's bear"]
        );
        assert!(ultralytics_names("{1: 'person'}").is_empty());
        assert!(ultralytics_names("person,bicycle").is_empty());
        assert!(ultralytics_names("").is_empty());
    }
}
