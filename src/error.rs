//! The library's error type: one variant per stage of the data flow, each carrying the file
//! it concerns so the one-line message a user sees names both the file and the problem.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop preflight from producing a result.
///
/// A behaviour check that does not hold is *not* an error: it is a failed check in the
/// report. Errors are for inputs preflight cannot work with at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {cause}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying I/O error. Not a `source`: the message already includes it, and
        /// chained printing (`{:#}`) would repeat it.
        cause: std::io::Error,
    },
    /// A manifest, suite or target file is malformed; `key` is the dotted key path.
    #[error("{}: {key}: {message}", path.display())]
    Config {
        /// The TOML file.
        path: PathBuf,
        /// Dotted path of the offending key (`input.shape`, `checks[2].threshold`, ...).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file's content does not match the sha256 the bundle declares for it.
    #[error("{}: sha256 mismatch: manifest says {expected}, file has {actual}", path.display())]
    HashMismatch {
        /// The file whose hash differs.
        path: PathBuf,
        /// Hash declared in the manifest.
        expected: String,
        /// Hash of the bytes on disk.
        actual: String,
    },
    /// The model file could not be parsed, built or optimized.
    #[error("{}: {message}", path.display())]
    Model {
        /// The model file.
        path: PathBuf,
        /// What went wrong, as one line.
        message: String,
    },
    /// An image could not be read or decoded.
    #[error("{}: cannot decode image: {message}", path.display())]
    Image {
        /// The image file (or `<memory>` for in-memory buffers).
        path: PathBuf,
        /// The decoder's reason.
        message: String,
    },
    /// A tensor given to the model does not have the shape the bundle declares.
    #[error("{}: input shape {actual:?} does not match the model's {expected:?}", path.display())]
    Shape {
        /// The model file.
        path: PathBuf,
        /// Shape declared by the bundle.
        expected: Vec<usize>,
        /// Shape that was given.
        actual: Vec<usize>,
    },
    /// More results than the caller's fixed-capacity buffer holds; the buffer holds the best
    /// `capacity` of them.
    #[error("{found} results do not fit a buffer of {capacity}: the best {capacity} were kept")]
    Capacity {
        /// The buffer's capacity.
        capacity: usize,
        /// How many results there were.
        found: usize,
    },
    /// A trust policy is set and the bundle is not signed by a trusted key, or a file differs
    /// from what was signed.
    #[error("{}: refused by the trust policy: {reason}", path.display())]
    Untrusted {
        /// The file concerned (the signature file, or the file that changed).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Running the plan or decoding its outputs failed.
    #[error("{}: {message}", path.display())]
    Inference {
        /// The model file.
        path: PathBuf,
        /// What went wrong, as one line.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Error {
        Error::Io { path: path.into(), cause }
    }

    pub(crate) fn config(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Config { path: path.into(), key: key.into(), message: message.into() }
    }

    pub(crate) fn model(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Error {
        Error::Model { path: path.into(), message: one_line(message) }
    }

    pub(crate) fn inference(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Error {
        Error::Inference { path: path.into(), message: one_line(message) }
    }
}

/// tract's errors are anyhow chains spread over several lines; users get one line.
pub(crate) fn one_line(message: impl std::fmt::Display) -> String {
    let text = format!("{message:#}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The message of a caught panic's payload (`&str` or `String`, as `panic!` makes them).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
