//! The crate's file helpers, at the bottom of every layer: reading and parsing TOML with key
//! paths in errors, resolving paths inside a directory without escaping it, sha256, and
//! atomic writes.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `bytes` as lower-case hex, two digits each.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Largest text file read: manifest, suite, target profile, signature, labels, dictionary.
/// Parsed TOML takes ~35 times its size in memory: a 15 MB manifest of `mean` values took
/// 550 MB and 2 s to refuse; a 1 MB one is refused at 43 MB peak RSS in 0.13–0.19 s
/// (`inspect` of the default bundle peaks at 24 MB).
pub const MAX_TEXT_BYTES: u64 = 1 << 20;
/// Largest model file read.
pub const MAX_MODEL_BYTES: u64 = 2 << 30;
/// Largest golden-outputs file read.
pub const MAX_GOLDEN_BYTES: u64 = 256 << 20;
/// Largest image file read (the decoder limits pixels separately).
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Reads a regular file of at most `limit` bytes. Anything else — a FIFO or a device (which
/// would block or never end), a directory, a larger file — is an error naming the file,
/// found before anything is allocated or opened.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let refuse =
        |what: String| Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, what));
    if !meta.is_file() {
        return Err(refuse("not a regular file".into()));
    }
    if meta.len() > limit {
        return Err(refuse(format!("{} bytes, over the limit of {limit}", meta.len())));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(refuse(format!("grew past the limit of {limit} bytes while read")));
    }
    Ok(bytes)
}

/// Reads a UTF-8 text file (a regular file of at most [`MAX_TEXT_BYTES`]).
pub(crate) fn read_text(path: &Path) -> Result<String> {
    let bytes = read_bounded(path, MAX_TEXT_BYTES)?;
    String::from_utf8(bytes).map_err(|_| {
        Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"))
    })
}

/// Parses TOML into `T`, naming the offending key path on error.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let mut message = match text.parse::<toml::Table>() {
            Ok(table) => explain(&toml::Value::Table(table), &key, &inner),
            Err(_) => reason(&inner),
        };
        if let Some(span) = inner.span() {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            message = format!("line {line}, column {column}: {message}");
        }
        let key = if key == "." { "(top level)".to_string() } else { key };
        Error::config(path, key, message)
    })
}

/// Deserializes part of a TOML file already parsed (`prefix` is its key path), with the same
/// messages as [`parse_toml`].
pub(crate) fn from_toml_value<T: serde::de::DeserializeOwned>(
    file: &Path,
    prefix: &str,
    value: toml::Value,
) -> Result<T> {
    let root = value.clone();
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = explain(&root, &path, e.inner());
        let key = if path == "." { prefix.to_string() } else { format!("{prefix}.{path}") };
        Error::config(file, key, message)
    })
}

/// toml's message without the source snippet it repeats over several lines.
fn reason(error: &toml::de::Error) -> String {
    let lines: Vec<&str> =
        error.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines.join("; ")
}

/// The reason, said the way a person editing the file needs it: the value given where a name
/// was expected, and for "missing field `x`" a key of the same table within two edits of `x`
/// (serde reports a typo only as the field missing).
fn explain(root: &toml::Value, key_path: &str, error: &toml::de::Error) -> String {
    let message = reason(error);
    let at = lookup(root, key_path);
    if message.starts_with("invalid type: unit variant") || message == "wanted string or table" {
        if let Some(given) = at {
            return format!("expected a name in quotes, got {given}");
        }
    }
    let typo = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .and_then(|missing| {
            at?.as_table()?
                .keys()
                .find(|k| k.as_str() != missing && crate::text::edit_distance(k, missing) <= 2)
        });
    match typo {
        Some(k) => format!("{message} (`{k}` is given: misspelt?)"),
        None => message,
    }
}

/// The value at a serde key path (`checks[0].severity`).
fn lookup<'a>(root: &'a toml::Value, key_path: &str) -> Option<&'a toml::Value> {
    let mut value = root;
    for part in key_path.split('.').filter(|p| !p.is_empty()) {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, Some(i.trim_end_matches(']').parse::<usize>().ok()?)),
            None => (part, None),
        };
        if !name.is_empty() {
            value = value.get(name)?;
        }
        if let Some(i) = index {
            value = value.get(i)?;
        }
    }
    Some(value)
}

/// The rule for paths written in a file: relative to the file's directory, and inside it. A
/// bundle's manifest and suites name files in the bundle; a suite given with `--suite` from
/// elsewhere names files beside it or below.
fn leaves(dir: &Path) -> String {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    format!("leaves {} (files named in it must be in its directory or below)", dir.display())
}

/// The directory a file's relative paths are resolved against: its parent, or `.` for a bare
/// file name (whose parent is the empty path, which no system call accepts).
pub(crate) fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Joins `rel` to `dir`, refusing absolute paths, `..` and symlinks that escape `dir`.
pub(crate) fn resolve(dir: &Path, file: &Path, key: &str, rel: &str) -> Result<PathBuf> {
    let candidate = Path::new(rel);
    let escapes =
        candidate.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if rel.is_empty() || escapes {
        return Err(Error::config(file, key, format!("path {rel:?} {}", leaves(dir))));
    }
    let joined = dir.join(candidate);
    if let (Ok(real), Ok(root)) = (joined.canonicalize(), dir.canonicalize()) {
        if !real.starts_with(&root) {
            return Err(Error::config(
                file,
                key,
                format!("path {rel:?} resolves outside: it {}", leaves(dir)),
            ));
        }
    }
    Ok(joined)
}

/// Writes `bytes` to `path` through a temp file in the same directory and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // A legal 255-byte name plus the temp decoration would not be: keep the temp name short.
    let stem: String = name.chars().take(64).collect();
    let tmp = dir.join(format!(".{stem}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_escapes() {
        let dir = Path::new(".");
        let file = Path::new("bundle.toml");
        assert!(resolve(dir, file, "k", "../x").is_err());
        assert!(resolve(dir, file, "k", "/etc/passwd").is_err());
        assert!(resolve(dir, file, "k", "a/../../x").is_err());
        assert!(resolve(dir, file, "k", "").is_err());
        assert!(resolve(dir, file, "k", "a/b.onnx").is_ok());
    }

    #[test]
    fn parse_error_names_key_path() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Outer {
            input: Inner,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            shape: Vec<usize>,
        }
        let err = parse_toml::<Outer>(Path::new("b.toml"), "[input]\nshape = [1, -2]\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("b.toml: input.shape[1]:"), "{err}");
        let err = parse_toml::<Outer>(Path::new("b.toml"), "[input]\nshape = []\nfoo = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("input") && err.contains("unknown field `foo`"), "{err}");
    }

    #[test]
    fn sha256_of_empty_input() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.json");
        write_atomically(&p, b"first").unwrap();
        write_atomically(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left");
        assert!(write_atomically(&dir.path().join("no/such/dir/r.json"), b"x").is_err());
    }
}
