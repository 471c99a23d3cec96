//! Mutation fuzzing, driven by `cargo test`: the manifest, suite and golden parsers, image
//! decoding and ONNX loading (small models, built and run) get inputs mutated from the
//! committed seed corpus (`tests/fuzz-corpus/<target>/`) for a fixed time each. Any panic or
//! an input that takes over `HANG` fails the test, and the input is saved to
//! `target/tmp/fuzz-crashes/` to become a regression test.
//!
//! No coverage feedback (that would need a second, instrumented build of tract, ~13 min in CI):
//! inputs that a target accepts join the pool, so mutations reach past the first check.
//! `PREFLIGHT_FUZZ_SECS` sets the time per target (default 3 s in CI; the note on issue 14
//! quotes a 10-minute run per target).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::*;
use preflight::model::Bundle;
use preflight::prelude::*;

/// An input slower than this is reported as a hang.
const HANG: Duration = Duration::from_secs(10);
/// Most inputs kept in a target's pool.
const POOL: usize = 512;

pub(crate) fn budget() -> Duration {
    let secs = std::env::var("PREFLIGHT_FUZZ_SECS").ok().and_then(|s| s.parse().ok());
    Duration::from_secs_f64(secs.unwrap_or(3.0))
}

/// xorshift64*: deterministic per target, so a failure reproduces with the same seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING_BYTES: [u8; 8] = [0, 1, 0x7f, 0x80, 0xff, b'-', b'9', b'"'];
const INTERESTING_NUMBERS: [&str; 12] = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "nan",
    "inf",
    "4294967296",
    "18446744073709551616",
    "100000",
    "0.0",
    "1e-45",
    "65535",
];

/// One to four stacked mutations of `input` (byte-level, plus number swaps for text).
fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = out.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(at..at, bytes);
            }
            3 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                out.drain(a..b);
            }
            4 if len > 1 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let copy = out[a..b].to_vec();
                let at = rng.below(len + 1);
                out.splice(at..at, copy);
            }
            5 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                out.truncate(cut);
                out.extend_from_slice(&other[from..]);
            }
            6 if len > 0 => out.truncate(rng.below(len)),
            7 if len >= 4 => {
                let i = rng.below(len - 3);
                let v = [0u32, 1, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000, 65536][rng.below(6)];
                let bytes = if rng.below(2) == 0 { v.to_be_bytes() } else { v.to_le_bytes() };
                out[i..i + 4].copy_from_slice(&bytes);
            }
            _ => {
                // Replace a run of digits (a number in TOML or JSON) with an edge value.
                let starts: Vec<usize> = (0..len)
                    .filter(|&i| {
                        out[i].is_ascii_digit() && (i == 0 || !out[i - 1].is_ascii_digit())
                    })
                    .collect();
                if let Some(&a) = starts.get(rng.below(starts.len())) {
                    let b = (a..len).find(|&i| !out[i].is_ascii_digit()).unwrap_or(len);
                    let n = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())];
                    out.splice(a..b, n.bytes());
                }
            }
        }
    }
    out
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = root().join("tests/fuzz-corpus").join(target);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "{} holds no seeds", dir.display());
    seeds
}

/// Runs `target` on mutated inputs for the time budget; `target` returns whether the input
/// was accepted. Panics (with the saved input's path) on a panic or a hang.
fn fuzz(name: &str, seed: u64, mut target: impl FnMut(&[u8]) -> bool) {
    preflight::model::guard::quiet_caught_panics();
    let mut pool = corpus(name);
    for s in pool.clone() {
        assert!(target(&s), "{name}: a seed of the corpus is refused");
    }
    let seeds = pool.len();
    let mut rng = Rng(seed | 1);
    let (start, deadline) = (Instant::now(), budget());
    let (mut runs, mut accepted) = (0u64, 0u64);
    let crashes = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
    std::fs::create_dir_all(&crashes).unwrap();
    // What is running now, for an input that kills the process (the kernel's OOM killer, an
    // abort) before the fuzzer can save it.
    let current = crashes.join(format!("{name}-current"));
    while start.elapsed() < deadline {
        let pick = rng.below(pool.len());
        let input = mutate(&mut rng, &pool[pick], &pool);
        std::fs::write(&current, &input).unwrap();
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let slow = t.elapsed() > HANG;
        runs += 1;
        match outcome {
            Ok(ok) if !slow => {
                if ok {
                    accepted += 1;
                    if pool.len() < POOL {
                        pool.push(input);
                    } else {
                        let i = seeds + rng.below(POOL - seeds);
                        pool[i] = input;
                    }
                }
            }
            _ => {
                let file = crashes.join(format!("{name}-{}", preflight::files::sha256_hex(&input)));
                std::fs::write(&file, &input).unwrap();
                let what = if slow { format!("took {:?}", t.elapsed()) } else { "panicked".into() };
                panic!("fuzz {name}: input {what}; saved to {}", file.display());
            }
        }
    }
    let _ = std::fs::remove_file(&current);
    eprintln!(
        "fuzz {name}: {runs} executions in {:.0} s, {accepted} accepted, {seeds} seeds, 0 crashes",
        start.elapsed().as_secs_f64()
    );
}

/// A directory holding the BlazeFace model as `m.onnx`, labels and a dictionary: what the
/// manifest seeds name.
fn model_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let model = default_bundle().join("face_detection_front_128x128_barracuda.onnx");
    std::fs::copy(model, dir.path().join("m.onnx")).unwrap();
    std::fs::write(dir.path().join("labels.txt"), "0\n180\n").unwrap();
    dir
}

fn small_image() -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([x as u8 * 6, y as u8 * 8, 128])
    }))
}

/// Opens, builds and runs what `dir` holds; true when the bundle opened.
fn open_build_run(dir: &Path) -> bool {
    let Ok(bundle) = Bundle::open(dir) else { return false };
    if let Ok(model) = Model::from_bundle(bundle) {
        let _ = model.infer(&small_image(), DecodeOptions::default());
    }
    true
}

#[test]
fn fuzz_manifest() {
    let dir = model_dir();
    fuzz("manifest", 0x6d61_6e69, |input| {
        std::fs::write(dir.path().join("bundle.toml"), input).unwrap();
        open_build_run(dir.path())
    });
}

#[test]
fn fuzz_suite() {
    let bundle = ScratchBundle::new();
    let path = bundle.path().join("fuzz.toml");
    fuzz("suite", 0x7375_6974, |input| {
        std::fs::write(&path, input).unwrap();
        preflight::suite::Suite::load(&path).is_ok()
    });
}

#[test]
fn fuzz_golden_through_a_parity_check() {
    // The golden is read and compared by a real parity check: the path where empty or
    // truncated data once passed having compared nothing.
    let bundle = ScratchBundle::new();
    std::fs::write(
        bundle.path().join("parity.toml"),
        "name = \"p\"\n[[cases]]\nid = \"astronaut\"\nimage = \"cases/astronaut.png\"\nobjects = 1\n\
         [[checks]]\nname = \"parity\"\nkind = \"parity\"\nseverity = \"critical\"\n\
         golden = \"fuzz.json\"\ntolerance = \"exact\"\ncases = [\"astronaut\"]\n",
    )
    .unwrap();
    let options =
        StartOptions { suite: Some(bundle.path().join("parity.toml")), ..Default::default() };
    let golden = bundle.path().join("fuzz.json");
    fuzz("golden", 0x676f_6c64, |input| {
        std::fs::write(&golden, input).unwrap();
        let loaded = preflight::suite::golden::Golden::load(&golden).is_ok();
        let run = preflight::device::runtime::check(bundle.path(), &options, &mut |_, _, _| {});
        if let Ok((_, _, report)) = run {
            let parity = &report.checks[0];
            assert!(
                loaded || parity.passed != Some(true),
                "parity passed on an unreadable golden: {}",
                parity.detail
            );
        }
        loaded
    });
}

#[test]
fn fuzz_image_decoding() {
    let model = Model::open(default_bundle()).unwrap();
    fuzz("image", 0x696d_6167, |input| match preflight::model::preprocess::decode_image(input) {
        Ok(img) => {
            let _ = model.infer(&img, DecodeOptions::default());
            true
        }
        Err(_) => false,
    });
}

#[test]
fn fuzz_onnx_loading() {
    let dir = tempfile::tempdir().unwrap();
    fuzz("onnx", 0x6f6e_6e78, |input| {
        std::fs::write(dir.path().join("m.onnx"), input).unwrap();
        let _ = preflight::model::onnx_file::OnnxSummary::read(&dir.path().join("m.onnx"));
        std::fs::write(dir.path().join("bundle.toml"), raw_manifest(input)).unwrap();
        let Ok(bundle) = Bundle::open(dir.path()) else { return false };
        let Ok(model) = Model::from_bundle(bundle) else { return false };
        model.infer(&small_image(), DecodeOptions::default()).is_ok()
    });
}

/// A raw bundle manifest for the ONNX seeds' interface: input `x`, [1, 8, 8, 3].
fn raw_manifest(model: &[u8]) -> String {
    format!(
        "name = \"fuzz\"\nversion = \"1\"\n[model]\npath = \"m.onnx\"\nsha256 = \"{}\"\n\
         [input]\nname = \"x\"\nshape = [1, 8, 8, 3]\nlayout = \"nhwc\"\ncolor = \"rgb\"\n\
         resize = \"stretch\"\nscale = 1.0\nmean = [0.0, 0.0, 0.0]\nstd = [1.0, 1.0, 1.0]\n\
         [output]\nkind = \"raw\"\n",
        preflight::files::sha256_hex(model)
    )
}
