//! Starting a runtime (with or without a trust policy) and reloading it after an install.

use std::ffi::c_char;
use std::ptr;

use super::{
    guard, set_error, str_arg, PreflightRuntime, LAST_REPORT, PREFLIGHT_ERROR,
    PREFLIGHT_INVALID_ARGUMENT, PREFLIGHT_OK, PREFLIGHT_REFUSED,
};
use crate::device::runtime::{Runtime, StartError, StartOptions};
use crate::model::signature::{PublicKey, TrustPolicy};
use crate::target::TargetProfile;

/// Opens the bundle at `bundle_dir`, runs its suite and, when the gate allows, stores a
/// runtime in `*out`. `target` (a profile name or .toml path) may be null. `strict` non-zero
/// refuses a degraded verdict. Returns `PREFLIGHT_OK`, `PREFLIGHT_REFUSED` (report in
/// `preflight_last_report_json`), `PREFLIGHT_ERROR` or `PREFLIGHT_INVALID_ARGUMENT`.
///
/// # Safety
/// `bundle_dir` and `target` are null or NUL-terminated strings; `out` is a valid pointer.
#[no_mangle]
pub unsafe extern "C" fn preflight_start(
    bundle_dir: *const c_char,
    target: *const c_char,
    seed: u64,
    strict: i32,
    out: *mut *mut PreflightRuntime,
) -> i32 {
    // SAFETY: the caller's promises are those of `preflight_start_trusted`, with no keys.
    unsafe { preflight_start_trusted(bundle_dir, target, seed, strict, ptr::null(), out) }
}

/// `preflight_start` under a trust policy: the bundle must be signed (`preflight sign`) by
/// one of `trusted_keys`, public keys one per line as `preflight keygen` writes them
/// (`ed25519:<hex>`), and every file must be as signed; otherwise `PREFLIGHT_ERROR` before
/// anything runs, the message naming the file. The target profile's `trusted_keys` add to
/// them. A null or empty `trusted_keys` asks for no signature (unless the target does).
///
/// # Safety
/// `bundle_dir`, `target` and `trusted_keys` are null or NUL-terminated strings; `out` is a
/// valid pointer.
#[no_mangle]
pub unsafe extern "C" fn preflight_start_trusted(
    bundle_dir: *const c_char,
    target: *const c_char,
    seed: u64,
    strict: i32,
    trusted_keys: *const c_char,
    out: *mut *mut PreflightRuntime,
) -> i32 {
    guard(|| {
        // SAFETY: the caller promises `out` is null or valid for writes.
        let Some(out) = (unsafe { out.as_mut() }) else {
            set_error("preflight_start: out is null");
            return PREFLIGHT_INVALID_ARGUMENT;
        };
        *out = ptr::null_mut();
        // SAFETY: the caller promises a null or NUL-terminated `bundle_dir`.
        let dir = match unsafe { str_arg(bundle_dir, "bundle_dir") } {
            Ok(Some(d)) => d,
            Ok(None) => {
                set_error("preflight_start: bundle_dir is null");
                return PREFLIGHT_INVALID_ARGUMENT;
            }
            Err(code) => return code,
        };
        // SAFETY: the caller promises a null or NUL-terminated `target`.
        let target = match unsafe { str_arg(target, "target") } {
            Ok(None) => None,
            Ok(Some(name)) => match TargetProfile::find(name) {
                Ok(t) => Some(t),
                Err(e) => {
                    set_error(e);
                    return PREFLIGHT_INVALID_ARGUMENT;
                }
            },
            Err(code) => return code,
        };
        // SAFETY: the caller promises a null or NUL-terminated `trusted_keys`.
        let keys = match unsafe { str_arg(trusted_keys, "trusted_keys") } {
            Ok(text) => text.unwrap_or_default(),
            Err(code) => return code,
        };
        let mut trust = TrustPolicy::default();
        for (i, line) in keys.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            match PublicKey::parse(line) {
                Ok(key) => trust.keys.push(key),
                Err(m) => {
                    set_error(format!("trusted_keys: line {}: {m}", i + 1));
                    return PREFLIGHT_INVALID_ARGUMENT;
                }
            }
        }
        let options =
            StartOptions { target, seed, strict: strict != 0, trust, ..Default::default() };
        LAST_REPORT.with(|r| *r.borrow_mut() = None);
        match Runtime::start(dir, &options) {
            Ok(inner) => {
                *out = Box::into_raw(Box::new(PreflightRuntime { inner }));
                PREFLIGHT_OK
            }
            Err(StartError::Refused { report }) => {
                set_error(format!(
                    "{dir}: gate refused to serve: verdict {}",
                    report.verdict.name()
                ));
                LAST_REPORT.with(|r| *r.borrow_mut() = Some(report.to_json()));
                PREFLIGHT_REFUSED
            }
            Err(StartError::Error(e)) => {
                set_error(e);
                PREFLIGHT_ERROR
            }
        }
    })
}

/// Re-opens the directory `rt` was started from — for an install root (`preflight install`),
/// the slot `current` names now — runs its suite and, when the gate allows, serves it from
/// the next frame on. Other threads keep being served by the loaded bundle meanwhile, and
/// whenever the new one is refused or cannot be read. Returns `PREFLIGHT_OK`,
/// `PREFLIGHT_REFUSED` (report in `preflight_last_report_json`), `PREFLIGHT_ERROR` or
/// `PREFLIGHT_INVALID_ARGUMENT`.
///
/// # Safety
/// `rt` is null or a live runtime from `preflight_start`.
#[no_mangle]
pub unsafe extern "C" fn preflight_reload(rt: *mut PreflightRuntime) -> i32 {
    guard(|| {
        // SAFETY: the caller promises `rt` is null or a live runtime from `preflight_start`.
        let Some(rt) = (unsafe { rt.as_ref() }) else {
            set_error("preflight_reload: runtime is null");
            return PREFLIGHT_INVALID_ARGUMENT;
        };
        LAST_REPORT.with(|r| *r.borrow_mut() = None);
        match rt.inner.reload() {
            Ok(()) => PREFLIGHT_OK,
            Err(StartError::Refused { report }) => {
                set_error(format!(
                    "reload refused: verdict {}; the loaded bundle keeps serving",
                    report.verdict.name()
                ));
                LAST_REPORT.with(|r| *r.borrow_mut() = Some(report.to_json()));
                PREFLIGHT_REFUSED
            }
            Err(StartError::Error(e)) => {
                set_error(format!("{e}; the loaded bundle keeps serving"));
                PREFLIGHT_ERROR
            }
        }
    })
}
