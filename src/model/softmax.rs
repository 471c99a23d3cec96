//! preflight's own softmax over one axis that is not the innermost, where tract 0.23.9 falls
//! back to a generic loop: it walks every lane of the other axes with an ndarray view, and a
//! YOLOv8 head's distribution focal loss (`[1, 16, 4, 8400]`, softmax over the 16 bins) spent
//! 222 of the model's 411 ms there (`preflight bench models/yolov8n --profile`). Here the
//! axis's rows are contiguous runs of the inner axes: the maximum, the exponentials and their
//! sum are taken row by row across the inner axes, loops the compiler vectorises. Outputs
//! differ from tract's by the rounding of the exponential only. YOLOv8n's plan: 411 → 255 ms
//! with this kernel alone, the softmax 222 → 76 ms; with the AVX state cleared first (below),
//! the softmax itself takes ~1.5 ms.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};

/// Softmax over `axis` of a concrete f32 shape, the axis not the innermost.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct SoftmaxAxis {
    shape: Vec<usize>,
    axis: usize,
}

impl SoftmaxAxis {
    /// Products of the dimensions before the axis, the axis, and after it.
    fn split(&self) -> (usize, usize, usize) {
        let outer = self.shape[..self.axis].iter().product();
        let inner = self.shape[self.axis + 1..].iter().product();
        (outer, self.shape[self.axis], inner)
    }

    /// The softmax in place over `data`, laid out as the shape says.
    fn compute(&self, data: &mut [f32]) {
        let (_, n, inner) = self.split();
        if n == 0 || inner == 0 {
            return;
        }
        let mut max = vec![0f32; inner];
        let mut sum = vec![0f32; inner];
        for block in data.chunks_exact_mut(n * inner) {
            max.copy_from_slice(&block[..inner]);
            for row in block.chunks_exact(inner).skip(1) {
                for (m, &v) in max.iter_mut().zip(row) {
                    *m = m.max(v);
                }
            }
            sum.fill(0.0);
            for row in block.chunks_exact_mut(inner) {
                for ((v, m), s) in row.iter_mut().zip(&max).zip(sum.iter_mut()) {
                    *v = (*v - m).exp();
                    *s += *v;
                }
            }
            for s in sum.iter_mut() {
                *s = s.recip();
            }
            for row in block.chunks_exact_mut(inner) {
                for (v, s) in row.iter_mut().zip(&sum) {
                    *v *= s;
                }
            }
        }
    }
}

impl Op for SoftmaxAxis {
    fn name(&self) -> StaticName {
        "PreflightSoftmax".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("shape {:?}, axis {}", self.shape, self.axis)])
    }

    op_as_typed_op!();
}

impl EvalOp for SoftmaxAxis {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        ensure!(
            x.shape() == self.shape,
            "softmax input {:?}, expected {:?}",
            x.shape(),
            self.shape
        );
        // tract's kernels before this one leave the AVX upper state dirty; the exponentials
        // below (baseline SSE code) ran ~50x slower in it (cpu.rs): 71.7 ms against 1.5 ms.
        super::cpu::clear_upper_vector_state();
        let mut out = x.into_tensor();
        self.compute(out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for SoftmaxAxis {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs.len() == 1 && inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact(&self.shape)))
    }

    as_op!();
}

/// Rewrites every f32 softmax over one axis that is not the innermost (of a concrete shape) to
/// [`SoftmaxAxis`], and returns how many it rewrote.
pub(super) fn to_own_kernel(model: &mut TypedModel) -> TractResult<usize> {
    let mut lowered = 0;
    for id in model.eval_order()? {
        let node = model.node(id);
        let Some(op) = node.op_as::<Softmax>() else { continue };
        let input = model.outlet_fact(node.inputs[0])?;
        let Some(shape) = input.shape.as_concrete().map(<[usize]>::to_vec) else { continue };
        let [axis] = op.axes.as_slice() else { continue };
        let trailing = *axis + 1 == shape.len();
        if trailing
            || op.kind != SoftmaxKind::Softmax
            || op.quant_output_dt.is_some()
            || input.datum_type != f32::datum_type()
        {
            continue;
        }
        let name = node.name.clone();
        let mut patch = TypedModelPatch::new(format!("own softmax {name}"));
        let x = patch.tap_model(model, node.inputs[0])?;
        let wire = patch.wire_node(&name, SoftmaxAxis { shape, axis: *axis }, &[x])?[0];
        patch.shunt_outside(model, id.into(), wire)?;
        patch.obliterate(id)?;
        patch.apply(model)?;
        lowered += 1;
    }
    Ok(lowered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(shape: &[usize], axis: usize) -> TypedModel {
        let mut model = TypedModel::default();
        let x = model.add_source("x", f32::fact(shape)).unwrap();
        let y = model
            .wire_node("softmax", Softmax::new(tvec!(axis), None, SoftmaxKind::Softmax), &[x])
            .unwrap();
        model.select_output_outlets(&y).unwrap();
        model
    }

    fn run(model: TypedModel, input: &Tensor) -> Vec<f32> {
        let plan = model.into_runnable().unwrap();
        let out = plan.run(tvec!(input.clone().into_tvalue())).unwrap();
        out[0].to_plain_array_view::<f32>().unwrap().iter().copied().collect()
    }

    #[test]
    fn equals_tracts_softmax_on_an_inner_axis() {
        let shape = [2, 16, 4, 7];
        let values: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| ((i * 37) % 101) as f32 / 9.0 - 5.0)
            .collect();
        let input = Tensor::from_shape(&shape, &values).unwrap();
        let theirs = run(model(&shape, 1), &input);
        let mut ours_model = model(&shape, 1);
        assert_eq!(to_own_kernel(&mut ours_model).unwrap(), 1);
        assert!(ours_model.nodes().iter().any(|n| n.op_is::<SoftmaxAxis>()));
        let ours = run(ours_model, &input);
        let worst = theirs.iter().zip(&ours).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(worst < 1e-6, "max abs diff {worst}");
        // Each lane sums to one.
        let lane: f32 = (0..16).map(|k| ours[k * 28 + 3]).sum();
        assert!((lane - 1.0).abs() < 1e-5, "{lane}");
    }

    #[test]
    fn the_innermost_axis_stays_tracts() {
        let mut m = model(&[1, 4, 16], 2);
        assert_eq!(to_own_kernel(&mut m).unwrap(), 0);
    }
}
