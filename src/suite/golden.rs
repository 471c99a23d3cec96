//! Golden outputs: the raw outputs of chosen cases recorded on a reference machine
//! (`preflight record`), and their comparison with this machine's outputs (parity checks).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec::{CheckKind, Suite, Tolerance};
use crate::error::{Error, Result};
use crate::model::Model;

/// Schema name written into golden files.
pub const GOLDEN_SCHEMA: &str = "preflight.golden/v1";

/// A golden-outputs file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Golden {
    /// Always [`GOLDEN_SCHEMA`].
    pub schema: String,
    /// sha256 of the model the outputs came from.
    pub model_sha256: String,
    /// Target triple of the recording machine.
    pub recorded_on: String,
    /// CPU of the recording machine.
    pub recorded_cpu: String,
    /// Triple and instruction-set extensions of the recording machine
    /// ([`kernel_kind`](crate::target::kernel_kind)): where it matches this machine's, a
    /// parity check may hold the outputs to `tolerance_where_recorded`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_kernels: Option<String>,
    /// tract version that produced them (empty when another engine did).
    pub tract_version: String,
    /// The engine that produced them when it was not this tract (`onnxruntime 1.20.1`):
    /// parity against an independent reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Per case, per output.
    pub cases: Vec<GoldenCase>,
}

/// The outputs of one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenCase {
    /// Case id in the suite.
    pub id: String,
    /// The model's outputs, in model order.
    pub outputs: Vec<GoldenTensor>,
}

/// One recorded output tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldenTensor {
    /// Output name.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// How one output compares with its golden values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Diff {
    /// Largest absolute difference.
    pub max_abs: f32,
    /// Values outside `atol + rtol·|golden|`.
    pub outliers: usize,
    /// Values compared.
    pub count: usize,
}

/// The case ids the suite's parity checks name, in suite order and each once, and the golden
/// file the first parity check names (relative to the suite's directory).
pub fn parity_cases(suite: &Suite) -> (Vec<String>, Option<PathBuf>) {
    let mut ids: Vec<String> = Vec::new();
    let mut golden = None;
    for check in &suite.checks {
        if let CheckKind::Parity(p) = &check.kind {
            golden.get_or_insert_with(|| crate::files::dir_of(&suite.path).join(&p.golden));
            for id in &p.cases {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
    }
    (ids, golden)
}

/// Records the raw outputs of `case_ids`, or of all the suite's parity cases when it is
/// empty; an error when that leaves nothing to record.
pub fn record(model: &Model, suite: &Suite, case_ids: &[String]) -> Result<Golden> {
    let parity;
    let case_ids = if case_ids.is_empty() {
        parity = parity_cases(suite).0;
        &parity[..]
    } else {
        case_ids
    };
    if case_ids.is_empty() {
        return Err(Error::config(&suite.path, "checks", "no parity check names cases to record"));
    }
    let mut cases = Vec::new();
    for id in case_ids {
        let case = suite.case(id).ok_or_else(|| {
            Error::config(&suite.path, "checks.cases", format!("no case with id {id:?}"))
        })?;
        let image = model.load_image(&case.path)?;
        let (outputs, _) = model.run_raw(&image)?;
        let outputs = outputs
            .tensors
            .into_iter()
            .map(|t| GoldenTensor { name: t.name, shape: t.shape, data: t.data })
            .collect();
        cases.push(GoldenCase { id: id.clone(), outputs });
    }
    Ok(Golden {
        schema: GOLDEN_SCHEMA.into(),
        model_sha256: model.bundle().model_sha256().into(),
        recorded_on: crate::target::host_triple().into(),
        recorded_cpu: crate::target::host_cpu(),
        recorded_kernels: Some(crate::target::kernel_kind()),
        tract_version: crate::TRACT_VERSION.into(),
        engine: None,
        cases,
    })
}

impl Golden {
    /// Reads a golden file.
    pub fn load(path: &Path) -> Result<Golden> {
        let bytes = crate::files::read_bounded(path, crate::files::MAX_GOLDEN_BYTES)?;
        let golden: Golden = serde_json::from_slice(&bytes)
            .map_err(|e| Error::config(path, "(json)", e.to_string()))?;
        if golden.schema != GOLDEN_SCHEMA {
            return Err(Error::config(
                path,
                "schema",
                format!("expected {GOLDEN_SCHEMA:?}, got {:?}", golden.schema),
            ));
        }
        Ok(golden)
    }

    /// Writes the file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self)
            .map_err(|e| Error::config(path, "(json)", e.to_string()))?;
        crate::files::write_atomically(path, text.as_bytes())
    }
}

/// Compares `actual` with `golden` under `tolerance`.
pub fn compare(golden: &[f32], actual: &[f32], tolerance: Tolerance) -> Diff {
    let (atol, rtol, _) = tolerance.limits();
    let mut diff = Diff { count: golden.len(), ..Diff::default() };
    for (&g, &a) in golden.iter().zip(actual) {
        let d = (a - g).abs();
        // NaN anywhere is a difference, never a match.
        let d = if d.is_nan() { f32::INFINITY } else { d };
        diff.max_abs = diff.max_abs.max(d);
        if d > atol + rtol * g.abs() {
            diff.outliers += 1;
        }
    }
    diff
}

/// Max abs diff per output name, over all cases (for reports).
pub fn per_output_max(diffs: &[(String, Diff)]) -> BTreeMap<String, f32> {
    let mut out = BTreeMap::new();
    for (name, d) in diffs {
        let e = out.entry(name.clone()).or_insert(0.0f32);
        *e = e.max(d.max_abs);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_close_and_approximate() {
        let g = [1.0f32, -2000.0, 0.5];
        assert_eq!(compare(&g, &g, Tolerance::Exact).outliers, 0);
        let a = [1.0f32, -2000.05, 0.5];
        assert_eq!(compare(&g, &a, Tolerance::Exact).outliers, 1);
        // 0.05 on 2000 is 2.5e-5 relative: outside close (rtol 1e-4 gives 0.2: inside).
        assert_eq!(compare(&g, &a, Tolerance::Close).outliers, 0);
        let far = [1.01f32, -2000.0, 0.5];
        assert_eq!(compare(&g, &far, Tolerance::Close).outliers, 1);
        assert_eq!(compare(&g, &far, Tolerance::Approximate).outliers, 1);
        let d = compare(&g, &far, Tolerance::Approximate);
        assert!((d.max_abs - 0.01).abs() < 1e-6 && d.count == 3);
    }

    #[test]
    fn nan_never_matches() {
        let d = compare(&[1.0], &[f32::NAN], Tolerance::Approximate);
        assert_eq!(d.outliers, 1);
        assert!(d.max_abs.is_infinite());
    }
}
