//! Greedy CTC decoding: per timestep the best class; repeats collapse, blanks separate.

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

/// Levenshtein distance between two strings, counted in characters (not bytes).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("Region", "Reqion"), 1);
        assert_eq!(edit_distance("based segmentation", "basedsegmentation"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("héllo", "hello"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    proptest! {
        #[test]
        fn edit_distance_is_a_metric(a in "[a-c ]{0,12}", b in "[a-c ]{0,12}", c in "[a-c ]{0,12}") {
            prop_assert_eq!(edit_distance(&a, &b), edit_distance(&b, &a));
            prop_assert_eq!(edit_distance(&a, &a), 0);
            prop_assert!(edit_distance(&a, &c) <= edit_distance(&a, &b) + edit_distance(&b, &c));
            prop_assert!(edit_distance(&a, &b) <= a.chars().count().max(b.chars().count()));
        }
    }
}
