//! What a suite runs: one model, or a pipeline of models. The runner and its checks see the
//! same few calls either way: read a case's image, bring it to where perturbations apply, run
//! it to a prediction, time it end to end.

use std::path::Path;
use std::time::Duration;

use image::{DynamicImage, RgbImage};

use crate::error::Result;
use crate::model::decode::{DecodeOptions, Prediction};
use crate::model::engine::Outputs;
use crate::model::manifest::OutputSpec;
use crate::model::preprocess::{as_rgb8, Transform};
use crate::model::{Model, Pipeline};

/// The model or pipeline a suite checks.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// One bundle's model: inputs are perturbed at the model's input size.
    Model(&'a Model),
    /// A pipeline: inputs are whole images, perturbed at their own size.
    Pipeline(&'a Pipeline),
}

impl<'a> From<&'a Model> for Subject<'a> {
    fn from(m: &'a Model) -> Subject<'a> {
        Subject::Model(m)
    }
}

impl<'a> From<&'a Pipeline> for Subject<'a> {
    fn from(p: &'a Pipeline) -> Subject<'a> {
        Subject::Pipeline(p)
    }
}

/// What running one input gave: the raw outputs (a model's, when asked for) and a prediction
/// per decision threshold asked for.
pub(crate) struct RunOutcome {
    pub(crate) raw: Option<Outputs>,
    pub(crate) predictions: Vec<Result<Prediction>>,
}

impl Subject<'_> {
    /// The model, if this is one.
    pub fn model(&self) -> Option<&Model> {
        match self {
            Subject::Model(m) => Some(m),
            Subject::Pipeline(_) => None,
        }
    }

    /// The output kind decided on (a pipeline's lines are always decoded).
    pub(crate) fn is_raw(&self) -> bool {
        matches!(self, Subject::Model(m) if matches!(m.bundle().manifest().output, OutputSpec::Raw(_)))
    }

    /// Reads an image file within the subject's pixel limit.
    pub fn load_image(&self, path: &Path) -> Result<DynamicImage> {
        match self {
            Subject::Model(m) => m.load_image(path),
            Subject::Pipeline(p) => p.load_image(path),
        }
    }

    /// The image where perturbations apply: a model's input size, or a pipeline's whole image.
    pub fn resize(&self, image: &DynamicImage) -> (RgbImage, Transform) {
        match self {
            Subject::Model(m) => m.resize(image),
            Subject::Pipeline(_) => {
                let rgb = as_rgb8(image).into_owned();
                let (w, h) = rgb.dimensions();
                let identity = Transform {
                    scale_x: 1.0,
                    scale_y: 1.0,
                    offset_x: 0.0,
                    offset_y: 0.0,
                    width: w,
                    height: h,
                    content: [0, 0, w, h],
                };
                (rgb, identity)
            }
        }
    }

    /// Runs an image made by [`Subject::resize`] (perhaps perturbed): raw outputs if
    /// `keep_raw`, and a prediction per score threshold in `scores`.
    pub(crate) fn run(
        &self,
        img: &RgbImage,
        transform: Transform,
        scores: &[Option<f32>],
        keep_raw: bool,
    ) -> Result<RunOutcome> {
        match self {
            Subject::Model(m) => {
                let (outputs, transform) = m.run_resized(img, transform)?;
                let predictions = scores
                    .iter()
                    .map(|&threshold| {
                        let options = DecodeOptions { threshold, ..DecodeOptions::default() };
                        m.decode(&outputs, &transform, options)
                    })
                    .collect();
                Ok(RunOutcome { raw: keep_raw.then_some(outputs), predictions })
            }
            Subject::Pipeline(p) => {
                // Each stage decides with its own thresholds: one reading serves every ask.
                let lines = p.read(&DynamicImage::ImageRgb8(img.clone()))?.lines;
                let predictions =
                    scores.iter().map(|_| Ok(Prediction::Lines { lines: lines.clone() })).collect();
                Ok(RunOutcome { raw: None, predictions })
            }
        }
    }

    /// One end-to-end run of a decoded image (what serving a frame costs).
    pub fn time(&self, image: &DynamicImage) -> Result<Duration> {
        match self {
            Subject::Model(m) => Ok(m.infer(image, DecodeOptions::default())?.elapsed),
            Subject::Pipeline(p) => Ok(p.read(image)?.elapsed),
        }
    }
}
