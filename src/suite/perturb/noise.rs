//! Sensor noise, as ImageNet-C draws it (per value, independent), and low light.

use super::planes::Planes;
use super::rng::SplitMix64;

/// Additive Gaussian noise of `sigma` (electronic read noise).
pub(super) fn gaussian(p: &mut Planes, sigma: f32, rng: &mut SplitMix64) {
    p.v.iter_mut().for_each(|v| *v += sigma * rng.normal());
}

/// Photon (shot) noise: each value a Poisson count of `photons` at full scale, rescaled.
pub(super) fn shot(p: &mut Planes, photons: f32, rng: &mut SplitMix64) {
    p.v.iter_mut().for_each(|v| *v = rng.poisson(v.clamp(0.0, 1.0) * photons) / photons);
}

/// Salt and pepper: each value replaced with probability `amount`, half by 1, half by 0
/// (scikit-image's `random_noise(mode="s&p")`; dead and hot photosites, bit errors).
pub(super) fn impulse(p: &mut Planes, amount: f32, rng: &mut SplitMix64) {
    for v in &mut p.v {
        if rng.unit() < amount {
            *v = if rng.unit() < 0.5 { 1.0 } else { 0.0 };
        }
    }
}

/// Multiplicative Gaussian noise: x + x·N(0, sigma).
pub(super) fn speckle(p: &mut Planes, sigma: f32, rng: &mut SplitMix64) {
    p.v.iter_mut().for_each(|v| *v += *v * sigma * rng.normal());
}

/// A dark scene: `exposure` of the light reaches a sensor whose full scale is `photons`
/// photons, so the image is darker and its shot noise relatively stronger (no gain applied,
/// as a fixed-exposure camera sees at dusk). Not an ImageNet-C corruption.
pub(super) fn low_light(p: &mut Planes, exposure: f32, photons: f32, rng: &mut SplitMix64) {
    p.v.iter_mut().for_each(|v| *v = rng.poisson(v.clamp(0.0, 1.0) * exposure * photons) / photons);
}
