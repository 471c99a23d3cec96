//! Criterion benches on the default bundle: preprocessing (decode excluded) and inference.
//! Run with `cargo bench --bench pipeline`; compare medians side by side in one run.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use preflight::prelude::{DecodeOptions, Model};

fn bundle() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazeface")
}

fn pipeline(c: &mut Criterion) {
    let model = Model::open(bundle()).expect("default bundle");
    let astronaut = preflight::prelude::load_image(&bundle().join("cases/astronaut.png")).unwrap();
    let face = preflight::prelude::load_image(&bundle().join("cases/lfw/face_000.png")).unwrap();
    let spec = model.bundle().manifest().input.clone();
    let (tensor, _) = model.prepare(&astronaut);

    c.bench_function("preprocess/astronaut_512x512_rgb", |b| {
        b.iter(|| preflight::model::preprocess::preprocess(black_box(&astronaut), &spec))
    });
    c.bench_function("preprocess/lfw_25x25_gray", |b| {
        b.iter(|| preflight::model::preprocess::preprocess(black_box(&face), &spec))
    });
    c.bench_function("engine/run_128x128", |b| {
        b.iter(|| model.engine().run(black_box(&tensor)).unwrap())
    });
    c.bench_function("model/infer_astronaut_end_to_end", |b| {
        b.iter(|| model.infer(black_box(&astronaut), DecodeOptions::default()).unwrap())
    });
    // After an inference, as in the suite: tract's AVX kernels once left the CPU in a state
    // that made this float code 14x slower (see model/cpu.rs).
    let (resized, _) = model.resize(&face);
    model.infer(&astronaut, DecodeOptions::default()).unwrap();
    c.bench_function("perturb/gaussian_noise_128x128_after_inference", |b| {
        b.iter(|| {
            preflight::suite::perturb::Perturbation::GaussianNoise.apply(black_box(&resized), 1, 7)
        })
    });
    // The per-frame cost of judging a frame against the envelope, beside engine/run_128x128:
    // the four measures on the model's 128x128 input.
    let (input, transform) = model.resize(&astronaut);
    c.bench_function("condition/measure_128x128", |b| {
        b.iter(|| {
            preflight::model::condition::Condition::measure(black_box(&input), transform.content)
        })
    });
    // What the envelope's fitted flag adds on top: the outputs decoded once more down to its
    // floor, the signals and the logistic score (the weights' values do not change the cost).
    let (outputs, transform) = model.run_raw(&astronaut).unwrap();
    let condition = preflight::model::condition::Condition::measure(&input, transform.content);
    let features = preflight::model::risk::Feature::all().to_vec();
    let n = features.len();
    let risk = preflight::model::risk::Risk {
        features,
        center: vec![0.0; n],
        scale: vec![1.0; n],
        weights: vec![0.1; n],
        bias: 0.0,
        threshold: 0.0,
        fitted: preflight::model::risk::RiskFit {
            cases: 0,
            rows: 0,
            broken: 0,
            held_flagged: 0.0,
            held_apart: vec![],
        },
    };
    let threshold = model.decision_threshold(DecodeOptions::default());
    let floor = DecodeOptions {
        threshold: threshold.map(|t| t * preflight::model::risk::FLOOR),
        ..DecodeOptions::default()
    };
    c.bench_function("envelope/flag_after_inference", |b| {
        b.iter(|| {
            let low = model.decode(black_box(&outputs), &transform, floor).unwrap();
            let signals = preflight::model::risk::Signals::of(condition, &low, threshold);
            risk.flags(&signals)
        })
    });
}

/// The same model through tract's own API, no preflight in the loop: the baseline that
/// `engine/run_128x128` is compared with.
fn raw_tract(c: &mut Criterion) {
    use tract_onnx::prelude::*;
    let path = bundle().join("face_detection_front_128x128_barracuda.onnx");
    let (fixed, _) =
        preflight::model::fixup::fixed_onnx(&path, &std::fs::read(&path).unwrap()).unwrap();
    let plan = tract_onnx::onnx()
        .model_for_read(&mut &fixed[..])
        .unwrap()
        .with_input_fact(0, f32::fact([1, 128, 128, 3]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input: Tensor = Tensor::zero::<f32>(&[1, 128, 128, 3]).unwrap();
    c.bench_function("raw_tract/run_128x128", |b| {
        b.iter(|| plan.run(tvec![black_box(input.clone()).into()]).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = pipeline, raw_tract
}
criterion_main!(benches);
