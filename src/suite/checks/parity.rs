//! `parity`: the model's raw outputs on named cases against a golden file recorded elsewhere
//! (another architecture, or onnxruntime), within a named tolerance.

use super::{status, Checked, Outcome};
use crate::files::resolve;
use crate::suite::golden::{compare, per_output_max, Golden};
use crate::suite::run::Runner;
use crate::suite::spec::ParitySpec;

impl Runner<'_> {
    pub(crate) fn parity(&mut self, a: &ParitySpec) -> Checked {
        let dir = crate::files::dir_of(&self.suite.path);
        let path = resolve(dir, &self.suite.path, "golden", &a.golden)?;
        let golden = Golden::load(&path)?;
        let model = self
            .subject
            .model()
            .ok_or("a pipeline keeps no raw outputs: parity is checked stage by stage")?;
        if golden.model_sha256 != model.bundle().model_sha256() {
            return Err(format!(
                "{} was recorded for model {}, this bundle's is {}",
                path.display(),
                golden.model_sha256,
                model.bundle().model_sha256()
            )
            .into());
        }
        let here = crate::target::kernel_kind();
        let same_kind = golden.recorded_kernels.as_deref() == Some(here.as_str());
        let tolerance = match a.tolerance_where_recorded {
            Some(t) if same_kind => t,
            _ => a.tolerance,
        };
        let (atol, rtol, outlier_ratio) = tolerance.limits();
        let mut diffs = Vec::new();
        let mut failures = Vec::new();
        let (mut outliers, mut count) = (0usize, 0usize);
        for id in &a.cases {
            let case =
                self.suite.case(id).cloned().ok_or_else(|| format!("no case with id {id}"))?;
            let gold = golden
                .cases
                .iter()
                .find(|c| &c.id == id)
                .ok_or_else(|| format!("{} has no outputs for case {id}", path.display()))?;
            let raw = self.clean_raw(&case).map_err(|e| format!("case {id}: {e}"))?;
            if gold.outputs.is_empty() {
                return Err(format!("{} holds no outputs for case {id}", path.display()).into());
            }
            let mut case_bad = false;
            for g in &gold.outputs {
                let t = raw.get(&g.name).ok_or_else(|| {
                    format!("model has no output {:?} recorded in the golden file", g.name)
                })?;
                if g.data.len() != g.shape.iter().product::<usize>() || g.data.is_empty() {
                    return Err(format!(
                        "{}: output {} of case {id} holds {} values for shape {:?}",
                        path.display(),
                        g.name,
                        g.data.len(),
                        g.shape
                    )
                    .into());
                }
                if t.shape != g.shape {
                    return Err(format!(
                        "output {} has shape {:?}, golden {:?}",
                        g.name, t.shape, g.shape
                    )
                    .into());
                }
                let d = compare(&g.data, &t.data, tolerance);
                outliers += d.outliers;
                count += d.count;
                case_bad |= d.outliers > 0;
                diffs.push((g.name.clone(), d));
            }
            if case_bad {
                failures.push(id.clone());
            }
        }
        let per_output = per_output_max(&diffs);
        let max = per_output.values().copied().fold(0.0f32, f32::max) as f64;
        let ratio = outliers as f64 / count.max(1) as f64;
        let per: Vec<String> = per_output.iter().map(|(k, v)| format!("{k} {v:.3e}")).collect();
        Ok(Outcome {
            status: status(ratio <= outlier_ratio),
            measured: Some(max),
            threshold: None,
            unit: "max abs diff",
            detail: format!(
                "{} tolerance{} (atol {atol:e}, rtol {rtol:e}, outliers <= {outlier_ratio}); {outliers}/{count} values outside; golden from {} ({}); max abs diff per output: {}",
                tolerance.name(),
                match (a.tolerance_where_recorded, same_kind) {
                    (Some(_), true) => format!(" (this machine is the golden's kind, {here})"),
                    (Some(_), false) => format!(
                        " (the golden's kind is {}, this machine's {here})",
                        golden.recorded_kernels.as_deref().unwrap_or("not recorded")
                    ),
                    (None, _) => String::new(),
                },
                golden.recorded_on,
                golden.recorded_cpu,
                per.join(", ")
            ),
            failures,
            values: per_output.into_iter().map(|(k, v)| (k, v as f64)).collect(),
        })
    }
}
