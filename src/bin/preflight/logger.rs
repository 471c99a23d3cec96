//! A stderr logger for the binary (the library only emits through `log`). Small on purpose:
//! one level, set by `-v` or `PREFLIGHT_LOG`, default `warn`.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let level = match record.level() {
                Level::Error => "error",
                Level::Warn => "warning",
                Level::Info => "info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            eprintln!("preflight: {level}: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger. `-v` flags win over `PREFLIGHT_LOG` (error|warn|info|debug|trace).
pub fn init(verbose: u8) {
    let from_env = std::env::var("PREFLIGHT_LOG").ok().and_then(|v| v.parse::<LevelFilter>().ok());
    let level = match verbose {
        0 => from_env.unwrap_or(LevelFilter::Warn),
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    log::set_max_level(level);
    // Ignored if a logger is already set (only possible in tests).
    let _ = log::set_logger(&Stderr);
}
