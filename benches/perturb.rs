//! Criterion bench of every perturbation at severity 3 on a 128x128 input (BlazeFace's), beside
//! one inference of the same input: how much of a suite's time corrupting costs.
//! Run with `cargo bench --bench perturb`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use preflight::prelude::Model;
use preflight::suite::perturb::ALL;

fn perturb(c: &mut Criterion) {
    let bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazeface");
    let model = Model::open(&bundle).expect("default bundle");
    let photo = preflight::prelude::load_image(&bundle.join("cases/astronaut.png")).unwrap();
    let input =
        image::imageops::resize(&photo.to_rgb8(), 128, 128, image::imageops::FilterType::Triangle);
    let (tensor, _) = model.prepare(&image::DynamicImage::ImageRgb8(input.clone()));
    let mut group = c.benchmark_group("perturb_128x128_severity_3");
    group.sample_size(20);
    group.bench_function("inference (for scale)", |b| {
        b.iter(|| model.engine().run(black_box(&tensor)).unwrap())
    });
    for &p in ALL {
        group.bench_function(p.name(), |b| b.iter(|| p.apply(black_box(&input), 3, 7)));
    }
    group.finish();
}

criterion_group!(benches, perturb);
criterion_main!(benches);
