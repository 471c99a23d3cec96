//! tract's panics, contained: tract asserts on some malformed graphs that its checks let
//! through, and a model that makes it panic must be refused with a message, not crash the
//! device. Every call into tract that builds or runs a model goes through [`guarded`].

use std::path::Path;

use crate::error::{Error, Result};

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True while this thread runs tract code whose panics preflight catches and reports as an
/// error naming the model: a panic hook can stay quiet for those (the binary's does), and
/// print every other.
pub fn panic_is_caught_here() -> bool {
    GUARDED.with(|g| g.get())
}

/// Installs a panic hook that stays quiet for the panics preflight catches in tract code
/// (reported as one-line errors instead) and prints every other through the previous hook.
/// Panics on tract's worker threads are recognised by their location. Once per process.
pub fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_tract = info.location().is_some_and(|l| l.file().contains("/tract-"));
            if !(in_tract || panic_is_caught_here()) {
                default(info);
            }
        }));
    });
}

/// Runs tract code, turning a panic into an error. tract asserts on some malformed graphs
/// that its checks let through (fuzzing found an out-of-range `Transpose` permutation): such a
/// model is refused with a message, not a crash of the device.
pub(crate) fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let outer = GUARDED.with(|g| g.replace(true));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(outer));
    caught.unwrap_or_else(|payload| {
        Err(Error::model(
            path,
            format!(
                "tract failed on this model ({}): the file is malformed, or hits a tract bug",
                crate::error::panic_message(payload.as_ref())
            ),
        ))
    })
}
