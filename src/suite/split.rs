//! The committed, seeded rule that splits a suite's cases in two: a `fit` part, on which
//! every threshold, envelope bound and swept parameter is chosen, and a `held-apart` part that
//! only ever reports. A figure measured on the cases that chose it is not evidence.
//!
//! The rule reads only the case's id and the seed — never a result, a file's content or the
//! order of the cases — so adding a case never moves another one across, and anyone can
//! recompute which part a case is in. Frames of one clip are near-duplicates, so they go
//! together: an id ending in `-` and digits (`selfie_clip-0008`) is split by what stands
//! before them (`selfie_clip`).

use serde::Deserialize;

use super::perturb::rng::SplitMix64;

/// Tag of the cases thresholds and bounds are fitted on.
pub const FIT: &str = "fit";
/// Tag of the cases that only report.
pub const HELD_APART: &str = "held-apart";

/// A suite's `split = { seed = N, held_apart = 0.5 }`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    /// Seed of the rule; a committed constant, changed only with every figure re-measured.
    pub seed: u64,
    /// Share of the cases held apart, within 0..1 (exclusive).
    pub held_apart: f64,
}

impl Split {
    /// Whether the case with `id` is held apart.
    pub fn is_held_apart(&self, id: &str) -> bool {
        // FNV-1a over the id, then SplitMix64 so that neighbouring ids scatter.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in group(id).bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
        let u = SplitMix64::new(h ^ self.seed).next_u64();
        ((u >> 11) as f64 / (1u64 << 53) as f64) < self.held_apart
    }

    /// The tag of the part `id` is in.
    pub fn part(&self, id: &str) -> &'static str {
        if self.is_held_apart(id) {
            HELD_APART
        } else {
            FIT
        }
    }
}

/// What a case is split by: its clip for a clip's frame, else its id.
fn group(id: &str) -> &str {
    match id.rsplit_once('-') {
        Some((clip, frame))
            if !clip.is_empty()
                && !frame.is_empty()
                && frame.bytes().all(|b| b.is_ascii_digit()) =>
        {
            clip
        }
        _ => id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_stable_seeded_and_near_its_share() {
        let s = Split { seed: 34, held_apart: 0.5 };
        let ids: Vec<String> = (0..2000).map(|i| format!("frame_{i:04}")).collect();
        let held = ids.iter().filter(|id| s.is_held_apart(id)).count();
        assert!((900..1100).contains(&held), "{held} of 2000 held apart");
        // Recomputed, the same; another seed, another split.
        assert!(ids.iter().all(|id| s.is_held_apart(id) == s.is_held_apart(id)));
        let other = Split { seed: 35, ..s };
        let moved = ids.iter().filter(|id| s.is_held_apart(id) != other.is_held_apart(id)).count();
        assert!(moved > 800, "{moved}");
        // Pinned: the rule is part of every figure quoted on it.
        let first: Vec<&str> = ids[..8].iter().map(|id| s.part(id)).collect();
        assert_eq!(first, PINNED);
    }

    #[test]
    fn a_clips_frames_share_one_part() {
        let s = Split { seed: 34, held_apart: 0.5 };
        for clip in ["feat-selfie_clip", "ocv-vtest", "a"] {
            let parts: Vec<bool> =
                (0..40).map(|i| s.is_held_apart(&format!("{clip}-{i:04}"))).collect();
            assert!(parts.iter().all(|&p| p == parts[0]), "{clip}");
            assert_eq!(parts[0], s.is_held_apart(clip));
        }
        assert_eq!(group("feat-0-f1-su"), "feat-0-f1-su");
        assert_eq!(group("-0001"), "-0001");
        assert_eq!(group("x-"), "x-");
    }

    const PINNED: [&str; 8] = [FIT, HELD_APART, FIT, FIT, FIT, FIT, FIT, FIT];
}
