//! Embeds the hardware profiles in `targets/*.toml` into the binary, so `--target rpi4` works
//! on a board where only the binary and a bundle were copied.

use std::fmt::Write;
use std::path::Path;

fn main() {
    // Read at run time, not with `env!`: a build-script binary compiled in one checkout can be
    // reused from a shared target directory by another, whose files are elsewhere.
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let manifest_dir = Path::new(&manifest_dir);
    // Reports name the triple the binary was built for.
    println!("cargo:rustc-env=PREFLIGHT_TARGET_TRIPLE={}", std::env::var("TARGET").unwrap());
    // The tract version actually linked, from the lock file, for reports.
    let lock = manifest_dir.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let lock = std::fs::read_to_string(lock).unwrap_or_default();
    let tract = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"tract-core\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map_or("unknown".to_string(), |v| v.trim_matches('"').to_string());
    println!("cargo:rustc-env=PREFLIGHT_TRACT_VERSION={tract}");

    let dir = manifest_dir.join("targets");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    files.sort();
    let mut code = String::from("/// (file stem, TOML text) of every profile in targets/.\npub(crate) const BUILTIN: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let stem = f.file_stem().unwrap().to_string_lossy();
        writeln!(code, "    ({stem:?}, include_str!({:?})),", f.display().to_string()).unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("targets.rs");
    std::fs::write(out, code).unwrap();
}
