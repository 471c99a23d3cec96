"""The suites' split rule (src/suite/split.rs) for the tools that report by part.

A case's part follows from its id alone: FNV-1a of the id (a clip's frames, `<clip>-<n>`, by
their clip, so no clip straddles the parts), mixed with the seed by SplitMix64; the case is
held apart when the mix, as a fraction of 2^53, falls under the held-apart share.
"""
MASK = (1 << 64) - 1


def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & MASK
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def part(case_id, seed, held_apart):
    """"fit" or "held-apart" for `case_id` under a suite's `split = { seed, held_apart }`."""
    group = case_id
    head, _, tail = case_id.rpartition("-")
    if head and tail.isdigit():
        group = head
    h = 0xCBF29CE484222325
    for b in group.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    u = splitmix(h ^ seed)
    return "held-apart" if (u >> 11) / float(1 << 53) < held_apart else "fit"
