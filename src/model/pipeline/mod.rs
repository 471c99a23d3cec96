//! Pipelines: bundles composed into one reader. The OCR pipeline runs a text detector over the
//! whole image, crops each line it finds (turning vertical ones a quarter), asks a direction
//! classifier whether a crop is upside down (turning it if so), and reads each crop with a
//! recogniser: lines of text with their boxes and confidences, in reading order.
//!
//! Every stage is a bundle of its own, opened, verified and gated as any bundle; the pipeline
//! adds only the flow between them (`pipeline.toml`, see [`manifest`]).

mod lines;
pub mod manifest;
mod margin;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::DynamicImage;
use serde::Serialize;

pub use lines::{page_text, reading_order, TextLine};
pub use manifest::{PipelineManifest, StageDirs, Vote, PIPELINE_FILE};

use super::decode::{DecodeOptions, Prediction};
use super::manifest::OutputSpec;
use super::preprocess::{as_rgb8, load_image_limited};
use super::Model;
use crate::error::{Error, Result};

/// A crop's longest side: a rotated box cannot ask for more pixels than this (a detector's
/// boxes lie within the image, but its corners are not clamped).
const MAX_CROP_SIDE: u32 = 8192;

/// An opened pipeline: its manifest and its stages' models.
#[derive(Debug, Clone)]
pub struct Pipeline {
    dir: PathBuf,
    manifest: PipelineManifest,
    detector: Model,
    direction: Option<Model>,
    recognizer: Model,
}

/// What a pipeline read in one image.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    /// The lines read, in reading order.
    pub lines: Vec<TextLine>,
    /// Most lines were upside down: the page was read turned (and its lines ordered so).
    pub upside_down: bool,
    /// End to end, every stage included.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Reading {
    /// The page's text, one line per line.
    pub fn text(&self) -> String {
        page_text(&self.lines)
    }
}

/// The stages' models, opened by the caller (the gate opens and checks each stage first).
#[derive(Debug)]
pub struct StageModels {
    /// The detector.
    pub detector: Model,
    /// The direction classifier, when the pipeline names one.
    pub direction: Option<Model>,
    /// The recogniser.
    pub recognizer: Model,
}

/// `dir` holds a pipeline (a `pipeline.toml`).
pub fn is_pipeline(dir: &Path) -> bool {
    dir.join(PIPELINE_FILE).is_file()
}

impl Pipeline {
    /// Opens the pipeline in `dir` and every stage bundle it names.
    pub fn open(dir: impl AsRef<Path>) -> Result<Pipeline> {
        let dir = dir.as_ref();
        let manifest = PipelineManifest::load(dir)?;
        let stages = manifest.stage_dirs(dir)?;
        let models = StageModels {
            detector: Model::open(&stages.detector)?,
            direction: stages.direction.as_ref().map(Model::open).transpose()?,
            recognizer: Model::open(&stages.recognizer)?,
        };
        Pipeline::from_models(dir, manifest, models)
    }

    /// Assembles a pipeline from stage models already opened, checking each is the kind its
    /// stage needs.
    pub fn from_models(
        dir: &Path,
        manifest: PipelineManifest,
        models: StageModels,
    ) -> Result<Pipeline> {
        let file = dir.join(PIPELINE_FILE);
        let kind = |m: &Model| m.bundle().manifest().output.kind_name();
        let wrong = |key: &str, m: &Model, want: &str| {
            Error::config(
                &file,
                key,
                format!(
                    "{} has output kind `{}`; this stage needs {want}",
                    m.bundle().dir().display(),
                    kind(m)
                ),
            )
        };
        let StageModels { detector, direction, recognizer } = models;
        if !matches!(
            detector.bundle().manifest().output,
            OutputSpec::Segmentation(_)
                | OutputSpec::Detection(_)
                | OutputSpec::Yolo(_)
                | OutputSpec::Gfl(_)
        ) {
            return Err(wrong(
                "stages.detector",
                &detector,
                "a detector (segmentation, detection or yolo)",
            ));
        }
        if let Some(d) = &direction {
            if !matches!(d.bundle().manifest().output, OutputSpec::Classification(_)) {
                return Err(wrong("stages.direction", d, "`classification`"));
            }
            let labels = d.bundle().labels();
            if !labels.iter().any(|l| l == &manifest.direction.turn_label) {
                return Err(Error::config(
                    &file,
                    "direction.turn_label",
                    format!(
                        "{:?} is not a label of {} (labels: {})",
                        manifest.direction.turn_label,
                        d.bundle().dir().display(),
                        labels.join(", ")
                    ),
                ));
            }
        }
        if !matches!(recognizer.bundle().manifest().output, OutputSpec::Ctc(_)) {
            return Err(wrong("stages.recognizer", &recognizer, "`ctc`"));
        }
        Ok(Pipeline { dir: dir.to_path_buf(), manifest, detector, direction, recognizer })
    }

    /// The pipeline's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The parsed `pipeline.toml`.
    pub fn manifest(&self) -> &PipelineManifest {
        &self.manifest
    }

    /// The stages' models, detector first.
    pub fn stages(&self) -> Vec<&Model> {
        let mut out = vec![&self.detector];
        out.extend(self.direction.as_ref());
        out.push(&self.recognizer);
        out
    }

    /// Runs inference on `threads` threads in every stage (see [`Model::set_threads`]).
    pub fn set_threads(&mut self, threads: usize) -> Result<()> {
        self.detector.set_threads(threads)?;
        if let Some(d) = &mut self.direction {
            d.set_threads(threads)?;
        }
        self.recognizer.set_threads(threads)
    }

    /// Reads an image file within the detector's pixel limit.
    pub fn load_image(&self, path: &Path) -> Result<DynamicImage> {
        let limit = self.detector.bundle().manifest().input.image_pixel_limit();
        load_image_limited(path, limit)
    }

    /// Reads every line of text in `image`.
    pub fn read(&self, image: &DynamicImage) -> Result<Reading> {
        let start = Instant::now();
        let spec = &self.manifest.lines;
        let options = DecodeOptions {
            top: Some(spec.max_lines),
            unclip_ratio: spec.unclip_ratio,
            ..DecodeOptions::default()
        };
        let detections = match predict(&self.detector, image, options)? {
            Prediction::Detections { detections, .. } => detections,
            _ => unreachable!("the detector's kind is checked when the pipeline opens"),
        };
        let rgb = as_rgb8(image);
        // A rotated box (the segmentation decoder's corners) is laid flat; else the box.
        let quads: Vec<margin::Quad> = detections
            .iter()
            .map(|d| match d.keypoints[..] {
                [a, b, c, d] => [a, b, c, d],
                _ => margin::quad_of(d.bbox),
            })
            .collect();
        let grown = margin::grow(&quads, spec.margin);
        let cut = |det: &super::decode::Detection, quad: margin::Quad| match det.keypoints.len() {
            4 => lines::warp(&rgb, quad, MAX_CROP_SIDE),
            _ => lines::crop(&rgb, margin::bounds(&quad)),
        };
        // Crops, turned to read along their length, with the direction stage's vote. The
        // direction stage judges the line as detected, as its page vote was measured: on the
        // grown crops of the upside-down scanned page (a margin of a tenth of the line's height)
        // too few lines voted to turn it, and the page read at CER 0.99. The recogniser reads
        // the grown crop.
        let mut crops = Vec::new();
        for ((det, quad), tight) in detections.into_iter().zip(grown).zip(quads) {
            let Some(flat) = cut(&det, quad) else { continue };
            let (crop, turned) = lines::stand_up(flat, spec.vertical_ratio);
            let crop = DynamicImage::ImageRgb8(crop);
            let vote = match &self.direction {
                // Turned as the grown crop was, whatever its own proportions.
                Some(direction) if spec.margin > 0.0 => match cut(&det, tight) {
                    Some(t) if turned == 90 => self.upside_down_vote(
                        direction,
                        &DynamicImage::ImageRgb8(image::imageops::rotate270(&t)),
                    )?,
                    Some(t) => self.upside_down_vote(direction, &DynamicImage::ImageRgb8(t))?,
                    None => false,
                },
                Some(direction) => self.upside_down_vote(direction, &crop)?,
                None => false,
            };
            crops.push((det, crop, turned, vote));
        }
        let page_turned = crops.iter().filter(|c| c.3).count() * 2 > crops.len();
        let mut lines = Vec::new();
        for (det, mut crop, mut turned, vote) in crops {
            let turn = match self.manifest.direction.per {
                Vote::Line => vote,
                Vote::Page => page_turned,
            };
            if turn {
                crop = crop.rotate180();
                turned += 180;
            }
            let read = predict(&self.recognizer, &crop, DecodeOptions::default())?;
            let Prediction::Text { text, confidence, .. } = read else {
                unreachable!("the recogniser's kind is checked when the pipeline opens")
            };
            log::debug!("line {:?}: {text:?} ({confidence:.3}), turned {turned}", det.bbox);
            if text.trim().is_empty() || confidence < spec.min_confidence {
                continue;
            }
            lines.push(TextLine { text, confidence, score: det.score, bbox: det.bbox, turned });
        }
        lines::reading_order(&mut lines);
        let upside_down = lines::upside_down(&lines);
        Ok(Reading { lines, upside_down, elapsed: start.elapsed() })
    }

    /// The direction stage says `crop` is upside down, sure enough to turn it.
    fn upside_down_vote(&self, direction: &Model, crop: &DynamicImage) -> Result<bool> {
        let d = &self.manifest.direction;
        Ok(match predict(direction, crop, DecodeOptions::default())? {
            Prediction::Classes { classes } => {
                let top = classes.first();
                log::debug!("direction: {:?}", top.map(|c| (&c.label, c.score)));
                top.is_some_and(|c| c.label == d.turn_label && c.score >= d.min_score)
            }
            _ => unreachable!("the direction stage's kind is checked when the pipeline opens"),
        })
    }

    /// Reads an image file.
    pub fn read_path(&self, path: &Path) -> Result<Reading> {
        self.read(&self.load_image(path)?)
    }
}

/// A stage's decision on `image`. Unlike [`Model::infer`], no envelope measures are taken: a
/// reading reports none, so measuring each crop would be serving-path work thrown away.
fn predict(model: &Model, image: &DynamicImage, options: DecodeOptions) -> Result<Prediction> {
    let (outputs, transform) = model.run_raw(image)?;
    model.decode(&outputs, &transform, options)
}
