//! A bundle made ready to serve: verified bundle, optimized engine and decoder, composed into
//! one image → prediction call.

use std::path::Path;
use std::time::{Duration, Instant};

use image::DynamicImage;

use super::bundle::Bundle;
use super::condition::Condition;
use super::decode::{DecodeOptions, Decoder, Prediction};
use super::engine::{Engine, Outputs};
use super::envelope::{Envelope, EnvelopeVerdict};
use super::preprocess::{self, InputTensor, Transform};
use super::risk::{decision_threshold, Signals, FLOOR};
use crate::error::{Error, Result};

/// An opened bundle with its model loaded and optimized.
#[derive(Debug, Clone)]
pub struct Model {
    bundle: Bundle,
    engine: Engine,
    decoder: Decoder,
    envelope: Option<Envelope>,
}

/// The result of one inference.
#[derive(Debug, Clone)]
pub struct Inference {
    /// The decoded result.
    pub prediction: Prediction,
    /// The raw outputs the prediction was decoded from.
    pub outputs: Outputs,
    /// End to end: preprocessing, plan run and decoding.
    pub elapsed: Duration,
    /// The frame's condition measures, when the model has an envelope to judge them by.
    pub condition: Option<Condition>,
    /// The frame judged against the envelope, when the model has one.
    pub envelope: Option<EnvelopeVerdict>,
}

impl Model {
    /// Opens the bundle in `dir` and builds its model.
    pub fn open(dir: impl AsRef<Path>) -> Result<Model> {
        Model::from_bundle(Bundle::open(dir)?)
    }

    /// Builds the model of an already opened bundle, with its recorded envelope if it
    /// declares one.
    pub fn from_bundle(bundle: Bundle) -> Result<Model> {
        let mut model = Model::without_envelope(bundle)?;
        if let Some(path) = model.bundle.envelope_path() {
            model.envelope = Some(Envelope::load(&path, model.bundle.model_sha256())?);
        }
        Ok(model)
    }

    /// Builds the model without reading the bundle's envelope: for recording a new one.
    pub fn without_envelope(bundle: Bundle) -> Result<Model> {
        let engine = Engine::load(&bundle)?;
        let decoder = Decoder::new(&bundle, &engine)?;
        Ok(Model { bundle, engine, decoder, envelope: None })
    }

    /// Runs inference on `threads` threads (0: one per core; 1, the default: the calling
    /// thread). Results match one thread's within the parity tolerance.
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        self.engine.set_threads(threads)
    }

    /// The operating envelope frames are judged by, if any.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// Replaces the envelope (the runtime installs the one its boot suite derived when the
    /// bundle records none).
    pub fn set_envelope(&mut self, envelope: Option<Envelope>) {
        self.envelope = envelope;
    }

    /// The bundle this model came from.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// The tract engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Preprocesses `image` into the model's input tensor.
    pub fn prepare(&self, image: &DynamicImage) -> (InputTensor, Transform) {
        preprocess::preprocess(image, &self.bundle.manifest().input)
    }

    /// Preprocesses and runs `image`, without decoding: the raw outputs and the transform
    /// needed to decode them later, at any threshold.
    pub fn run_raw(&self, image: &DynamicImage) -> Result<(Outputs, Transform)> {
        let (tensor, transform) = self.prepare(image);
        Ok((self.engine.run(&tensor)?, transform))
    }

    /// Runs an image already brought to the input size (by [`preprocess::resize`]),
    /// keeping the `transform` of that resize so results map back to the original image.
    /// Behaviour checks perturb images at this point, as ImageNet-C corrupts images at the
    /// model's input resolution.
    pub fn run_resized(
        &self,
        resized: &image::RgbImage,
        transform: Transform,
    ) -> Result<(Outputs, Transform)> {
        let tensor = preprocess::to_tensor(resized, &self.bundle.manifest().input, &transform);
        Ok((self.engine.run(&tensor)?, transform))
    }

    /// Brings an image to the input size per the manifest (the first half of preprocessing).
    pub fn resize(&self, image: &DynamicImage) -> (image::RgbImage, Transform) {
        preprocess::resize(&preprocess::as_rgb8(image), &self.bundle.manifest().input)
    }

    /// Decodes outputs of [`Model::run_raw`].
    pub fn decode(
        &self,
        outputs: &Outputs,
        transform: &Transform,
        options: DecodeOptions,
    ) -> Result<Prediction> {
        self.decoder
            .decode(outputs, transform, options)
            .map_err(|m| Error::inference(self.engine.model_path(), m))
    }

    /// Runs an image end to end; with an envelope, the frame's condition is measured on the
    /// resized input and the frame judged (with a fitted flag, on the outputs decoded once
    /// more at the flag's floor too).
    pub fn infer(&self, image: &DynamicImage, options: DecodeOptions) -> Result<Inference> {
        let start = Instant::now();
        let (resized, transform) = self.resize(image);
        let condition =
            self.envelope.as_ref().map(|_| Condition::measure(&resized, transform.content));
        let (outputs, transform) = self.run_resized(&resized, transform)?;
        let prediction = self.decode(&outputs, &transform, options)?;
        let mut envelope = None;
        if let (Some(e), Some(c)) = (&self.envelope, condition) {
            let signals = self.signals(c, &outputs, &transform, &prediction, options, e)?;
            envelope = Some(e.judge(&signals));
        }
        Ok(Inference { prediction, outputs, elapsed: start.elapsed(), condition, envelope })
    }

    /// The decision threshold the envelope's fitted flag reads scores against, when the
    /// output kind decides by one: `options`' or the manifest's.
    pub fn decision_threshold(&self, options: DecodeOptions) -> Option<f32> {
        decision_threshold(&self.bundle.manifest().output).map(|t| options.threshold.unwrap_or(t))
    }

    /// A frame's signals for `envelope`: the prediction made, or — when a fitted flag will
    /// read them — the outputs decoded again down to the flag's floor.
    fn signals(
        &self,
        condition: Condition,
        outputs: &Outputs,
        transform: &Transform,
        prediction: &Prediction,
        options: DecodeOptions,
        envelope: &Envelope,
    ) -> Result<Signals> {
        let threshold = self.decision_threshold(options);
        if envelope.risk.is_none() {
            return Ok(Signals::of(condition, prediction, threshold));
        }
        // As the suite fitted it: the manifest's other decoding parameters (no `top` cut).
        let floor = DecodeOptions { threshold: threshold.map(|t| t * FLOOR), ..Default::default() };
        let low = self.decode(outputs, transform, floor)?;
        Ok(Signals::of(condition, &low, threshold))
    }

    /// Reads an image file and runs it end to end.
    pub fn infer_path(&self, path: &Path, options: DecodeOptions) -> Result<Inference> {
        let image = self.load_image(path)?;
        self.infer(&image, options)
    }

    /// Reads an image file within the bundle's pixel limit (`input.max_image_pixels`).
    pub fn load_image(&self, path: &Path) -> Result<DynamicImage> {
        let limit = self.bundle().manifest().input.image_pixel_limit();
        preprocess::load_image_limited(path, limit)
    }
}
