//! CPU state tract leaves behind. On x86-64, tract's AVX/AVX-512 kernels can return with the
//! upper halves of the vector registers still in use. Every SSE instruction after that (the
//! crate is built for baseline x86-64, so all of its own float code) then pays a transition
//! penalty: measured here, Gaussian noise on a 128×128 image took 26 ms after one inference
//! and 1.8 ms before it (`powf`-based gamma 2–3× slower too), which made the perturbations of
//! the boot suite cost more than its inferences. `vzeroupper` after each run clears that state.

/// Clears the upper halves of the AVX registers when the CPU has AVX; nothing elsewhere.
#[inline]
pub(crate) fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked just above), which is all `vzeroupper`
        // requires. It zeroes bits 128 and up of the vector registers; at a function-call
        // boundary no Rust value lives there (the calling convention makes them caller-saved),
        // so nothing observable changes.
        #[allow(unsafe_code)]
        unsafe {
            zero_upper();
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper();
}

#[cfg(test)]
mod tests {
    #[test]
    fn clearing_is_harmless_to_call_anywhere() {
        let v: Vec<f32> = (0..64).map(|i| i as f32 * 0.5).collect();
        super::clear_upper_vector_state();
        assert_eq!(v.iter().sum::<f32>(), 1008.0);
    }
}
