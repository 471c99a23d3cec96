//! Lowerings preflight chooses before tract generates code for a graph.
//!
//! A network's stem — the first convolution, over the image's few channels (BlazeFace: 5×5
//! stride 2 from 3 to 24 channels) — is a matrix product with a tiny inner dimension, so tract's
//! lazy im2col spends as long gathering each output point's patch as multiplying it (in
//! `preflight bench --profile`, BlazeFace's stem alone was a quarter of its inference). tract also has a direct
//! convolution kernel along W (`conv_w4`: four output channels at a time, strides 1–3
//! vectorised) but picks it only for output rows of at least 128 points; BlazeFace's stem has
//! 64 and PP-OCR's 96–192. Measured side by side in one process (p50 over 300 runs, 40 for det
//! and rec, this 2-core x86 host): BlazeFace 4.445 → 4.369 ms, PP-OCR det 38.7 → 37.6 ms, cls 3.72 → 3.61 ms, rec
//! unchanged; the outputs differ from lazy im2col's by rounding only (BlazeFace: 2.3e-5 at most
//! on a synthetic input, 1.6e-4 on its parity cases, whose logits reach ±2700).
//!
//! Only stems are lowered (at most [`STEM_CHANNELS`] input channels): the deeper convolutions
//! of these models were not measured, and tract's rule stands for them.
//!
//! Max-pools without padding run preflight's own kernel ([`kernels`](super::kernels)), with
//! tract's outputs bit for bit: BlazeFace p50 3.34–3.36 → 3.08–3.09 ms (`preflight bench
//! --iterations 300`, three interleaved pairs of binaries). Depthwise convolutions are padded
//! first, by preflight's zero padding, so that tract runs each as one valid zone
//! ([`depthwise_padding_explicit`]).

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::Slice;
use tract_onnx::tract_core::ops::cnn::conv::DirectSpatialConv;
use tract_onnx::tract_core::ops::cnn::pools::ConcretePoolGeometry;
use tract_onnx::tract_core::ops::cnn::{
    wire_reshape_bias_for_bin, Conv, MaxPool, PaddingSpec, PoolSpec,
};
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::kernels::{Geometry, MaxPool2d, ZeroPad2d};

/// The most input channels a convolution may have to be lowered as a stem (RGBA).
const STEM_CHANNELS: usize = 4;

/// The largest patch (input channels × kernel volume) tract gives its direct kernel.
const MAX_PATCH: usize = 576;

/// Rewrites every stem convolution of `model` to tract's direct spatial kernel, where this CPU
/// has one, and returns how many it rewrote.
pub(super) fn stems_to_direct(model: &mut TypedModel) -> TractResult<usize> {
    if tract_linalg::routines::conv_w4_f32().is_none() {
        return Ok(0);
    }
    let mut lowered = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else { continue };
        let input = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = input.shape.as_concrete().map(<[usize]>::to_vec) else { continue };
        if node.inputs.len() != 3 || !is_stem(conv, input) {
            continue;
        }
        let rank = input.rank();
        let (mut conv, name, inputs) = (conv.clone(), node.name.clone(), node.inputs.clone());
        let mut patch = TypedModelPatch::new(format!("direct stem {name}"));
        let taps = patch.taps(model, &inputs)?;
        let (mut x, kernel, bias) = (taps[0], taps[1], taps[2]);
        // Padded explicitly, the convolution is valid everywhere: one zone, every row one run.
        let mut crop = None;
        let mut padded = shape.clone();
        if let Some(padding) = full_row_padding(&conv, &shape) {
            for (dim, (before, after)) in padded.iter_mut().zip(&padding.pads) {
                *dim += before + after;
            }
            let ((top, bottom), (left, right)) = (padding.pads[2], padding.pads[3]);
            let input = [shape[0], shape[1], shape[2], shape[3]];
            let pad = ZeroPad2d::new(input, [top, left], [bottom, right]);
            x = patch.wire_node(format!("{name}.pad"), pad, &[x])?[0];
            conv.pool_spec.padding = PaddingSpec::Valid;
            crop = padding.crop;
        }
        let dims: TVec<TDim> = padded.iter().map(|&d| d.to_dim()).collect();
        let ConcretePoolGeometry { input_shape, patch: geometry, output_shape } =
            conv.pool_spec.compute_geo(&dims)?.to_concrete(&padded)?.into_owned();
        let kernel = conv.wire_kernel_as_g_o_ihw(&mut patch, &name, kernel)?[0];
        let c_axis = conv.pool_spec.data_format.shape(&padded)?.c_axis();
        let bias = wire_reshape_bias_for_bin(
            &mut patch,
            &name,
            bias,
            rank,
            c_axis,
            conv.output_channels(),
        )?[0];
        let op = DirectSpatialConv::new(geometry, input_shape, output_shape);
        let mut wire = patch.wire_node(&name, op, &[x, kernel, bias])?[0];
        if let Some(width) = crop {
            wire = patch.wire_node(format!("{name}.crop"), Slice::new(3, 0, width), &[wire])?[0];
        }
        patch.shunt_outside(model, id.into(), wire)?;
        patch.obliterate(id)?;
        patch.apply(model)?;
        lowered += 1;
    }
    Ok(lowered)
}

/// How a stem is padded explicitly so that tract's kernel vectorises whole rows.
struct FullRows {
    /// Zeros before and after each axis of the NCHW input: the convolution's own padding, and
    /// on the right of W as many more columns as the extra output points need.
    pads: Vec<(usize, usize)>,
    /// The output width to keep, when extra output points were added.
    crop: Option<usize>,
}

/// The explicit padding for `conv` over an NCHW input of `shape`, if it has padding tract's
/// kernel understands (explicit or none) and a stride the kernel vectorises (1 to 3).
///
/// conv_w4 computes a run of points eight at a time while at least `8 + block` remain (block 9
/// at stride 2, where it loads one point ahead; 8 otherwise) and the rest one point at a time,
/// with all its taps; the zones padding creates at the borders run one point at a time too.
/// BlazeFace's stem had 14 of each row's 62 valid points and both border columns on that slow
/// path. With the padding made explicit there is one zone, and a few more zero columns on the
/// right make the row `8·m + block` points long, leaving `block` to the scalar tail; the extra
/// outputs are cropped. Measured in one process against the direct stem without this, p50 of
/// 400 runs (cls 300, det and rec 60): BlazeFace 6.45 → 5.60 and 7.36 → 6.46 ms (loaded host),
/// cls 3.70 → 3.65, det 49.9 → 50.0, rec 56.2 → 55.5.
fn full_row_padding(conv: &Conv, shape: &[usize]) -> Option<FullRows> {
    let spec = &conv.pool_spec;
    let (before, after) = match &spec.padding {
        PaddingSpec::Explicit(before, after) => (before.clone(), after.clone()),
        PaddingSpec::Valid => (tvec!(0, 0), tvec!(0, 0)),
        _ => return None,
    };
    if spec.dilations.as_ref().is_some_and(|d| d.iter().any(|&d| d != 1)) || shape.len() != 4 {
        return None;
    }
    let stride = spec.strides.as_ref().map_or(1, |s| s[1]);
    let block = match stride {
        2 => 9,
        1 | 3 => 8,
        _ => return None,
    };
    let kernel = spec.kernel_shape[1];
    let padded = shape[3] + before[1] + after[1];
    let width = padded.checked_sub(kernel)? / stride + 1;
    let mut full = width.max(block);
    full += (8 - (full - block) % 8) % 8;
    let extra = (full - width) * stride;
    Some(FullRows {
        pads: vec![(0, 0), (0, 0), (before[0], after[0]), (before[1], after[1] + extra)],
        crop: (extra > 0).then_some(width),
    })
}

/// Whether `conv` is a stem the direct kernel computes: f32, NCHW, not grouped, two spatial
/// axes, a real kernel (not 1×1), few input channels, output channels in fours.
fn is_stem(conv: &Conv, input: &TypedFact) -> bool {
    let spec = &conv.pool_spec;
    let volume: usize = spec.kernel_shape.iter().product();
    conv.q_params.is_none()
        && input.datum_type == f32::datum_type()
        && spec.data_format == DataFormat::NCHW
        && conv.group == 1
        && spec.kernel_shape.len() == 2
        && volume >= 2
        && conv.input_channels() <= STEM_CHANNELS
        && conv.input_channels() * volume <= MAX_PATCH
        && conv.output_channels().is_multiple_of(4)
}

/// Rewrites every max-pool [`kernels`](super::kernels) computes (f32, NCHW, two spatial axes,
/// no padding or dilation, no indices used) and returns how many it rewrote.
pub(super) fn pools_to_own_kernel(model: &mut TypedModel) -> TractResult<usize> {
    let mut lowered = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(pool) = node.op_as::<MaxPool>() else { continue };
        let input = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = input.shape.as_concrete() else { continue };
        if input.datum_type != f32::datum_type() {
            continue;
        }
        let Some(geometry) = geometry(&pool.pool_spec, shape) else { continue };
        // tract's ONNX MaxPool keeps an index output even when nothing reads it.
        let outputs = model.output_outlets()?;
        let indices_unused = node.outputs.iter().enumerate().skip(1).all(|(slot, o)| {
            o.successors.is_empty() && !outputs.contains(&OutletId::new(id, slot))
        });
        if !indices_unused {
            continue;
        }
        let Ok(op) = MaxPool2d::new(geometry) else { continue };
        if op.output_facts(&[input])?[0].shape != model.outlet_fact(OutletId::new(id, 0))?.shape {
            continue;
        }
        let name = node.name.clone();
        let mut patch = TypedModelPatch::new(format!("own max-pool {name}"));
        let x = patch.tap_model(model, node.inputs[0])?;
        let wire = patch.wire_node(&name, op, &[x])?[0];
        patch.shunt_outside(model, id.into(), wire)?;
        patch.obliterate(id)?;
        patch.apply(model)?;
        lowered += 1;
    }
    Ok(lowered)
}

/// The geometry of a window operation over an NCHW input of `shape` (concrete), or `None` when
/// it is not one [`kernels`](super::kernels) computes (padded before, dilated, another layout
/// or rank; windows past the input are refused by [`MaxPool2d::new`]).
fn geometry(spec: &PoolSpec, shape: &[usize]) -> Option<Geometry> {
    if spec.data_format != DataFormat::NCHW || spec.kernel_shape.len() != 2 || shape.len() != 4 {
        return None;
    }
    if spec.dilations.as_ref().is_some_and(|d| d.iter().any(|&d| d != 1)) {
        return None;
    }
    let strides: TVec<usize> = spec.strides.clone().unwrap_or_else(|| tvec!(1, 1));
    let kernel = [spec.kernel_shape[0], spec.kernel_shape[1]];
    let padded = spec.padding.compute(&shape[2..], &kernel, &[1, 1], &strides);
    let geometry = Geometry {
        batch: shape[0],
        channels: shape[1],
        input: [shape[2], shape[3]],
        kernel,
        stride: [strides[0], strides[1]],
        output: [padded[0].convoluted, padded[1].convoluted],
    };
    let unpadded = padded.iter().all(|d| d.pad_before == 0);
    (unpadded && geometry.is_sound()).then_some(geometry)
}

/// Makes the padding of every depthwise convolution (f32, NCHW, one filter per channel,
/// explicit padding) a zero-padding node before it ([`ZeroPad2d`]), and returns how many it
/// changed.
///
/// tract computes a padded depthwise convolution zone by zone: its vectorised loop over the
/// valid interior, and every border point through a generic per-point path. Padded first, the
/// convolution is one valid zone; the copy costs less than the border path did. BlazeFace
/// (16 depthwise convolutions), `preflight bench --iterations 300`, three interleaved pairs:
/// p50 3.34–3.37 → 2.76–2.81 ms padded by tract's `Pad`, 2.71–2.75 ms by [`ZeroPad2d`]; every
/// boot-suite value (parity included) unchanged on BlazeFace and the PP-OCR bundles.
pub(super) fn depthwise_padding_explicit(model: &mut TypedModel) -> TractResult<usize> {
    let mut changed = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(conv) = node.op_as::<Conv>() else { continue };
        let spec = &conv.pool_spec;
        let PaddingSpec::Explicit(before, after) = &spec.padding else { continue };
        let input = model.outlet_fact(node.inputs[0])?;
        let depthwise = conv.q_params.is_none()
            && input.datum_type == f32::datum_type()
            && input.rank() == 4
            && spec.data_format == DataFormat::NCHW
            && spec.kernel_shape.len() == 2
            && conv.group == conv.input_channels()
            && conv.group == conv.output_channels()
            && conv.group > 1;
        if !depthwise || before.iter().chain(after.iter()).all(|&p| p == 0) {
            continue;
        }
        let Some(shape) = input.shape.as_concrete() else { continue };
        if shape.contains(&0) {
            continue;
        }
        let shape = [shape[0], shape[1], shape[2], shape[3]];
        let pad = ZeroPad2d::new(shape, [before[0], before[1]], [after[0], after[1]]);
        let (mut conv, name, inputs) = (conv.clone(), node.name.clone(), node.inputs.clone());
        conv.pool_spec.padding = PaddingSpec::Valid;
        let mut patch = TypedModelPatch::new(format!("explicit padding {name}"));
        let mut taps = patch.taps(model, &inputs)?;
        taps[0] = patch.wire_node(format!("{name}.pad"), pad, &[taps[0]])?[0];
        let wire = patch.wire_node(&name, conv, &taps)?[0];
        patch.shunt_outside(model, id.into(), wire)?;
        patch.obliterate(id)?;
        patch.apply(model)?;
        changed += 1;
    }
    Ok(changed)
}

/// Generates code for `model`: the lowerings above, then tract's own.
pub(super) fn codegen(model: &mut TypedModel) -> TractResult<()> {
    stems_to_direct(model)?;
    pools_to_own_kernel(model)?;
    super::softmax::to_own_kernel(model)?;
    depthwise_padding_explicit(model)?;
    model.optimize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::tract_core::ops::cnn::KernelFormat;

    /// A one-convolution graph: `ic` channels of 64×130, a stride-2 kernel to 8 channels.
    fn conv_model(ic: usize, kernel: usize, padding: PaddingSpec) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, ic, 64, 130])).unwrap();
        let taps = 8 * ic * kernel * kernel;
        let weights: Vec<f32> = (0..taps).map(|i| ((i * 37) % 17) as f32 / 8.0 - 1.0).collect();
        let w = model
            .add_const("w", Tensor::from_shape(&[8, ic, kernel, kernel], &weights).unwrap())
            .unwrap();
        let b = model.add_const("b", tensor1(&[0.5f32; 8])).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(kernel, kernel),
            padding,
            dilations: None,
            strides: Some(tvec!(2, 2)),
            input_channels: ic,
            output_channels: 8,
        };
        let conv = Conv::new(spec, KernelFormat::OIHW, 1, None);
        let y = model.wire_node("conv", conv, &[x, w, b]).unwrap();
        model.select_output_outlets(&y).unwrap();
        model
    }

    fn run(model: TypedModel, ic: usize) -> Vec<f32> {
        run_shape(model, &[1, ic, 64, 130])
    }

    fn run_shape(model: TypedModel, shape: &[usize]) -> Vec<f32> {
        let len = shape.iter().product::<usize>();
        let values: Vec<f32> = (0..len).map(|i| ((i * 7919) % 251) as f32 / 125.0 - 1.0).collect();
        let x = Tensor::from_shape(shape, &values).unwrap();
        let out = model.into_runnable().unwrap().run(tvec![x.into()]).unwrap();
        out[0].try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()
    }

    fn has_direct(model: &TypedModel) -> bool {
        model.nodes().iter().any(|n| n.op_is::<DirectSpatialConv>())
    }

    #[test]
    fn a_stem_is_lowered_and_computes_what_tract_s_own_plan_does() {
        let explicit = PaddingSpec::Explicit(tvec!(1, 1), tvec!(2, 2));
        for (kernel, padding) in [(3, PaddingSpec::Valid), (5, explicit)] {
            let mut ours = conv_model(3, kernel, padding.clone());
            let mut theirs = ours.clone();
            codegen(&mut ours).unwrap();
            theirs.optimize().unwrap();
            let direct = tract_linalg::routines::conv_w4_f32().is_some();
            assert_eq!(has_direct(&ours), direct);
            assert!(!has_direct(&theirs), "tract now lowers this stem itself");
            let (a, b) = (run(ours, 3), run(theirs, 3));
            assert_eq!(a.len(), b.len(), "{padding:?}");
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-4, "{padding:?}: largest difference {worst}");
        }
    }

    #[test]
    fn rows_are_padded_to_eight_points_a_step_plus_the_kernel_s_look_ahead() {
        // BlazeFace's stem: 5x5 stride 2 over 128 columns, one column of padding before, two
        // after: 64 output points, 2 more input columns make 65 = 8·7 + 9, cropped back to 64.
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(5, 5),
            padding: PaddingSpec::Explicit(tvec!(1, 1), tvec!(2, 2)),
            dilations: None,
            strides: Some(tvec!(2, 2)),
            input_channels: 3,
            output_channels: 24,
        };
        let conv = Conv::new(spec.clone(), KernelFormat::OIHW, 1, None);
        let rows = full_row_padding(&conv, &[1, 3, 128, 128]).unwrap();
        assert_eq!(rows.pads, vec![(0, 0), (0, 0), (1, 2), (1, 4)]);
        assert_eq!(rows.crop, Some(64));
        // Stride 1 over 3x3, valid: 94 points; 96 = 8·11 + 8, two more columns.
        let spec = PoolSpec {
            kernel_shape: tvec!(3, 3),
            padding: PaddingSpec::Valid,
            strides: None,
            ..spec
        };
        let conv = Conv::new(spec.clone(), KernelFormat::OIHW, 1, None);
        let rows = full_row_padding(&conv, &[1, 3, 64, 96]).unwrap();
        assert_eq!((rows.pads[3], rows.crop), ((0, 2), Some(94)));
        // Already a whole number of steps: nothing to add, nothing to crop.
        let rows = full_row_padding(&conv, &[1, 3, 64, 98]).unwrap();
        assert_eq!((rows.pads[3], rows.crop), ((0, 0), None));
        // SAME padding and stride 4 are left as they are.
        let same = PoolSpec { padding: PaddingSpec::SameUpper, ..spec.clone() };
        assert!(full_row_padding(&Conv::new(same, KernelFormat::OIHW, 1, None), &[1, 3, 8, 8])
            .is_none());
        let wide = PoolSpec { strides: Some(tvec!(4, 4)), ..spec };
        assert!(full_row_padding(&Conv::new(wide, KernelFormat::OIHW, 1, None), &[1, 3, 8, 8])
            .is_none());
    }

    /// A one-pool graph over 5 channels of 12×17 (odd width: the last column is never read).
    fn pool_model(kernel: usize, stride: usize, padding: PaddingSpec) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, 5, 12, 17])).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(kernel, kernel),
            padding,
            dilations: None,
            strides: Some(tvec!(stride, stride)),
            input_channels: 5,
            output_channels: 5,
        };
        let y = model.wire_node("pool", MaxPool::new(spec, None), &[x]).unwrap();
        model.select_output_outlets(&y).unwrap();
        model
    }

    #[test]
    fn max_pools_run_preflight_s_kernel_and_give_tract_s_outputs_bit_for_bit() {
        for (kernel, stride) in [(2, 2), (3, 2), (3, 1)] {
            let mut ours = pool_model(kernel, stride, PaddingSpec::Valid);
            let mut theirs = ours.clone();
            assert_eq!(pools_to_own_kernel(&mut ours.clone()).unwrap(), 1);
            codegen(&mut ours).unwrap();
            theirs.optimize().unwrap();
            assert!(ours.nodes().iter().any(|n| n.op_is::<MaxPool2d>()));
            let (a, b) = (run_shape(ours, &[1, 5, 12, 17]), run_shape(theirs, &[1, 5, 12, 17]));
            assert_eq!(a.len(), b.len());
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "kernel {kernel} stride {stride}");
        }
    }

    /// A depthwise 3×3 convolution over 6 channels of 16×21, padded as given.
    fn depthwise_model(stride: usize, before: usize, after: usize) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact([1, 6, 16, 21])).unwrap();
        let weights: Vec<f32> = (0..54).map(|i| ((i * 37) % 17) as f32 / 8.0 - 1.0).collect();
        let w = model.add_const("w", Tensor::from_shape(&[6, 1, 3, 3], &weights).unwrap()).unwrap();
        let b = model.add_const("b", tensor1(&[0.25f32; 6])).unwrap();
        let spec = PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec!(3, 3),
            padding: PaddingSpec::Explicit(tvec!(before, before), tvec!(after, after)),
            dilations: None,
            strides: Some(tvec!(stride, stride)),
            input_channels: 6,
            output_channels: 6,
        };
        let conv = Conv::new(spec, KernelFormat::OIHW, 6, None);
        let y = model.wire_node("dw", conv, &[x, w, b]).unwrap();
        model.select_output_outlets(&y).unwrap();
        model
    }

    #[test]
    fn padded_depthwise_convolutions_are_padded_first_and_compute_the_same() {
        // BlazeFace's two kinds: stride 1 padded on every side, stride 2 after only.
        for (stride, before, after) in [(1, 1, 1), (2, 0, 1)] {
            let mut ours = depthwise_model(stride, before, after);
            let mut theirs = ours.clone();
            codegen(&mut ours).unwrap();
            theirs.optimize().unwrap();
            assert!(ours.nodes().iter().any(|n| n.op_is::<ZeroPad2d>()));
            let (a, b) = (run_shape(ours, &[1, 6, 16, 21]), run_shape(theirs, &[1, 6, 16, 21]));
            assert_eq!(a.len(), b.len());
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(worst < 1e-5, "stride {stride}: largest difference {worst}");
        }
        let mut unpadded = depthwise_model(1, 0, 0);
        assert_eq!(depthwise_padding_explicit(&mut unpadded).unwrap(), 0);
    }

    #[test]
    fn padded_pools_are_left_to_tract() {
        let mut model = pool_model(3, 2, PaddingSpec::Explicit(tvec!(1, 1), tvec!(1, 1)));
        assert_eq!(pools_to_own_kernel(&mut model).unwrap(), 0);
    }

    #[test]
    fn deeper_and_pointwise_convolutions_are_left_to_tract() {
        for (ic, kernel) in [(16, 3), (3, 1)] {
            let mut model = conv_model(ic, kernel, PaddingSpec::Valid);
            assert_eq!(stems_to_direct(&mut model).unwrap(), 0, "ic {ic} kernel {kernel}");
        }
    }
}
