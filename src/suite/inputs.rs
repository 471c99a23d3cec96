//! Making the suite's inputs: each case's image as the run keeps it, perturbed when asked, run
//! and decoded ([`make`]); and the scoped-thread map the prefetch runs them on ([`parallel`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use image::{DynamicImage, RgbImage};

use super::perturb::{case_seed, At, Fault};
use super::plan::Input;
use super::report::Timing;
use super::run::{ms, Cached};
use super::spec::Case;
use super::subject::{RunOutcome, Subject};
use crate::model::condition::Condition;
use crate::model::decode::{DecodeOptions, Prediction};
use crate::model::engine::Outputs;
use crate::model::preprocess::{as_rgb8, Transform};
use crate::model::risk::{Signals, FLOOR};

/// What one prefetched input produced, with the time its parts took.
pub(super) struct Made {
    pub(super) predictions: Vec<(Option<u32>, Cached<Prediction>)>,
    pub(super) raw: Option<Cached<Outputs>>,
    pub(super) condition: Option<Condition>,
    /// The envelope flag's signals, for an input that asks for them (a model's only).
    pub(super) signals: Option<Signals>,
    pub(super) ran: bool,
    pub(super) timing: Timing,
}

/// A case's image as the run keeps it between the inputs made from it: resized, unless the
/// decoded image is smaller — LFW's 25x25 crops upscaled to BlazeFace's 128x128 would hold 26
/// times their bytes, 10 MB for the default suite — and then resized again for each input
/// (resizing is deterministic, so every input sees the same pixels).
pub(super) enum Kept {
    Resized(RgbImage, Transform),
    Decoded(image::DynamicImage),
}

impl Kept {
    pub(super) fn new(subject: Subject<'_>, decoded: image::DynamicImage) -> Kept {
        let (resized, transform) = subject.resize(&decoded);
        if decoded.as_bytes().len() < resized.as_raw().len() {
            Kept::Decoded(decoded)
        } else {
            Kept::Resized(resized, transform)
        }
    }

    fn resized(&self, subject: Subject<'_>) -> (RgbImage, Transform) {
        match self {
            Kept::Resized(img, transform) => (img.clone(), *transform),
            Kept::Decoded(decoded) => subject.resize(decoded),
        }
    }
}

/// A case's image as its inputs are made from it: resized to the model's input, and the
/// decoded frame itself when a fault applies to it before the resize.
pub(super) struct CaseImage {
    pub(super) resized: Cached<(RgbImage, Transform)>,
    pub(super) frame: Option<Cached<DynamicImage>>,
}

/// The case's image, from the decoded images kept or else from its file (a case the prefetch
/// did not decode: one whose frame is perturbed, which is decoded where its inputs are made and
/// dropped with them, or one no planned input needed).
pub(super) fn case_image(
    subject: Subject<'_>,
    images: &HashMap<String, Cached<Kept>>,
    case: &Case,
    with_frame: bool,
) -> CaseImage {
    match images.get(&case.id) {
        Some(Ok(Kept::Decoded(decoded))) if with_frame => {
            CaseImage { resized: Ok(subject.resize(decoded)), frame: Some(Ok(decoded.clone())) }
        }
        Some(Ok(kept)) if !with_frame => {
            CaseImage { resized: Ok(kept.resized(subject)), frame: None }
        }
        Some(Err(e)) => {
            CaseImage { resized: Err(e.clone()), frame: with_frame.then(|| Err(e.clone())) }
        }
        _ => match subject.load_image(&case.path) {
            Ok(decoded) => CaseImage {
                resized: Ok(subject.resize(&decoded)),
                frame: with_frame.then_some(Ok(decoded)),
            },
            Err(e) => {
                let e = e.to_string();
                CaseImage { resized: Err(e.clone()), frame: with_frame.then_some(Err(e)) }
            }
        },
    }
}

/// The model-sized image an input under `fault` sees, and its transform: the fault applied to
/// the frame, then resized, or applied to the resized image's content (padding is not part of
/// the scene). A pipeline's image is its frame, so both places are the same for it.
pub(crate) fn faulted(
    subject: Subject<'_>,
    resized: &(RgbImage, Transform),
    frame: Option<&DynamicImage>,
    fault: Fault,
    seed: u64,
    case_id: &str,
) -> Cached<(RgbImage, Transform)> {
    let Fault { perturbation: p, severity, at } = fault;
    let s = case_seed(seed, p, severity, case_id);
    match (at, subject) {
        (At::Frame, Subject::Model(_)) => {
            let frame = frame.ok_or("the frame was not kept for a fault at the frame")?;
            let perturbed = p.apply(&as_rgb8(frame), severity, s);
            Ok(subject.resize(&DynamicImage::ImageRgb8(perturbed)))
        }
        _ => {
            let (img, transform) = resized;
            Ok((perturb_content(img, transform, |r| p.apply(r, severity, s)), *transform))
        }
    }
}

/// Makes one input from its case's resized image (perturbed if asked), runs it, and decodes
/// it at each score it is asked for.
pub(super) fn make(subject: Subject<'_>, image: &CaseImage, seed: u64, input: &Input) -> Made {
    let mut timing = Timing::default();
    let fail = |e: String, timing: Timing| Made {
        predictions: input.scores.iter().map(|s| (s.map(f32::to_bits), Err(e.clone()))).collect(),
        raw: input.keep_raw.then(|| Err(e.clone())),
        condition: None,
        signals: None,
        ran: false,
        timing,
    };
    let clean = match &image.resized {
        Ok(r) => r,
        Err(e) => return fail(e.clone(), timing),
    };
    let perturbed;
    let (img, transform) = match input.fault {
        None => (&clean.0, clean.1),
        Some(fault) => {
            let t = Instant::now();
            let frame = match &image.frame {
                Some(Err(e)) => return fail(e.clone(), timing),
                Some(Ok(f)) => Some(f),
                None => None,
            };
            let made = faulted(subject, clean, frame, fault, seed, &input.case.id);
            timing.perturbation_ms += ms(t.elapsed());
            match made {
                Ok(p) => perturbed = p,
                Err(e) => return fail(e, timing),
            }
            (&perturbed.0, perturbed.1)
        }
    };
    let condition = input.measure.then(|| Condition::measure(img, transform.content));
    if input.scores.is_empty() && !input.keep_raw {
        // Wanted for its condition only: nothing reads a prediction, so nothing runs.
        return Made {
            predictions: vec![],
            raw: None,
            condition,
            signals: None,
            ran: false,
            timing,
        };
    }
    // The flag's signals read the outputs once more, decoded down to its floor: one more
    // score asked of the same run.
    let flag = match (input.signals, subject, condition) {
        (true, Subject::Model(m), Some(c)) => {
            let threshold = m.decision_threshold(DecodeOptions::default());
            Some((c, threshold, threshold.map(|t| t * FLOOR)))
        }
        _ => None,
    };
    let mut scores = input.scores.clone();
    scores.extend(flag.map(|(_, _, floor)| floor));
    let t = Instant::now();
    let ran = subject.run(img, transform, &scores, input.keep_raw);
    timing.inference_ms += ms(t.elapsed());
    let RunOutcome { raw, mut predictions } = match ran {
        Ok(x) => x,
        Err(e) => {
            let mut m = fail(e.to_string(), timing);
            (m.ran, m.condition) = (true, condition);
            return m;
        }
    };
    let signals = match flag {
        Some((c, threshold, _)) => match predictions.pop() {
            Some(Ok(low)) => Some(Signals::of(c, &low, threshold)),
            _ => None,
        },
        None => None,
    };
    let predictions = input
        .scores
        .iter()
        .zip(predictions)
        .map(|(score, p)| (score.map(f32::to_bits), p.map_err(|e| e.to_string())))
        .collect();
    let raw = input.keep_raw.then(|| {
        raw.ok_or_else(|| {
            "a pipeline keeps no raw outputs: parity is checked stage by stage".to_string()
        })
    });
    Made { predictions, raw, condition, signals, ran: true, timing }
}

/// `f` over `items` on `jobs` scoped threads; results in the items' order.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if jobs <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(item) = items.get(i) else { break };
        let r = f(item);
        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    };
    // The calling thread is one of the jobs: each thread that runs inference keeps its own
    // allocator arena at its high-water mark, so an idle caller would be one arena too many.
    std::thread::scope(|s| {
        for _ in 1..jobs {
            s.spawn(work);
        }
        work();
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every slot is filled before the scope ends")
        })
        .collect()
}

/// Applies `f` to the part of a model-sized image the original covers: padding is not part
/// of the scene, so noise, blur or a turn upside down must not touch it.
pub(crate) fn perturb_content(
    img: &RgbImage,
    transform: &Transform,
    f: impl Fn(&RgbImage) -> RgbImage,
) -> RgbImage {
    let [x0, y0, x1, y1] = transform.content;
    if [x0, y0, x1, y1] == [0, 0, img.width(), img.height()] || x1 <= x0 || y1 <= y0 {
        return f(img);
    }
    let region = image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
    let mut out = img.clone();
    image::imageops::replace(&mut out, &f(&region), x0 as i64, y0 as i64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::perturb::Perturbation;

    #[test]
    fn perturbations_leave_padding_alone() {
        let img = RgbImage::from_pixel(10, 4, image::Rgb([128, 128, 128]));
        let mut padded = img.clone();
        for y in 0..4 {
            for x in 0..6 {
                padded.put_pixel(x, y, image::Rgb([x as u8 * 40, 0, 0]));
            }
        }
        let t = Transform {
            scale_x: 1.0,
            scale_y: 1.0,
            offset_x: 0.0,
            offset_y: 0.0,
            width: 6,
            height: 4,
            content: [0, 0, 6, 4],
        };
        let turned = perturb_content(&padded, &t, |r| Perturbation::UpsideDown.apply(r, 1, 0));
        assert_eq!(turned.get_pixel(0, 0).0, [200, 0, 0], "content turned within itself");
        assert_eq!(turned.get_pixel(9, 0).0, [128, 128, 128], "padding untouched");
    }

    #[test]
    fn parallel_keeps_order_whatever_the_job_count() {
        let items: Vec<u64> = (0..97).collect();
        let one = parallel(&items, 1, |x| x * x);
        for jobs in [2, 3, 8] {
            assert_eq!(parallel(&items, jobs, |x| x * x), one);
        }
    }
}
