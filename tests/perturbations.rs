//! preflight's ImageNet-C corruptions against the reference implementation (PyPI imagenet_c
//! 0.0.2, run by tools/imagenet_c_reference.py, whose outputs are committed in
//! tests/imagenet-c/): pixel by pixel where the corruption is deterministic, by how much it
//! changes the image where it draws random numbers (preflight's generator is not NumPy's).

use crate::harness::root;
use preflight::suite::perturb::{Perturbation, ALL};
use serde_json::Value;

fn load(name: &str) -> image::RgbImage {
    image::open(root().join("tests/imagenet-c").join(name)).unwrap().to_rgb8()
}

fn mean_abs(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let sum: f64 =
        a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| (x as f64 - y as f64).abs()).sum();
    sum / a.as_raw().len() as f64
}

/// Mean absolute difference allowed against the reference's own output, 0-255 scale.
fn pixel_tolerance(p: Perturbation) -> f64 {
    match p {
        // Two JPEG encoders (libjpeg in Pillow, the image crate's) at the same quality: 3.4-4.1.
        Perturbation::JpegCompression => 4.5,
        _ => 3.0,
    }
}

const DETERMINISTIC: [&str; 8] = [
    "brightness",
    "contrast",
    "saturate",
    "gaussian_blur",
    "defocus_blur",
    "zoom_blur",
    "pixelate",
    "jpeg_compression",
];

/// Relative tolerance on the mean change a corruption makes (plus half a level), the mean over
/// seeds 0-9 for random ones.
fn change_tolerance(p: Perturbation) -> f64 {
    use Perturbation::*;
    match p {
        // Two JPEG encoders: preflight's changes the image ~10-20 % less at the same quality.
        JpegCompression => 0.25,
        // The noise's distribution is the reference's; ten draws each side.
        GaussianNoise | ShotNoise | ImpulseNoise | SpeckleNoise => 0.05,
        // A plasma fractal, a seeded streak angle, a seeded affine warp: the same
        // distributions, whose ten-draw means still scatter.
        Fog | MotionBlur | ElasticTransform => 0.15,
        _ => 0.05,
    }
}

#[test]
fn deterministic_corruptions_match_the_reference_pixel_by_pixel() {
    let chart = load("chart.png");
    let mut report = Vec::new();
    for name in DETERMINISTIC {
        let p: Perturbation = name.parse().unwrap();
        for severity in [1, 3, 5] {
            let reference = load(&format!("{name}_{severity}.png"));
            let d = mean_abs(&p.apply(&chart, severity, 0), &reference);
            report.push(format!("{name}:{severity} {d:.2}"));
            assert!(
                d <= pixel_tolerance(p),
                "{name} at {severity}: mean abs {d:.2} from the reference\n{}",
                report.join("\n")
            );
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn every_imagenet_c_corruption_changes_images_as_the_reference_does() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/imagenet-c/reference.json")).unwrap(),
    )
    .unwrap();
    let images = [("chart", load("chart.png")), ("photo", load("photo.png"))];
    let mut failures = Vec::new();
    let mut covered = 0;
    for &p in ALL.iter().filter(|p| p.is_imagenet_c()) {
        let expected = &doc["change"][p.name()];
        assert!(expected.is_object(), "reference.json has no {p}");
        covered += 1;
        for (image, img) in &images {
            for severity in 1..=5u8 {
                let want = expected[*image][severity as usize - 1].as_f64().unwrap();
                let seeds = if DETERMINISTIC.contains(&p.name()) { 1 } else { 10 };
                let got =
                    (0..seeds).map(|s| mean_abs(&p.apply(img, severity, s), img)).sum::<f64>()
                        / seeds as f64;
                let tol = change_tolerance(p);
                let line = format!("{p}:{severity} {image}: {got:.2} vs {want:.2}");
                if (got - want).abs() > tol * want + 0.5 {
                    failures.push(line);
                } else {
                    eprintln!("{line}");
                }
            }
        }
    }
    assert_eq!(covered, 15, "ImageNet-C's 15 corruptions that need no image assets");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
