//! The C API (feature `capi`): start a runtime from a bundle path, infer on raw pixel buffers,
//! read the verdict, the report and health. Every function returns a status code; the
//! message of the last failure on this thread comes from `preflight_last_error`. No panic
//! crosses the boundary: each body runs under `catch_unwind`.
//!
//! The header `include/preflight.h` is generated from this file by cbindgen.
//!
//! This is the crate's only module with `unsafe` code: every block says why it is sound
//! (`// SAFETY:`), unsafe operations inside `unsafe fn` need blocks of their own, and sizes
//! computed from C arguments are checked (on 32-bit armv7 `stride * height` can overflow).
#![allow(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod lifecycle;
mod results;

pub use lifecycle::{preflight_reload, preflight_start, preflight_start_trusted};
pub use results::{
    preflight_classify, preflight_keypoints, preflight_recheck, PreflightClass, PreflightPoint,
};

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use image::{DynamicImage, GrayImage, RgbImage};

use super::health::HealthStatus;
use super::runtime::Runtime;
use crate::model::decode::Prediction;
use crate::suite::gate::Verdict;

/// Success.
pub const PREFLIGHT_OK: i32 = 0;
/// The self-test ran and the gate refused to serve; `preflight_last_report_json` has why.
pub const PREFLIGHT_REFUSED: i32 = 1;
/// preflight could not run: bundle, suite, model or image problem (see the message).
pub const PREFLIGHT_ERROR: i32 = 2;
/// A null pointer, a bad size or stride, an unknown target.
pub const PREFLIGHT_INVALID_ARGUMENT: i32 = 3;
/// More detections than the caller's array holds; the array holds the best ones.
pub const PREFLIGHT_CAPACITY: i32 = 4;
/// A bug inside preflight was caught before it crossed into C.
pub const PREFLIGHT_PANIC: i32 = 5;

/// Verdict values of `preflight_verdict`.
pub const PREFLIGHT_VERDICT_PASS: i32 = 0;
/// Every critical check holds, a major one does not.
pub const PREFLIGHT_VERDICT_DEGRADED: i32 = 1;
/// A critical check does not hold.
pub const PREFLIGHT_VERDICT_FAIL: i32 = 2;

/// An opaque running model.
pub struct PreflightRuntime {
    inner: Runtime,
}

/// One detection, in the input buffer's pixel coordinates.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PreflightDetection {
    /// Confidence in [0, 1].
    pub score: f32,
    /// Left edge.
    pub x0: f32,
    /// Top edge.
    pub y0: f32,
    /// Right edge.
    pub x1: f32,
    /// Bottom edge.
    pub y1: f32,
}

/// Latency health over the recent window.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct PreflightHealth {
    /// 0 ok, 1 over budget, 2 not enough data yet, 3 too many recent frames outside the
    /// operating envelope.
    pub status: i32,
    /// Latencies in the window.
    pub samples: u32,
    /// Median (ms).
    pub p50_ms: f32,
    /// 99th percentile (ms).
    pub p99_ms: f32,
    /// The p99 budget (ms), or a negative value when the suite sets none.
    pub budget_ms: f32,
    /// Inferences served since start.
    pub served: u64,
    /// Share of recent frames outside the operating envelope, or a negative value when the
    /// model has none.
    pub outside_share: f32,
}

thread_local! {
    static LAST_INSIDE: std::cell::Cell<i32> = const { std::cell::Cell::new(-1) };
    static LAST_KEYPOINTS: RefCell<Vec<Vec<[f32; 2]>>> = const { RefCell::new(Vec::new()) };
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_REPORT: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn set_error(message: impl std::fmt::Display) {
    let text = message.to_string().replace('\0', " ");
    LAST_ERROR.with(|e| *e.borrow_mut() = CString::new(text).unwrap_or_default());
}

/// Runs `f`, turning a panic into `PREFLIGHT_PANIC` with a message.
fn guard(f: impl FnOnce() -> i32) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(panic) => {
            let what = crate::error::panic_message(panic.as_ref());
            set_error(format!("internal error (please report): {what}"));
            PREFLIGHT_PANIC
        }
    }
}

/// # Safety
/// `p` is null or a NUL-terminated string valid for `'a`.
unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, i32> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: not null, and the caller promises a NUL-terminated string that outlives 'a.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map(Some).map_err(|_| {
        set_error(format!("{name}: not valid UTF-8"));
        PREFLIGHT_INVALID_ARGUMENT
    })
}

/// The verdict of the start-up self-test: `PREFLIGHT_VERDICT_*`, or -1 for a null runtime.
///
/// # Safety
/// `rt` is null or a pointer from `preflight_start` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn preflight_verdict(rt: *const PreflightRuntime) -> i32 {
    // SAFETY: the caller promises `rt` is null or a live runtime from `preflight_start`.
    guard(|| match unsafe { rt.as_ref() } {
        None => -1,
        Some(rt) => match rt.inner.report().verdict {
            Verdict::Pass => PREFLIGHT_VERDICT_PASS,
            Verdict::Degraded => PREFLIGHT_VERDICT_DEGRADED,
            Verdict::Fail => PREFLIGHT_VERDICT_FAIL,
        },
    })
}

/// Runs one frame. `pixels` holds `height` rows of `stride` bytes, each row `width` pixels of
/// `channels` bytes (1 gray, 3 RGB). Writes up to `capacity` detections, best first, into
/// `out` and their total count into `*found`; returns `PREFLIGHT_CAPACITY` when there were
/// more than `capacity`.
///
/// # Safety
/// `rt` comes from `preflight_start`; `pixels` points to `height * stride` readable bytes;
/// `out` to `capacity` writable detections (may be null when `capacity` is 0); `found` is
/// valid, and is written on every path (0 unless detections were made).
#[no_mangle]
pub unsafe extern "C" fn preflight_infer(
    rt: *mut PreflightRuntime,
    pixels: *const u8,
    width: u32,
    height: u32,
    stride: u32,
    channels: u32,
    out: *mut PreflightDetection,
    capacity: usize,
    found: *mut usize,
) -> i32 {
    guard(|| {
        LAST_INSIDE.with(|c| c.set(-1));
        let frame = Frame { pixels, width, height, stride, channels };
        // SAFETY: the caller's promises are `frame_call`'s.
        let (rt, image, found) =
            match unsafe { frame_call("preflight_infer", rt, frame, out, capacity, found) } {
                Ok(ok) => ok,
                Err(code) => return code,
            };
        let inference = match rt.inner.infer(&image) {
            Ok(i) => i,
            Err(e) => {
                set_error(e);
                return PREFLIGHT_ERROR;
            }
        };
        if let Some(v) = &inference.envelope {
            LAST_INSIDE.with(|c| c.set(i32::from(v.inside)));
        }
        LAST_KEYPOINTS.with(|k| k.borrow_mut().clear());
        let detections = match inference.prediction {
            Prediction::Detections { detections, .. } => detections,
            _ => {
                set_error("preflight_infer: the bundle is not a detector");
                return PREFLIGHT_ERROR;
            }
        };
        *found = detections.len();
        LAST_KEYPOINTS.with(|k| {
            *k.borrow_mut() = detections.iter().map(|d| d.keypoints.clone()).collect();
        });
        let items = detections.iter().map(|d| {
            let [x0, y0, x1, y1] = d.bbox;
            PreflightDetection { score: d.score, x0, y0, x1, y1 }
        });
        // SAFETY: `out` is not null when `capacity > 0` (checked by `frame_call`) and the
        // caller promises `capacity` writable detections.
        unsafe { write_out(out, capacity, items, "detections", "; the best were kept") }
    })
}

/// Writes the first `capacity` of `items` to `out`; `PREFLIGHT_CAPACITY`, with a message
/// saying how many `what` there were (then `note`), when they did not all fit.
///
/// # Safety
/// When `capacity > 0`, `out` points to `capacity` writable `T`s.
pub(crate) unsafe fn write_out<T>(
    out: *mut T,
    capacity: usize,
    items: impl ExactSizeIterator<Item = T>,
    what: &str,
    note: &str,
) -> i32 {
    let total = items.len();
    for (i, item) in items.take(capacity).enumerate() {
        // SAFETY: `i < capacity`, and the caller promises `capacity` writable `T`s.
        unsafe { out.add(i).write(item) };
    }
    if total > capacity {
        set_error(format!("{total} {what} do not fit {capacity}{note}"));
        return PREFLIGHT_CAPACITY;
    }
    PREFLIGHT_OK
}

/// Whether the last frame `preflight_infer` ran on this thread was inside the operating
/// envelope (the conditions the self-test proved the model under): 1 inside, 0 outside
/// (`preflight_health` counts such frames), -1 when the model has no envelope or the last call
/// did not run a frame.
#[no_mangle]
pub extern "C" fn preflight_last_frame_inside() -> i32 {
    LAST_INSIDE.with(|c| c.get())
}

/// A caller's frame: `height` rows of `stride` bytes at `pixels`, each `width` pixels of
/// `channels` bytes.
pub(crate) struct Frame {
    pub(crate) pixels: *const u8,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) stride: u32,
    pub(crate) channels: u32,
}

/// The checks every frame call makes, in order: `found` (zeroed at once, so the caller reads
/// a defined count whatever happens), the runtime, `out` against `capacity`, the frame.
///
/// # Safety
/// `rt` is null or a live runtime; `found` is null or valid for writes; `frame.pixels` is
/// null or points to `height * stride` readable bytes.
pub(crate) unsafe fn frame_call<'a, T>(
    who: &str,
    rt: *const PreflightRuntime,
    frame: Frame,
    out: *mut T,
    capacity: usize,
    found: *mut usize,
) -> Result<(&'a PreflightRuntime, DynamicImage, &'a mut usize), i32> {
    let invalid = |what: &str| {
        set_error(format!("{who}: {what}"));
        PREFLIGHT_INVALID_ARGUMENT
    };
    // SAFETY: the caller promises `found` is null or valid for writes.
    let found = unsafe { found.as_mut() }.ok_or_else(|| invalid("found is null"))?;
    *found = 0;
    // SAFETY: the caller promises `rt` is null or a live runtime from `preflight_start`.
    let rt = unsafe { rt.as_ref() }.ok_or_else(|| invalid("runtime is null"))?;
    if out.is_null() && capacity > 0 {
        return Err(invalid("out is null but capacity > 0"));
    }
    let Frame { pixels, width, height, stride, channels } = frame;
    // SAFETY: the caller promises `pixels` is null or holds `height * stride` bytes.
    let image = unsafe { decode_frame(who, pixels, width, height, stride, channels) }?;
    Ok((rt, image, found))
}

/// The caller's frame as an image, or the code (with the message set) why it cannot be one.
///
/// # Safety
/// `pixels` is null or points to `height * stride` readable bytes.
unsafe fn decode_frame(
    who: &str,
    pixels: *const u8,
    width: u32,
    height: u32,
    stride: u32,
    channels: u32,
) -> Result<DynamicImage, i32> {
    if pixels.is_null() {
        set_error(format!("{who}: pixels is null"));
        return Err(PREFLIGHT_INVALID_ARGUMENT);
    }
    let Some((row, len)) = frame_layout(width, height, stride, channels) else {
        set_error(format!(
            "{who}: bad frame {width}x{height}, {channels} channels, stride {stride}"
        ));
        return Err(PREFLIGHT_INVALID_ARGUMENT);
    };
    // SAFETY: `pixels` is not null and the caller promises `height * stride` readable bytes;
    // `len` is that product, computed without overflow.
    let data = unsafe { std::slice::from_raw_parts(pixels, len) };
    let packed: Vec<u8> = data.chunks(stride as usize).flat_map(|r| &r[..row]).copied().collect();
    let image = if channels == 3 {
        RgbImage::from_raw(width, height, packed).map(DynamicImage::ImageRgb8)
    } else {
        GrayImage::from_raw(width, height, packed).map(DynamicImage::ImageLuma8)
    };
    image.ok_or_else(|| {
        set_error(format!("{who}: buffer does not match its size"));
        PREFLIGHT_INVALID_ARGUMENT
    })
}

/// The packed row length and the buffer length of a frame, or `None` when the frame is
/// impossible (no pixels, 0 or 2 or 4+ channels, a stride shorter than a row) or its sizes
/// overflow `usize` (32-bit targets).
fn frame_layout(width: u32, height: u32, stride: u32, channels: u32) -> Option<(usize, usize)> {
    if width == 0 || height == 0 || !(channels == 1 || channels == 3) {
        return None;
    }
    let row = usize::try_from(width).ok()?.checked_mul(channels as usize)?;
    let stride = usize::try_from(stride).ok()?;
    if stride < row {
        return None;
    }
    Some((row, stride.checked_mul(usize::try_from(height).ok()?)?))
}

/// Latency health over the recent window.
///
/// # Safety
/// `rt` comes from `preflight_start`; `out` is valid.
#[no_mangle]
pub unsafe extern "C" fn preflight_health(
    rt: *const PreflightRuntime,
    out: *mut PreflightHealth,
) -> i32 {
    guard(|| {
        // SAFETY: the caller promises `rt` null or a live runtime, `out` null or writable.
        let (Some(rt), Some(out)) = (unsafe { rt.as_ref() }, unsafe { out.as_mut() }) else {
            set_error("preflight_health: null argument");
            return PREFLIGHT_INVALID_ARGUMENT;
        };
        let h = rt.inner.health();
        *out = PreflightHealth {
            status: match h.status {
                HealthStatus::Ok => 0,
                HealthStatus::OverBudget => 1,
                HealthStatus::NoData => 2,
                HealthStatus::OutsideEnvelope => 3,
            },
            samples: h.samples as u32,
            p50_ms: h.p50_ms,
            p99_ms: h.p99_ms,
            budget_ms: h.budget_ms.unwrap_or(-1.0),
            served: h.served,
            outside_share: h.outside_share.unwrap_or(-1.0),
        };
        PREFLIGHT_OK
    })
}

/// The start-up report as JSON (`preflight.report/v1`); free with `preflight_string_free`.
/// Null for a null runtime.
///
/// # Safety
/// `rt` is null or comes from `preflight_start`.
#[no_mangle]
pub unsafe extern "C" fn preflight_report_json(rt: *const PreflightRuntime) -> *mut c_char {
    let mut result = ptr::null_mut();
    guard(|| {
        // SAFETY: the caller promises `rt` is null or a live runtime.
        if let Some(rt) = unsafe { rt.as_ref() } {
            result = to_c(rt.inner.report().to_json());
        }
        PREFLIGHT_OK
    });
    result
}

/// The report of the last refused `preflight_start` on this thread, as JSON; null if none.
/// Free with `preflight_string_free`.
#[no_mangle]
pub extern "C" fn preflight_last_report_json() -> *mut c_char {
    LAST_REPORT.with(|r| r.borrow().clone()).map_or(ptr::null_mut(), to_c)
}

/// The message of the last failure on this thread (never null; empty if none). Valid until
/// the next preflight call on this thread.
#[no_mangle]
pub extern "C" fn preflight_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Frees a runtime (null is fine).
///
/// # Safety
/// `rt` is null or comes from `preflight_start` and is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn preflight_free(rt: *mut PreflightRuntime) {
    if !rt.is_null() {
        // SAFETY: `rt` came from `Box::into_raw` in `preflight_start` and is freed once.
        drop(unsafe { Box::from_raw(rt) });
    }
}

/// Frees a string returned by preflight (null is fine).
///
/// # Safety
/// `s` is null or a string from `preflight_report_json` / `preflight_last_report_json`.
#[no_mangle]
pub unsafe extern "C" fn preflight_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from `CString::into_raw` in `to_c` and is freed once.
        drop(unsafe { CString::from_raw(s) });
    }
}

fn to_c(s: String) -> *mut c_char {
    CString::new(s.replace('\0', " ")).map_or(ptr::null_mut(), CString::into_raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_are_checked() {
        assert_eq!(frame_layout(4, 2, 12, 3), Some((12, 24)));
        assert_eq!(frame_layout(4, 2, 16, 1), Some((4, 32)));
        assert_eq!(frame_layout(0, 2, 12, 3), None, "no pixels");
        assert_eq!(frame_layout(4, 0, 12, 3), None, "no rows");
        assert_eq!(frame_layout(4, 2, 11, 3), None, "stride shorter than a row");
        assert_eq!(frame_layout(4, 2, 12, 2), None, "two channels");
        // A row of u32::MAX RGB pixels is longer than any u32 stride.
        assert_eq!(frame_layout(u32::MAX, 1, u32::MAX, 3), None);
        if usize::BITS == 32 {
            // stride * height wraps on 32-bit targets (armv7): refused, not truncated.
            assert_eq!(frame_layout(1 << 16, 1 << 16, 1 << 16, 1), None);
        }
    }
}
