//! Classification: scores after the manifest's activation, the top k with their labels.

use super::{output, ClassScore, DecodeError, DecodeOptions, Decoder, Prediction};
use crate::model::engine::Outputs;
use crate::model::manifest::{Activation, ClassificationSpec};

impl Decoder {
    pub(super) fn classify(
        &self,
        outputs: &Outputs,
        spec: &ClassificationSpec,
        options: DecodeOptions,
    ) -> Result<Prediction, DecodeError> {
        let tensor = output(outputs, spec.output.as_deref(), "classification")?;
        let scores = activate(&tensor.data, spec.activation);
        let mut order: Vec<usize> = (0..scores.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        let k = options.top.unwrap_or(spec.top_k).min(order.len());
        let classes = order[..k]
            .iter()
            .map(|&i| ClassScore {
                label: self.labels.get(i).cloned().unwrap_or_else(|| format!("class {i}")),
                index: i,
                score: scores[i],
            })
            .collect();
        Ok(Prediction::Classes { classes })
    }
}

/// The logistic function.
pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Scores after the manifest's activation.
fn activate(raw: &[f32], activation: Activation) -> Vec<f32> {
    match activation {
        Activation::None => raw.to_vec(),
        Activation::Sigmoid => raw.iter().map(|&x| sigmoid(x)).collect(),
        Activation::Softmax => {
            // Subtracting the max keeps exp() finite for large logits.
            let max = raw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exps: Vec<f32> = raw.iter().map(|&x| (x - max).exp()).collect();
            let sum: f32 = exps.iter().sum();
            exps.iter().map(|e| e / sum).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_survives_huge_logits() {
        let s = activate(&[1000.0, 0.0, -1000.0], Activation::Softmax);
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(s.iter().all(|v| v.is_finite()));
        assert!(s[0] > 0.99);
    }

    #[test]
    fn clamped_sigmoid_is_finite() {
        assert_eq!(sigmoid((-2700.0f32).clamp(-100.0, 100.0)), sigmoid(-100.0));
        assert!(sigmoid(100.0) <= 1.0 && sigmoid(-100.0) >= 0.0);
    }
}
