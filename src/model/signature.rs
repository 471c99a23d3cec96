//! Signed bundles: an ed25519 signature over the sha256 of every file in a bundle directory
//! (and of the model it names, which may live in the model cache), kept in `bundle.sig`.
//!
//! Under a trust policy (one or more public keys), a bundle is refused before anything runs
//! when it is unsigned, signed by a key the policy does not list, or when any file differs
//! from what was signed: a changed byte, an added file (a new case a glob would pick up), a
//! removed one. The whole directory is signed rather than the files the suite happens to name,
//! so what a glob matches tomorrow is covered too.
//!
//! The threat covered is a bundle swapped or edited on the device's storage. Not covered: a
//! stolen signing key, a compromised preflight binary, or files changed between verification
//! and use by something running on the device at the same time.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::bundle::Bundle;
use crate::error::{Error, Result};
use crate::files::{hex, parse_toml, read_text, write_atomically};

/// File name of the signature inside a bundle directory.
pub const SIGNATURE_FILE: &str = "bundle.sig";

/// The listing's name for the model file (it may be outside the bundle, in the model cache).
const MODEL_ENTRY: &str = "@model";

/// Domain separation: a signature over a listing is never valid for anything else.
const CONTEXT: &str = "preflight bundle signature v1\n";

/// Most files a signed bundle may hold (a bound on the walk, not a practical limit).
const MAX_FILES: usize = 100_000;
/// Deepest directory nesting walked.
const MAX_DEPTH: usize = 16;

/// An ed25519 public key, written `ed25519:<64 hex digits>`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// Parses `ed25519:<64 hex digits>` (surrounding whitespace ignored).
    pub fn parse(text: &str) -> std::result::Result<PublicKey, String> {
        let bytes = parse_tagged(text, "ed25519:")?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|_| "not a valid ed25519 public key".to_string())
    }

    /// Reads a public key file (`preflight keygen` writes them as `NAME.pub`).
    pub fn read(path: &Path) -> Result<PublicKey> {
        let text = read_text(path)?;
        PublicKey::parse(&text).map_err(|m| Error::config(path, "(top level)", m))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519:{}", hex(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An ed25519 signing key, written `ed25519-secret:<64 hex digits>`. Its `Debug` shows only
/// the public half.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SecretKey> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| {
            Error::io("/dev/urandom", std::io::Error::other(format!("no randomness: {e}")))
        })?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// Parses `ed25519-secret:<64 hex digits>`.
    pub fn parse(text: &str) -> std::result::Result<SecretKey, String> {
        parse_tagged(text, "ed25519-secret:").map(|b| SecretKey(SigningKey::from_bytes(&b)))
    }

    /// Reads a secret key file.
    pub fn read(path: &Path) -> Result<SecretKey> {
        let text = read_text(path)?;
        SecretKey::parse(&text).map_err(|m| Error::config(path, "(top level)", m))
    }

    /// The key file's text.
    pub fn to_text(&self) -> String {
        format!("ed25519-secret:{}\n", hex(self.0.as_bytes()))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public())
    }
}

fn parse_tagged(text: &str, tag: &str) -> std::result::Result<[u8; 32], String> {
    let text = text.trim();
    let digits =
        text.strip_prefix(tag).ok_or_else(|| format!("expected `{tag}<64 hex digits>`"))?;
    let bytes = unhex(digits).filter(|b| b.len() == 32);
    let bytes = bytes.ok_or_else(|| format!("expected 64 hex digits after `{tag}`"))?;
    Ok(bytes.try_into().expect("length checked"))
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// The keys a bundle must be signed by (any one of them). Empty: no policy.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Trusted public keys.
    pub keys: Vec<PublicKey>,
}

impl TrustPolicy {
    /// True when the policy asks for a signature.
    pub fn is_active(&self) -> bool {
        !self.keys.is_empty()
    }
}

/// `bundle.sig` on disk.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    format: u32,
    key: String,
    signature: String,
    /// Path inside the bundle (`/`-separated) → sha256; `@model` is the model file.
    files: BTreeMap<String, String>,
}

/// Every file of the bundle with its sha256, plus the model.
fn listing(bundle: &Bundle) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let root = bundle.dir();
    let real_root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    walk(root, &real_root, "", 0, &mut files)?;
    files.insert(MODEL_ENTRY.to_string(), bundle.model_sha256().to_ascii_lowercase());
    Ok(files)
}

fn walk(
    dir: &Path,
    root: &Path,
    prefix: &str,
    depth: usize,
    files: &mut BTreeMap<String, String>,
) -> Result<()> {
    let refuse = |path: &Path, what: &str| {
        Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string()))
    };
    if depth > MAX_DEPTH {
        return Err(refuse(dir, "directories nested too deep to sign"));
    }
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        entries.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).map(str::to_string);
        let Some(name) = name.filter(|n| !n.contains(['\n', '\r', '/'])) else {
            return Err(refuse(&path, "file name is not plain UTF-8 text"));
        };
        let rel = format!("{prefix}{name}");
        // The model a slot carries for the cache is covered by its hash (`@model`).
        if rel == SIGNATURE_FILE || rel == super::bundle::BUNDLED_CACHE_DIR {
            continue;
        }
        // Follow symlinks, but only to files inside the bundle: what is signed is what a
        // suite would read.
        let real = path.canonicalize().map_err(|e| Error::io(&path, e))?;
        if !real.starts_with(root) {
            return Err(refuse(&path, "symlink leaves the bundle directory"));
        }
        let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
        if meta.is_dir() {
            if std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?.is_symlink() {
                return Err(refuse(&path, "symlinked directories cannot be signed"));
            }
            walk(&path, root, &format!("{rel}/"), depth + 1, files)?;
        } else if meta.is_file() {
            if files.len() >= MAX_FILES {
                return Err(refuse(&path, "more files than a bundle may hold (100000)"));
            }
            files.insert(rel, hash_file(&path)?);
        } else {
            return Err(refuse(&path, "not a regular file"));
        }
    }
    Ok(())
}

/// sha256 of a file, streamed (a bundle's cases are never all in memory at once).
pub(crate) fn hash_file(path: &Path) -> Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok(hex(&hasher.finalize()))
}

/// The bytes signed: a fixed context line, then `sha256  path` per file, sorted by path.
fn message(files: &BTreeMap<String, String>) -> Vec<u8> {
    let mut text = String::from(CONTEXT);
    for (path, sha) in files {
        text.push_str(&format!("{sha}  {path}\n"));
    }
    text.into_bytes()
}

/// Signs every file of `bundle` with `key`, writing `bundle.sig` atomically. Returns the
/// number of files signed (the model included).
pub fn sign(bundle: &Bundle, key: &SecretKey) -> Result<usize> {
    let files = listing(bundle)?;
    let signature = key.0.sign(&message(&files));
    let count = files.len();
    let file = SignatureFile {
        format: 1,
        key: key.public().to_string(),
        signature: hex(&signature.to_bytes()),
        files,
    };
    let text = format!(
        "# Written by `preflight sign`: every file of this bundle with its sha256, signed with\n\
         # the key below. Any change to any file (or an added or removed one) voids it.\n{}",
        toml::to_string(&file).map_err(|e| Error::config(
            SIGNATURE_FILE,
            "(top level)",
            e.to_string()
        ))?
    );
    write_atomically(&bundle.dir().join(SIGNATURE_FILE), text.as_bytes())?;
    Ok(count)
}

/// What a bundle's signature says, whatever the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// No `bundle.sig`.
    Unsigned,
    /// Signed by `key`, and every file is as signed.
    Valid {
        /// The signer's public key.
        key: String,
        /// Files covered (the model included).
        files: usize,
    },
    /// A signature is present but does not hold: the file and the reason.
    Invalid {
        /// The file concerned (the signature file, or a file that changed).
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Checks `bundle.sig` against the bundle's files, without a policy (for `inspect`).
pub fn status(bundle: &Bundle) -> Result<SignatureStatus> {
    let path = bundle.dir().join(SIGNATURE_FILE);
    if !path.exists() {
        return Ok(SignatureStatus::Unsigned);
    }
    let invalid = |path: PathBuf, reason: String| Ok(SignatureStatus::Invalid { path, reason });
    let sig: SignatureFile = parse_toml(&path, &read_text(&path)?)?;
    if sig.format != 1 {
        return invalid(path, format!("signature format {} is not known (1)", sig.format));
    }
    let key = match PublicKey::parse(&sig.key) {
        Ok(k) => k,
        Err(m) => return invalid(path, format!("key: {m}")),
    };
    let signature = match unhex(&sig.signature).and_then(|b| <[u8; 64]>::try_from(b).ok()) {
        Some(b) => Signature::from_bytes(&b),
        None => return invalid(path, "signature: expected 128 hex digits".into()),
    };
    let actual = listing(bundle)?;
    // Name the first file that differs: that is what a person has to look at.
    for (name, sha) in &actual {
        let file = if name == MODEL_ENTRY {
            bundle.model_path().to_path_buf()
        } else {
            bundle.dir().join(name)
        };
        match sig.files.get(name) {
            None => {
                return invalid(file, "not covered by the signature (added after signing)".into())
            }
            Some(signed) if !signed.eq_ignore_ascii_case(sha) => {
                return invalid(file, "changed since the bundle was signed".into())
            }
            Some(_) => {}
        }
    }
    if let Some(name) = sig.files.keys().find(|n| !actual.contains_key(*n)) {
        return invalid(bundle.dir().join(name), "signed, but missing from the bundle".into());
    }
    if key.0.verify_strict(&message(&actual), &signature).is_err() {
        return invalid(path, format!("the signature does not verify with its key {key}"));
    }
    Ok(SignatureStatus::Valid { key: key.to_string(), files: actual.len() })
}

/// [`verify`], then the bundle to build: under an active policy, without the cache of
/// decluttered graphs, which no signature covers.
pub fn verified(bundle: Bundle, policy: &TrustPolicy) -> Result<Bundle> {
    verify(&bundle, policy)?;
    Ok(if policy.is_active() { bundle.without_declutter_cache() } else { bundle })
}

/// Under an active `policy`, refuses a bundle that is unsigned, tampered with, or signed by
/// a key the policy does not list; the error names the file. Without a policy, accepts.
pub fn verify(bundle: &Bundle, policy: &TrustPolicy) -> Result<()> {
    if !policy.is_active() {
        return Ok(());
    }
    let sig_path = bundle.dir().join(SIGNATURE_FILE);
    let untrusted = |path: PathBuf, reason: String| Err(Error::Untrusted { path, reason });
    match status(bundle)? {
        SignatureStatus::Unsigned => untrusted(
            sig_path,
            "no signature, and the trust policy requires one (sign with `preflight sign`)".into(),
        ),
        SignatureStatus::Invalid { path, reason } => untrusted(path, reason),
        SignatureStatus::Valid { key, .. } => {
            if policy.keys.iter().any(|k| k.to_string() == key) {
                Ok(())
            } else {
                untrusted(
                    sig_path,
                    format!("signed by {key}, which the trust policy does not list"),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_text() {
        let key = SecretKey::generate().unwrap();
        let again = SecretKey::parse(&key.to_text()).unwrap();
        assert_eq!(key.public(), again.public());
        let public = PublicKey::parse(&key.public().to_string()).unwrap();
        assert_eq!(public, key.public());
        assert!(format!("{key:?}").starts_with("SecretKey(ed25519:"));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for text in ["", "ed25519:", "ed25519:zz", "ed25519-secret:00", "rsa:00"] {
            assert!(PublicKey::parse(text).is_err(), "{text}");
        }
        assert!(SecretKey::parse(&format!("ed25519:{}", "0".repeat(64))).is_err());
    }

    #[test]
    fn message_depends_on_every_path_and_hash() {
        let mut a = BTreeMap::new();
        a.insert("x".to_string(), "00".to_string());
        let mut b = a.clone();
        b.insert("x".to_string(), "01".to_string());
        let mut c = a.clone();
        c.insert("y".to_string(), "00".to_string());
        assert_ne!(message(&a), message(&b));
        assert_ne!(message(&a), message(&c));
        assert!(message(&a).starts_with(CONTEXT.as_bytes()));
    }
}
