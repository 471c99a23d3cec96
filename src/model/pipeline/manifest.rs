//! `pipeline.toml`: a bundle that composes bundles. Each stage is a bundle of its own (verified
//! and gated as ever); the pipeline says how their results flow into each other.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::{parse_toml, read_text, resolve};
use crate::model::bundle::MANIFEST_FILE;
use crate::model::manifest::{Suites, Tier};

/// File name of the manifest inside a pipeline directory.
pub const PIPELINE_FILE: &str = "pipeline.toml";

/// `pipeline.toml`, as written by a person.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineManifest {
    /// Pipeline name (reports, metrics).
    pub name: String,
    /// Pipeline version.
    pub version: String,
    /// What it does, for people.
    #[serde(default)]
    pub description: String,
    /// The stage bundles.
    pub stages: Stages,
    /// How the direction classifier's answer turns a crop.
    #[serde(default)]
    pub direction: DirectionSpec,
    /// Which read lines are kept.
    #[serde(default)]
    pub lines: LineSpec,
    /// The pipeline's own suites, over whole images (the stages keep theirs).
    #[serde(default)]
    pub suites: Option<Suites>,
}

/// `[stages]`: bundle directories, relative to the pipeline's directory (usually siblings,
/// `../ppocr-det`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stages {
    /// Finds text lines (`segmentation`, `detection` or `yolo` output).
    pub detector: String,
    /// Tells upright crops from upside-down ones (`classification`); optional.
    #[serde(default)]
    pub direction: Option<String>,
    /// Reads a line (`ctc` output).
    pub recognizer: String,
}

/// `[direction]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectionSpec {
    /// The direction classifier's label for an upside-down crop.
    pub turn_label: String,
    /// Turn a crop only when that label scores at least this (PaddleOCR's `cls_thresh`).
    pub min_score: f32,
    /// `line`: each crop is turned on its own vote (PaddleOCR); `page`: every crop is turned
    /// when most of the page's crops vote so (a page is either upright or not, and one
    /// misjudged line then cannot be read upside down).
    pub per: Vote,
}

/// Whose vote turns a crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vote {
    /// Each line its own.
    #[default]
    Line,
    /// The page's majority.
    Page,
}

impl Vote {
    /// As written in `pipeline.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Vote::Line => "line",
            Vote::Page => "page",
        }
    }
}

impl Default for DirectionSpec {
    fn default() -> DirectionSpec {
        DirectionSpec { turn_label: "180".into(), min_score: 0.9, per: Vote::Line }
    }
}

/// `[lines]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LineSpec {
    /// Lines read with a lower confidence are dropped (PaddleOCR's `drop_score`).
    pub min_confidence: f32,
    /// A crop at least this many times taller than wide is vertical text: turned a quarter
    /// counter-clockwise before reading, as PaddleOCR does.
    pub vertical_ratio: f32,
    /// At most this many detected lines are read per image (best detection scores first).
    pub max_lines: usize,
    /// The detector's `unclip_ratio` for crops, when the lines should be cut tighter (or
    /// looser) than the boxes the detector's suite judges.
    pub unclip_ratio: Option<f32>,
    /// Each crop grows by this share of its line's height on every side, never past half the
    /// gap to a neighbouring line (see [`super::margin::grow`]); 0 crops at the box.
    pub margin: f32,
}

impl Default for LineSpec {
    fn default() -> LineSpec {
        LineSpec {
            min_confidence: 0.5,
            vertical_ratio: 1.5,
            max_lines: 200,
            unclip_ratio: None,
            margin: 0.0,
        }
    }
}

/// The stage directories a pipeline names, resolved and checked to be bundles.
#[derive(Debug, Clone)]
pub struct StageDirs {
    /// The detector's bundle.
    pub detector: PathBuf,
    /// The direction classifier's bundle, if any.
    pub direction: Option<PathBuf>,
    /// The recogniser's bundle.
    pub recognizer: PathBuf,
}

impl PipelineManifest {
    /// Reads and validates `dir/pipeline.toml`.
    pub fn load(dir: &Path) -> Result<PipelineManifest> {
        let file = dir.join(PIPELINE_FILE);
        let m: PipelineManifest = parse_toml(&file, &read_text(&file)?)?;
        let bad = |key: &str, message: String| Err(Error::config(&file, key, message));
        if m.name.trim().is_empty() {
            return bad("name", "is empty".into());
        }
        if !(0.0..=1.0).contains(&m.direction.min_score) {
            return bad(
                "direction.min_score",
                format!("{} is not within 0..=1", m.direction.min_score),
            );
        }
        if !(0.0..=1.0).contains(&m.lines.min_confidence) {
            return bad(
                "lines.min_confidence",
                format!("{} is not within 0..=1", m.lines.min_confidence),
            );
        }
        if !(m.lines.vertical_ratio.is_finite() && m.lines.vertical_ratio >= 1.0) {
            return bad("lines.vertical_ratio", format!("{} is not ≥ 1", m.lines.vertical_ratio));
        }
        if let Some(r) =
            m.lines.unclip_ratio.filter(|r| !(r.is_finite() && (0.0..=10.0).contains(r)))
        {
            return bad("lines.unclip_ratio", format!("{r} is not within 0..=10"));
        }
        if !(m.lines.margin.is_finite() && (0.0..=2.0).contains(&m.lines.margin)) {
            return bad("lines.margin", format!("{} is not within 0..=2", m.lines.margin));
        }
        if m.lines.max_lines == 0 || m.lines.max_lines > 10_000 {
            return bad(
                "lines.max_lines",
                format!("{} is not within 1..=10000", m.lines.max_lines),
            );
        }
        for tier in [Tier::Boot, Tier::Acceptance, Tier::Recheck, Tier::Emulated] {
            if let Some(rel) = m.suite_for(tier) {
                resolve(dir, &file, &format!("suites.{}", tier.name()), rel)?;
            }
        }
        Ok(m)
    }

    /// The pipeline's own suite for `tier`, relative to its directory.
    pub fn suite_for(&self, tier: Tier) -> Option<&str> {
        let s = self.suites.as_ref()?;
        match tier {
            Tier::Boot => s.boot.as_deref(),
            Tier::Acceptance => s.acceptance.as_deref(),
            Tier::Recheck => s.recheck.as_deref(),
            Tier::Emulated => s.emulated.as_deref(),
        }
    }

    /// The stages' bundle directories. Unlike a bundle's files, a stage may sit beside the
    /// pipeline (`../ppocr-det`): it is a bundle of its own, opened and verified as one.
    pub fn stage_dirs(&self, dir: &Path) -> Result<StageDirs> {
        let file = dir.join(PIPELINE_FILE);
        let stage = |key: &str, rel: &str| -> Result<PathBuf> {
            let path = Path::new(rel);
            if rel.is_empty() || path.is_absolute() {
                return Err(Error::config(
                    &file,
                    key,
                    format!("{rel:?} is not a bundle directory relative to the pipeline"),
                ));
            }
            let joined = dir.join(path);
            if !joined.join(MANIFEST_FILE).is_file() {
                return Err(Error::config(
                    &file,
                    key,
                    format!("{} is not a bundle (no {MANIFEST_FILE} in it)", joined.display()),
                ));
            }
            Ok(joined)
        };
        Ok(StageDirs {
            detector: stage("stages.detector", &self.stages.detector)?,
            direction: self
                .stages
                .direction
                .as_deref()
                .map(|rel| stage("stages.direction", rel))
                .transpose()?,
            recognizer: stage("stages.recognizer", &self.stages.recognizer)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join(PIPELINE_FILE), text).unwrap();
    }

    const MINIMAL: &str =
        "name = \"p\"\nversion = \"1\"\n[stages]\ndetector = \"../det\"\nrecognizer = \"../rec\"\n";

    #[test]
    fn defaults_follow_paddleocr() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), MINIMAL);
        let m = PipelineManifest::load(tmp.path()).unwrap();
        assert_eq!(m.direction.turn_label, "180");
        assert_eq!(m.direction.min_score, 0.9);
        assert_eq!(m.lines.min_confidence, 0.5);
        assert_eq!(m.lines.vertical_ratio, 1.5);
    }

    #[test]
    fn bad_values_name_their_key() {
        let tmp = tempfile::tempdir().unwrap();
        for (extra, key) in [
            ("[lines]\nmin_confidence = 1.5\n", "lines.min_confidence"),
            ("[lines]\nvertical_ratio = 0.5\n", "lines.vertical_ratio"),
            ("[lines]\nmax_lines = 0\n", "lines.max_lines"),
            ("[lines]\nunclip_ratio = -1\n", "lines.unclip_ratio"),
            ("[lines]\nmargin = 3\n", "lines.margin"),
            ("[lines]\nmargin = nan\n", "lines.margin"),
            ("[direction]\nper = \"word\"\n", "direction.per"),
            ("[direction]\nmin_score = -1\n", "direction.min_score"),
            ("[suites]\nboot = \"../x.toml\"\n", "suites.boot"),
            ("[lines]\nmin_confidnce = 0.5\n", "min_confidnce"),
        ] {
            write(tmp.path(), &format!("{MINIMAL}{extra}"));
            let err = PipelineManifest::load(tmp.path()).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(PIPELINE_FILE), "{err}");
        }
    }

    #[test]
    fn stages_must_be_bundles() {
        let tmp = tempfile::tempdir().unwrap();
        let pipe = tmp.path().join("p");
        std::fs::create_dir_all(&pipe).unwrap();
        std::fs::create_dir_all(tmp.path().join("det")).unwrap();
        std::fs::write(tmp.path().join("det").join(MANIFEST_FILE), "").unwrap();
        write(&pipe, MINIMAL);
        let m = PipelineManifest::load(&pipe).unwrap();
        let err = m.stage_dirs(&pipe).unwrap_err().to_string();
        assert!(err.contains("stages.recognizer") && err.contains("not a bundle"), "{err}");
        std::fs::create_dir_all(tmp.path().join("rec")).unwrap();
        std::fs::write(tmp.path().join("rec").join(MANIFEST_FILE), "").unwrap();
        let dirs = m.stage_dirs(&pipe).unwrap();
        assert!(dirs.direction.is_none());
        assert!(dirs.detector.ends_with("det"));
    }
}
