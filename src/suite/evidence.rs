//! What a failing case looked like: the input the model saw (perturbed as the suite perturbed
//! it, from the same seed) beside the clean one, each with the model's answer drawn on it, for
//! the HTML report. Remade after the run from the report's failure ids, so the runner keeps no
//! images.

use image::{Rgb, RgbImage};

use super::perturb::Fault;
use super::report::Report;
use super::spec::Suite;
use crate::model::decode::{DecodeOptions, Prediction};
use crate::model::preprocess::Transform;
use crate::model::Model;

/// One failing case of one check, as pictures.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseEvidence {
    /// The check it failed.
    pub check: String,
    /// The case id.
    pub case: String,
    /// `name:severity` of the perturbation, when the failure was under one.
    pub perturbation: Option<String>,
    /// The clean input at the model's geometry, with the model's answer drawn (PNG bytes).
    pub original_png: Vec<u8>,
    /// What the model answered on the clean input.
    pub original_answer: String,
    /// The perturbed input, with the model's answer drawn (PNG bytes).
    pub perturbed_png: Option<Vec<u8>>,
    /// What the model answered on the perturbed input.
    pub perturbed_answer: Option<String>,
}

/// Up to `per_check` failing cases of each failed check (and of each check that passed with
/// some cases failing), `total` at most, in report order. Cases that cannot be read are
/// skipped: the report already says why they failed.
pub fn failing_cases(
    model: &Model,
    suite: &Suite,
    report: &Report,
    per_check: usize,
    total: usize,
) -> Vec<CaseEvidence> {
    let mut out = Vec::new();
    for check in &report.checks {
        for failure in check.failures.iter().take(per_check) {
            if out.len() >= total {
                return out;
            }
            if let Some(e) = evidence(model, suite, report.seed, &check.name, failure) {
                out.push(e);
            }
        }
    }
    out
}

/// `case` or `case@name:severity[:frame]`, as the checks write failures.
fn parse_failure(failure: &str) -> (&str, Option<Fault>) {
    let Some((case, fault)) = failure.rsplit_once('@') else { return (failure, None) };
    match Fault::parse(fault) {
        Some(p) => (case, Some(p)),
        None => (failure, None),
    }
}

fn evidence(
    model: &Model,
    suite: &Suite,
    seed: u64,
    check: &str,
    failure: &str,
) -> Option<CaseEvidence> {
    let (case_id, perturbation) = parse_failure(failure);
    let case = suite.cases.iter().find(|c| c.id == case_id)?;
    let frame = model.load_image(&case.path).ok()?;
    let clean = model.resize(&frame);
    let (original_png, original_answer) = picture(model, &clean.0, &clean.1)?;
    let (perturbed_png, perturbed_answer, perturbation) = match perturbation {
        Some(fault) => {
            let (img, transform) =
                super::inputs::faulted(model.into(), &clean, Some(&frame), fault, seed, &case.id)
                    .ok()?;
            let (png, answer) = picture(model, &img, &transform)?;
            (Some(png), Some(answer), Some(fault.to_string()))
        }
        None => (None, None, None),
    };
    Some(CaseEvidence {
        check: check.into(),
        case: case.id.clone(),
        perturbation,
        original_png,
        original_answer,
        perturbed_png,
        perturbed_answer,
    })
}

/// Runs the model on a model-sized image and returns it as PNG with the answer drawn, and the
/// answer in words.
fn picture(model: &Model, img: &RgbImage, transform: &Transform) -> Option<(Vec<u8>, String)> {
    let (outputs, transform) = model.run_resized(img, *transform).ok()?;
    let prediction = model.decode(&outputs, &transform, DecodeOptions::default()).ok()?;
    let mut drawn = img.clone();
    if let Prediction::Detections { detections, .. } = &prediction {
        for d in detections {
            // Boxes are in original-image pixels; the picture is at the model's geometry.
            let [x0, y0, x1, y1] = d.bbox;
            let to_input = |x: f32, y: f32| {
                (
                    x * transform.scale_x + transform.offset_x,
                    y * transform.scale_y + transform.offset_y,
                )
            };
            let (a, b) = (to_input(x0, y0), to_input(x1, y1));
            draw_box(&mut drawn, a, b, Rgb([255, 40, 40]));
        }
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(drawn)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .ok()?;
    Some((png, answer(&prediction)))
}

/// The prediction in a few words.
pub fn answer(p: &Prediction) -> String {
    match p {
        Prediction::Detections { detections, max_score } => match detections.len() {
            0 => format!("nothing found (best score {max_score:.2})"),
            n => {
                let scores: Vec<String> =
                    detections.iter().take(3).map(|d| format!("{:.2}", d.score)).collect();
                format!("{n} found (scores {})", scores.join(", "))
            }
        },
        Prediction::Classes { classes } => match classes.first() {
            Some(c) => format!("{} ({:.2})", c.label, c.score),
            None => "no class".into(),
        },
        Prediction::Text { text, confidence, .. } => format!("\"{text}\" ({confidence:.2})"),
        Prediction::Lines { lines } => match lines.len() {
            0 => "no text read".into(),
            n => format!(
                "{n} lines: \"{}\"",
                crate::model::pipeline::page_text(lines).replace('\n', " / ")
            ),
        },
        Prediction::Raw {} => "raw outputs".into(),
    }
}

/// A two-pixel rectangle outline, clipped to the image.
fn draw_box(img: &mut RgbImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32), colour: Rgb<u8>) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    let clamp = |v: f32, max: i64| (v.round() as i64).clamp(0, max - 1);
    let (x0, x1) = (clamp(x0.min(x1), w), clamp(x0.max(x1), w));
    let (y0, y1) = (clamp(y0.min(y1), h), clamp(y0.max(y1), h));
    for t in 0..2 {
        for x in x0..=x1 {
            for y in [y0 + t, y1 - t] {
                if (0..h).contains(&y) {
                    img.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
        for y in y0..=y1 {
            for x in [x0 + t, x1 - t] {
                if (0..w).contains(&x) {
                    img.put_pixel(x as u32, y as u32, colour);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::perturb::{At, Perturbation};

    #[test]
    fn failures_parse_with_and_without_perturbation() {
        assert_eq!(parse_failure("face_001"), ("face_001", None));
        assert_eq!(
            parse_failure("face_001@blur:3"),
            ("face_001", Some(Fault::input(Perturbation::GaussianBlur, 3)))
        );
        let at_frame = Fault { at: At::Frame, ..Fault::input(Perturbation::MotionBlur, 5) };
        assert_eq!(parse_failure("frame_07@motion_blur:5:frame"), ("frame_07", Some(at_frame)));
        // An id with an @ of its own and no perturbation stays whole.
        assert_eq!(parse_failure("a@b"), ("a@b", None));
    }

    #[test]
    fn boxes_are_clipped_to_the_image() {
        let mut img = RgbImage::new(10, 10);
        draw_box(&mut img, (-5.0, 2.0), (50.0, 7.0), Rgb([255, 0, 0]));
        assert_eq!(img.get_pixel(0, 2).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(9, 7).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(5, 5).0, [0, 0, 0], "inside stays clear");
    }
}
