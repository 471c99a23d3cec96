//! Greedy CTC decoding: per timestep the best class; repeats collapse, blanks separate.

use super::{output, DecodeError, Decoder, Prediction};
use crate::model::engine::Outputs;
use crate::model::manifest::CtcSpec;

impl Decoder {
    pub(super) fn read(
        &self,
        outputs: &Outputs,
        spec: &CtcSpec,
    ) -> Result<Prediction, DecodeError> {
        let scores = output(outputs, spec.output.as_deref(), "ctc")?;
        let classes = self.charset.len() + 1;
        if scores.shape.len() != 3 || scores.shape[2] != classes {
            return Err(
                format!("ctc scores have shape {:?}, not [1, T, {classes}]", scores.shape).into()
            );
        }
        let d = greedy(&scores.data, classes, spec.blank, &self.charset);
        let confidence = if d.char_scores.is_empty() {
            0.0
        } else {
            d.char_scores.iter().sum::<f32>() / d.char_scores.len() as f32
        };
        Ok(Prediction::Text { text: d.text, confidence, char_scores: d.char_scores })
    }
}

/// A decoded string with the score of each character.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// Per character, the winning class's score at the step that emitted it.
    pub char_scores: Vec<f32>,
}

/// Decodes `steps`×`classes` row-major scores. Class `blank` is the CTC blank; the others map
/// in order onto `charset` (which has `classes − 1` entries).
pub fn greedy(scores: &[f32], classes: usize, blank: usize, charset: &[String]) -> Decoded {
    let mut text = String::new();
    let mut char_scores = Vec::new();
    let mut previous = None;
    for row in scores.chunks_exact(classes) {
        let (best, score) = row
            .iter()
            .copied()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |acc, (i, v)| if v > acc.1 { (i, v) } else { acc });
        if best != blank && previous != Some(best) {
            let index = if best < blank { best } else { best - 1 };
            if let Some(ch) = charset.get(index) {
                text.push_str(ch);
                char_scores.push(score);
            }
        }
        previous = Some(best);
    }
    Decoded { text, char_scores }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charset() -> Vec<String> {
        ["a", "b", "é", " "].iter().map(|s| s.to_string()).collect()
    }

    /// One-hot rows for the given class per step.
    fn steps(classes: &[usize]) -> Vec<f32> {
        classes
            .iter()
            .flat_map(|&c| (0..5).map(move |i| if i == c { 0.9 } else { 0.025 }))
            .collect()
    }

    #[test]
    fn repeats_collapse_and_blanks_separate() {
        // a a _ a b b _ é ␠ → "aabé "
        let d = greedy(&steps(&[1, 1, 0, 1, 2, 2, 0, 3, 4]), 5, 0, &charset());
        assert_eq!(d.text, "aabé ");
        assert_eq!(d.char_scores, vec![0.9; 5]);
        assert_eq!(greedy(&steps(&[0, 0, 0]), 5, 0, &charset()).text, "");
        assert_eq!(greedy(&[], 5, 0, &charset()).text, "");
    }

    #[test]
    fn blank_may_be_the_last_class() {
        let d = greedy(&steps(&[0, 4, 1]), 5, 4, &charset());
        assert_eq!(d.text, "ab");
    }
}
