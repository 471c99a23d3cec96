//! What C firmware reads besides boxes: classes (with their labels), each detection's
//! keypoints, and the periodic re-check.

use std::ffi::c_char;

use super::{
    frame_call, guard, set_error, write_out, Frame, PreflightRuntime, LAST_KEYPOINTS, LAST_REPORT,
    PREFLIGHT_ERROR, PREFLIGHT_INVALID_ARGUMENT, PREFLIGHT_OK, PREFLIGHT_REFUSED,
};
use crate::model::decode::Prediction;

/// Bytes of a class label kept in [`PreflightClass`], the terminating NUL included.
pub const PREFLIGHT_LABEL_BYTES: usize = 64;

/// One class of a classifier's result.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PreflightClass {
    /// Class index in the model's output.
    pub index: u32,
    /// Score after the activation.
    pub score: f32,
    /// The label (from the bundle's labels file, or `class N`), NUL-terminated UTF-8, cut at
    /// a character boundary to at most 63 bytes.
    pub label: [c_char; PREFLIGHT_LABEL_BYTES],
}

/// A keypoint in the frame's pixel coordinates.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PreflightPoint {
    /// Horizontal position.
    pub x: f32,
    /// Vertical position.
    pub y: f32,
}

fn label_bytes(label: &str) -> [c_char; PREFLIGHT_LABEL_BYTES] {
    let mut out = [0 as c_char; PREFLIGHT_LABEL_BYTES];
    let mut end = label.len().min(PREFLIGHT_LABEL_BYTES - 1);
    while !label.is_char_boundary(end) {
        end -= 1;
    }
    for (o, b) in out.iter_mut().zip(label.as_bytes()[..end].iter()) {
        // A label never holds NUL in the middle: a labels file is text lines.
        *o = *b as c_char;
    }
    out
}

/// Runs one frame through a classifier. The frame is as for `preflight_infer`. Writes up to
/// `capacity` classes, best first, into `out` and how many the model ranked into `*found`;
/// returns `PREFLIGHT_CAPACITY` when there were more (the best were kept).
///
/// # Safety
/// `rt` comes from `preflight_start`; `pixels` points to `height * stride` readable bytes;
/// `out` to `capacity` writable classes (may be null when `capacity` is 0); `found` is valid
/// and is written on every path.
#[no_mangle]
pub unsafe extern "C" fn preflight_classify(
    rt: *mut PreflightRuntime,
    pixels: *const u8,
    width: u32,
    height: u32,
    stride: u32,
    channels: u32,
    out: *mut PreflightClass,
    capacity: usize,
    found: *mut usize,
) -> i32 {
    guard(|| {
        let frame = Frame { pixels, width, height, stride, channels };
        // SAFETY: the caller's promises are `frame_call`'s.
        let (rt, image, found) =
            match unsafe { frame_call("preflight_classify", rt, frame, out, capacity, found) } {
                Ok(ok) => ok,
                Err(code) => return code,
            };
        let classes = match rt.inner.infer(&image).map(|i| i.prediction) {
            Ok(Prediction::Classes { classes }) => classes,
            Ok(_) => {
                set_error("preflight_classify: the bundle is not a classifier");
                return PREFLIGHT_ERROR;
            }
            Err(e) => {
                set_error(e);
                return PREFLIGHT_ERROR;
            }
        };
        *found = classes.len();
        let items = classes.iter().map(|c| PreflightClass {
            index: u32::try_from(c.index).unwrap_or(u32::MAX),
            score: c.score,
            label: label_bytes(&c.label),
        });
        // SAFETY: `out` is not null when `capacity > 0` (checked by `frame_call`) and the
        // caller promises `capacity` writable classes.
        unsafe { write_out(out, capacity, items, "classes", "; the best were kept") }
    })
}

/// The keypoints of detection `index` of the last frame `preflight_infer` ran on this thread
/// (BlazeFace: eyes, nose, mouth, ears). Writes up to `capacity` into `out` and their count
/// into `*found`; `PREFLIGHT_CAPACITY` when there were more, `PREFLIGHT_INVALID_ARGUMENT`
/// when the last frame had no detection `index`.
///
/// # Safety
/// `out` points to `capacity` writable points (may be null when `capacity` is 0); `found` is
/// valid and is written on every path.
#[no_mangle]
pub unsafe extern "C" fn preflight_keypoints(
    index: usize,
    out: *mut PreflightPoint,
    capacity: usize,
    found: *mut usize,
) -> i32 {
    guard(|| {
        // SAFETY: the caller promises `found` is null or valid for writes.
        let Some(found) = (unsafe { found.as_mut() }) else {
            set_error("preflight_keypoints: found is null");
            return PREFLIGHT_INVALID_ARGUMENT;
        };
        *found = 0;
        if out.is_null() && capacity > 0 {
            set_error("preflight_keypoints: out is null but capacity > 0");
            return PREFLIGHT_INVALID_ARGUMENT;
        }
        let points = LAST_KEYPOINTS.with(|k| k.borrow().get(index).cloned());
        let Some(points) = points else {
            set_error(format!("preflight_keypoints: the last frame has no detection {index}"));
            return PREFLIGHT_INVALID_ARGUMENT;
        };
        *found = points.len();
        let items = points.iter().map(|&[x, y]| PreflightPoint { x, y });
        // SAFETY: `out` is not null when `capacity > 0` (checked above) and the caller
        // promises `capacity` writable points.
        unsafe { write_out(out, capacity, items, "keypoints", "") }
    })
}

/// Re-runs the checks the suite lists under `recheck` on the loaded model (say, parity on
/// three cases), while serving goes on. `PREFLIGHT_OK` when their verdict allows serving,
/// `PREFLIGHT_REFUSED` when not; either way the report is in `preflight_last_report_json`.
///
/// # Safety
/// `rt` is null or a live runtime from `preflight_start`.
#[no_mangle]
pub unsafe extern "C" fn preflight_recheck(rt: *const PreflightRuntime) -> i32 {
    guard(|| {
        // SAFETY: the caller promises `rt` is null or a live runtime from `preflight_start`.
        let Some(rt) = (unsafe { rt.as_ref() }) else {
            set_error("preflight_recheck: runtime is null");
            return PREFLIGHT_INVALID_ARGUMENT;
        };
        let report = rt.inner.recheck();
        LAST_REPORT.with(|r| *r.borrow_mut() = Some(report.to_json()));
        if report.serving_allowed {
            PREFLIGHT_OK
        } else {
            set_error(format!("recheck: verdict {}", report.verdict.name()));
            PREFLIGHT_REFUSED
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_cut_at_a_character_boundary_and_terminated() {
        let text = |b: [c_char; PREFLIGHT_LABEL_BYTES]| -> String {
            let bytes: Vec<u8> = b.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
            String::from_utf8(bytes).expect("valid UTF-8")
        };
        assert_eq!(text(label_bytes("180")), "180");
        let long = "é".repeat(40); // 80 bytes
        let cut = text(label_bytes(&long));
        assert_eq!(cut, "é".repeat(31)); // 62 bytes: the 63rd would split a character
        assert_eq!(label_bytes(&"x".repeat(100))[PREFLIGHT_LABEL_BYTES - 1], 0);
    }
}
