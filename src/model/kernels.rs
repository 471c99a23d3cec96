//! preflight's own kernels for max-pooling and zero padding over NCHW f32 planes, where tract's
//! generic n-dimensional loops were 11 % and 12 % of BlazeFace's plan (the padding once its
//! depthwise convolutions were padded first, see `lower.rs`).
//!
//! tract 0.23.9 pools through a generic n-dimensional loop, window point by window point; in
//! `preflight bench --profile` of BlazeFace its four 2×2 max-pools were 11 % of the plan (0.34
//! of 3.1 ms). Here each output row is the largest of its window's input rows, column by column
//! (a loop the compiler vectorises), then of each window's columns. A maximum does not depend
//! on the order it is taken in: the outputs are tract's, bit for bit (a NaN excepted: `f32::max`
//! returns the other value).
//!
//! A depthwise-convolution kernel was written and measured beside them, and not kept: without
//! explicit SIMD it was no faster than tract's loop (BlazeFace's 24×64×64 3×3 layer: 100–125 µs
//! in a micro-benchmark, tract's 115–122 µs in `bench --profile`; at stride 2, 124–220 µs
//! against 121–129 µs).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;

/// The shape of a two-dimensional window operation over one NCHW tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Geometry {
    /// Batch of the input (and output).
    pub(super) batch: usize,
    /// Channels of the input (and output).
    pub(super) channels: usize,
    /// Input height and width.
    pub(super) input: [usize; 2],
    /// Kernel height and width.
    pub(super) kernel: [usize; 2],
    /// Stride along height and width.
    pub(super) stride: [usize; 2],
    /// Output height and width.
    pub(super) output: [usize; 2],
}

impl Geometry {
    fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.input[0], self.input[1]]
    }

    fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.channels, self.output[0], self.output[1]]
    }

    /// Whether nothing is empty and strides and kernels are at least one.
    pub(super) fn is_sound(&self) -> bool {
        let all = [self.input, self.kernel, self.stride, self.output];
        all.iter().all(|pair| pair.iter().all(|&d| d > 0)) && self.batch > 0 && self.channels > 0
    }
}

/// Max-pooling without padding.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct MaxPool2d {
    geometry: Geometry,
}

impl MaxPool2d {
    pub(super) fn new(geometry: Geometry) -> TractResult<Self> {
        ensure!(geometry.is_sound(), "unsupported max-pool geometry {geometry:?}");
        ensure!(
            (0..2).all(|a| (geometry.output[a] - 1) * geometry.stride[a] + geometry.kernel[a]
                <= geometry.input[a]),
            "max-pool windows past the input {geometry:?}"
        );
        Ok(MaxPool2d { geometry })
    }

    fn compute(&self, x: &[f32], out: &mut [f32]) {
        let g = &self.geometry;
        let [ih, iw] = g.input;
        let [oh, ow] = g.output;
        let [kh, kw] = g.kernel;
        let [sh, sw] = g.stride;
        // The largest of the window's rows, column by column; then of its columns.
        let used = (ow - 1) * sw + kw;
        let mut rows = vec![0f32; used];
        for (plane, out) in x.chunks_exact(ih * iw).zip(out.chunks_exact_mut(oh * ow)) {
            for (oy, dst) in out.chunks_exact_mut(ow).enumerate() {
                let first = oy * sh;
                rows.copy_from_slice(&plane[first * iw..][..used]);
                for ky in 1..kh {
                    let src = &plane[(first + ky) * iw..][..used];
                    for (m, &v) in rows.iter_mut().zip(src) {
                        *m = m.max(v);
                    }
                }
                if kw == 2 && sw == 2 {
                    // The common 2×2 pool, in a form the compiler vectorises.
                    for (d, pair) in dst.iter_mut().zip(rows.chunks_exact(2)) {
                        *d = pair[0].max(pair[1]);
                    }
                } else {
                    for (ox, d) in dst.iter_mut().enumerate() {
                        let window = &rows[ox * sw..][..kw];
                        *d = window.iter().copied().fold(window[0], f32::max);
                    }
                }
            }
        }
    }
}

/// Zero padding of the two spatial axes of an NCHW f32 tensor: tract's `Pad` goes through a
/// generic n-dimensional path (12 % of BlazeFace's plan once its depthwise convolutions were
/// padded explicitly); this copies rows into a zeroed tensor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ZeroPad2d {
    /// NCHW input shape.
    input: [usize; 4],
    /// Zeros before and after height and width.
    before: [usize; 2],
    after: [usize; 2],
}

impl ZeroPad2d {
    pub(super) fn new(input: [usize; 4], before: [usize; 2], after: [usize; 2]) -> Self {
        ZeroPad2d { input, before, after }
    }

    fn output_shape(&self) -> [usize; 4] {
        let [n, c, h, w] = self.input;
        [n, c, h + self.before[0] + self.after[0], w + self.before[1] + self.after[1]]
    }

    fn compute(&self, x: &[f32], out: &mut [f32]) {
        let [_, _, h, w] = self.input;
        let [_, _, oh, ow] = self.output_shape();
        let planes = x.chunks_exact(h * w).zip(out.chunks_exact_mut(oh * ow));
        for (plane, out) in planes {
            let rows = plane.chunks_exact(w);
            let dst = out.chunks_exact_mut(ow).skip(self.before[0]);
            for (src, dst) in rows.zip(dst) {
                dst[self.before[1]..][..w].copy_from_slice(src);
            }
        }
    }
}

impl Op for ZeroPad2d {
    fn name(&self) -> StaticName {
        "PreflightZeroPad".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?} before {:?} after {:?}", self.input, self.before, self.after)])
    }

    op_as_typed_op!();
}

impl EvalOp for ZeroPad2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        ensure!(x.shape() == self.input, "pad input {:?}, expected {:?}", x.shape(), self.input);
        let x = x.try_as_plain_ram()?;
        let mut out = Tensor::zero::<f32>(&self.output_shape())?;
        self.compute(x.as_slice::<f32>()?, out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for ZeroPad2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1 && inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(self.output_shape())))
    }

    as_op!();
}

impl Op for MaxPool2d {
    fn name(&self) -> StaticName {
        "PreflightMaxPool".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?}", self.geometry)])
    }

    op_as_typed_op!();
}

impl EvalOp for MaxPool2d {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let shape = self.geometry.input_shape();
        ensure!(x.shape() == shape, "max-pool input {:?}, expected {shape:?}", x.shape());
        let x = x.try_as_plain_ram()?;
        let mut out = Tensor::zero::<f32>(&self.geometry.output_shape())?;
        self.compute(x.as_slice::<f32>()?, out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for MaxPool2d {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1 && inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(self.geometry.output_shape())))
    }

    as_op!();
}
