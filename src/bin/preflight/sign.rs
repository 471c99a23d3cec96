//! `preflight keygen` and `preflight sign`: ed25519 keys and bundle signatures.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use preflight::files::write_atomically;
use preflight::model::signature::{self, SecretKey, SIGNATURE_FILE};
use preflight::model::Bundle;

pub(crate) fn keygen(name: &Path) -> anyhow::Result<ExitCode> {
    let with = |ext: &str| -> PathBuf {
        let mut s = name.as_os_str().to_owned();
        s.push(ext);
        s.into()
    };
    let (secret_path, public_path) = (with(".key"), with(".pub"));
    for p in [&secret_path, &public_path] {
        if p.exists() {
            bail!("{}: already exists; a key is never overwritten", p.display());
        }
    }
    let key = SecretKey::generate()?;
    write_secret(&secret_path, key.to_text().as_bytes())?;
    write_atomically(&public_path, format!("{}\n", key.public()).as_bytes())?;
    outln!("secret key  {} (keep it off the devices)", secret_path.display())?;
    outln!("public key  {}: {}", public_path.display(), key.public())?;
    Ok(ExitCode::SUCCESS)
}

/// Creates the secret key file readable by its owner only, refusing to replace a file.
fn write_secret(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(path).with_context(|| format!("{}: cannot create", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}

pub(crate) fn sign(dir: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let key = SecretKey::read(key)?;
    let bundle = Bundle::open(dir)?;
    let files = signature::sign(&bundle, &key)?;
    outln!(
        "signed {files} files of {} with {} ({})",
        dir.display(),
        key.public(),
        dir.join(SIGNATURE_FILE).display()
    )?;
    Ok(ExitCode::SUCCESS)
}
