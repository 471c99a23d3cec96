//! Validation of `bundle.toml`: every value checked before anything is loaded, each error
//! naming its key.

use std::path::Path;

use super::manifest::*;
use crate::error::{Error, Result};

/// Refuses a manifest with an impossible value, naming the key.
pub(crate) fn validate(path: &Path, m: &Manifest) -> Result<()> {
    let bad = |key: &str, msg: String| Err(Error::config(path, key, msg));
    if m.suite.is_some() && m.suites.as_ref().is_some_and(|s| s.boot.is_some()) {
        return bad(
            "suites.boot",
            "the boot suite is named twice: keep `[suites] boot`, drop `[suite]`".into(),
        );
    }
    let sha = &m.model.sha256;
    if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return bad("model.sha256", format!("expected 64 hex digits, got {sha:?}"));
    }
    let input = &m.input;
    if input.shape.len() != 4 {
        return bad("input.shape", format!("expected 4 dimensions, got {:?}", input.shape));
    }
    if input.shape[0] != 1 {
        return bad("input.shape", format!("batch must be 1, got {}", input.shape[0]));
    }
    if input.shape.contains(&0) {
        return bad("input.shape", format!("dimensions must be positive, got {:?}", input.shape));
    }
    let channels = match input.layout {
        Layout::Nchw => input.shape[1],
        Layout::Nhwc => input.shape[3],
    };
    if channels != input.color.channels() {
        return bad(
            "input.shape",
            format!(
                "{channels} channels, but color {:?} has {}",
                input.color,
                input.color.channels()
            ),
        );
    }
    if !(input.scale.is_finite() && input.scale > 0.0) {
        return bad("input.scale", format!("must be a positive number, got {}", input.scale));
    }
    for (key, v) in [("input.mean", &input.mean), ("input.std", &input.std)] {
        if v.len() != channels {
            return bad(key, format!("expected {channels} values, got {}", v.len()));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return bad(key, "values must be finite".into());
        }
    }
    if input.std.contains(&0.0) {
        return bad("input.std", "values must be non-zero".into());
    }
    if !(0.0..=255.0).contains(&input.pad) {
        return bad("input.pad", format!("must be within 0..=255, got {}", input.pad));
    }
    if input.multiple == 0 {
        return bad("input.multiple", "must be at least 1".into());
    }
    if let Some(max) = input.max_width {
        if input.resize != ResizeMode::PadRight {
            return bad("input.max_width", "only applies to resize = \"pad-right\"".into());
        }
        if max < input.size().1 {
            return bad(
                "input.max_width",
                format!("{max} is below the shape's width {}", input.size().1),
            );
        }
    }
    limits(path, m)?;
    match &m.output {
        OutputSpec::Classification(c) => {
            if c.top_k == 0 {
                return bad("output.top_k", "must be at least 1".into());
            }
        }
        OutputSpec::Detection(d) => {
            let layers = d.scores.len();
            if layers == 0 {
                return bad("output.scores", "at least one anchor layer is needed".into());
            }
            for (key, n) in [
                ("output.boxes", d.boxes.len()),
                ("output.strides", d.strides.len()),
                ("output.anchors_per_cell", d.anchors_per_cell.len()),
            ] {
                if n != layers {
                    return bad(key, format!("{n} entries, but output.scores has {layers}"));
                }
            }
            if d.strides.contains(&0) || d.anchors_per_cell.contains(&0) {
                return bad(
                    "output.strides",
                    "strides and anchors per cell must be positive".into(),
                );
            }
            detector(path, d.max_detections, d.score_threshold, d.iou_threshold)?;
            if !(d.logit_clamp.is_finite() && d.logit_clamp > 0.0) {
                return bad(
                    "output.logit_clamp",
                    format!("must be positive, got {}", d.logit_clamp),
                );
            }
        }
        OutputSpec::Yolo(y) => {
            detector(path, y.max_detections, y.score_threshold, y.iou_threshold)?
        }
        OutputSpec::Gfl(g) => {
            let levels = g.scores.len();
            if levels == 0 {
                return bad("output.scores", "at least one level is needed".into());
            }
            for (key, n) in [("output.boxes", g.boxes.len()), ("output.strides", g.strides.len())] {
                if n != levels {
                    return bad(key, format!("{n} entries, but output.scores has {levels}"));
                }
            }
            if g.strides.contains(&0) || g.level_top_k == 0 {
                return bad("output.strides", "strides and level_top_k must be positive".into());
            }
            detector(path, g.max_detections, g.score_threshold, g.iou_threshold)?
        }
        OutputSpec::Segmentation(g) => {
            for (key, v) in
                [("output.threshold", g.threshold), ("output.box_threshold", g.box_threshold)]
            {
                if !(0.0..=1.0).contains(&v) {
                    return bad(key, format!("must be within 0..=1, got {v}"));
                }
            }
            if !(g.unclip_ratio.is_finite() && g.unclip_ratio >= 0.0) {
                return bad("output.unclip_ratio", format!("must be ≥ 0, got {}", g.unclip_ratio));
            }
            if !(g.min_size.is_finite() && g.min_size >= 0.0) {
                return bad("output.min_size", format!("must be ≥ 0, got {}", g.min_size));
            }
        }
        OutputSpec::Ctc(c) => {
            if c.dictionary.is_some() == c.dictionary_metadata.is_some() {
                return bad(
                    "output",
                    "give exactly one of `dictionary` (a file) and `dictionary_metadata`".into(),
                );
            }
        }
        OutputSpec::Raw(_) => {}
    }
    Ok(())
}

/// What every detector's output section shares: room for at least one detection, and its
/// score and IoU thresholds within 0..=1.
fn detector(path: &Path, max_detections: usize, score: f32, iou: f32) -> Result<()> {
    if max_detections == 0 {
        let msg = "must be at least 1: the detector could never report anything";
        return Err(Error::config(path, "output.max_detections", msg.to_string()));
    }
    for (key, v) in [("output.score_threshold", score), ("output.iou_threshold", iou)] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::config(path, key, format!("must be within 0..=1, got {v}")));
        }
    }
    Ok(())
}

/// The resource limits a manifest sets or must stay within: a value that passes here cannot
/// make preflight allocate more than the budgets say.
fn limits(path: &Path, m: &Manifest) -> Result<()> {
    let bad = |key: &str, msg: String| Err(Error::config(path, key, msg));
    let budget_mb = m.model.max_tensor_mb.unwrap_or(DEFAULT_MAX_TENSOR_MB);
    if budget_mb == 0 || budget_mb > MAX_TENSOR_MB_CEILING {
        return bad(
            "model.max_tensor_mb",
            format!("must be within 1..={MAX_TENSOR_MB_CEILING}, got {budget_mb}"),
        );
    }
    if let Some(px) = m.input.max_image_pixels {
        if px == 0 || px > MAX_IMAGE_PIXELS_CEILING {
            return bad(
                "input.max_image_pixels",
                format!("must be within 1..={MAX_IMAGE_PIXELS_CEILING}, got {px}"),
            );
        }
    }
    let input = &m.input;
    if let Some(f) = input.crop_fraction {
        if !(f > 0.1 && f <= 1.0) || input.resize != ResizeMode::CenterCrop {
            return bad(
                "input.crop_fraction",
                format!("{f}: must be within 0.1..=1, with resize = \"center-crop\""),
            );
        }
    }
    let (h, w) = input.size();
    if input.size_varies() && input.multiple > h.max(w) {
        return bad(
            "input.multiple",
            format!("{} is larger than the input's longer side ({})", input.multiple, h.max(w)),
        );
    }
    // The largest tensor the resize rule can make, in f32s.
    let (key, height, width) = match input.max_width {
        Some(max) => ("input.max_width", h, max),
        None => ("input.shape", h, w),
    };
    let bytes = [height, width, input.color.channels(), 4]
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    if bytes > budget_mb << 20 {
        return bad(
            key,
            format!(
                "a {height}x{width} input tensor takes {} MiB, over the tensor budget of \
                 {budget_mb} MiB (model.max_tensor_mb)",
                bytes >> 20
            ),
        );
    }
    Ok(())
}
