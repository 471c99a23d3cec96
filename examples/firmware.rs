//! Firmware lifecycle with the library alone (`default-features = false`): boot, self-test,
//! serve the images of a directory as if they were camera frames, print health every K frames,
//! re-run the suite's recheck subset at the end.
//!
//! ```sh
//! cargo run --example firmware --no-default-features -- models/blazeface models/blazeface/cases/lfw 50
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use preflight::prelude::{Detection, Runtime, StartError, StartOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(bundle), Some(frames)) = (args.first(), args.get(1)) else {
        eprintln!("usage: firmware BUNDLE FRAMES_DIR [EVERY_K]");
        return ExitCode::from(2);
    };
    let every: usize = args.get(2).and_then(|k| k.parse().ok()).unwrap_or(25).max(1);

    // Boot: open the bundle, run its suite on this hardware, gate.
    let runtime = match Runtime::start(bundle, &StartOptions::default()) {
        Ok(rt) => rt,
        Err(StartError::Refused { report }) => {
            eprint!("not serving\n{}", report.to_text());
            return ExitCode::from(1);
        }
        Err(StartError::Error(e)) => {
            eprintln!("cannot start: {e}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.report();
    println!(
        "booted {} {}: verdict {} ({} checks, {:.1} s)",
        report.bundle.name,
        report.bundle.version,
        report.verdict.name(),
        report.checks.len(),
        report.duration_ms / 1e3
    );

    let mut paths: Vec<PathBuf> = match std::fs::read_dir(frames) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            eprintln!("{frames}: {e}");
            return ExitCode::from(2);
        }
    };
    paths.sort();

    // Serve: results land in a fixed-capacity buffer, as on a device without a heap budget.
    let mut detections: heapless::Vec<Detection, 4> = heapless::Vec::new();
    let (mut served, mut with_face) = (0usize, 0usize);
    for path in &paths {
        let Ok(frame) = preflight::prelude::load_image(path) else { continue };
        match runtime.infer_into(&frame, &mut detections) {
            Ok(_) => {}
            Err(preflight::Error::Capacity { found, .. }) => {
                eprintln!(
                    "{}: {found} detections, kept the best {}",
                    path.display(),
                    detections.len()
                )
            }
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
        served += 1;
        with_face += usize::from(!detections.is_empty());
        if served % every == 0 {
            let h = runtime.health();
            println!(
                "frame {served}: health {:?}, p50 {:.1} ms, p99 {:.1} ms, budget {:?} ms",
                h.status, h.p50_ms, h.p99_ms, h.budget_ms
            );
        }
    }
    println!("served {served} frames, {with_face} with a face");

    // While serving: re-run the short subset the suite names, without reloading the model.
    let recheck = runtime.recheck();
    println!("recheck: verdict {} over {} checks", recheck.verdict.name(), recheck.checks.len());
    ExitCode::SUCCESS
}
