//! Where inference time goes on this CPU: the time of each operator of the optimized plan over
//! some runs, and the kernels tract selected (its matrix-multiply implementations), so a board
//! owner sees what is slow on their board and a report says which code actually ran.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tract_onnx::prelude::tract_linalg::multithread::multithread_tract_scope;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::matmul::optimized::OptMatMul;
use tract_onnx::tract_core::plan::{eval, EvalContext};
use tract_onnx::tract_hir::internal::tract_smallvec::smallvec;

use super::engine::Engine;
use super::preprocess::InputTensor;
use crate::error::{Error, Result};

/// Time spent in one node of the plan, summed over the profiled runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeTime {
    /// Node name in the plan (tract keeps the ONNX node's name, with suffixes for the nodes an
    /// optimization made of it).
    pub node: String,
    /// Operator as tract runs it (`OptMatMul`, `DepthWiseConv`, ...).
    pub op: String,
    /// Mean time per run.
    pub mean: Duration,
    /// Share of the plan's time, 0..1.
    pub share: f64,
}

/// What [`Engine::profile`] measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Profile {
    /// Runs measured (after one untimed).
    pub runs: usize,
    /// Mean time of a run, summed over nodes.
    pub mean: Duration,
    /// Per operator kind, the largest share first.
    pub by_op: Vec<(String, f64)>,
    /// The nodes that take the most time, the largest first (at most `top`).
    pub nodes: Vec<NodeTime>,
    /// The kernels the plan uses ([`Engine::kernels`]).
    pub kernels: Vec<String>,
}

impl Engine {
    /// Runs `input` `runs` times (after one untimed run) timing every node of the plan, and
    /// keeps the `top` slowest nodes.
    pub fn profile(&self, input: &InputTensor, runs: usize, top: usize) -> Result<Profile> {
        let plan = self.plan_for(&input.shape)?;
        let model = plan.runnable.model();
        let mut state =
            plan.runnable.spawn().map_err(|e| Error::inference(self.model_path(), e))?;
        let mut per_node = vec![Duration::ZERO; model.nodes().len()];
        for run in 0..=runs {
            let tensor = Tensor::from_shape(&input.shape, &input.data)
                .map_err(|e| Error::inference(self.model_path(), e))?;
            let timed = run > 0;
            multithread_tract_scope(self.executor(), || {
                state.run_plan_with_eval(
                    smallvec![tensor.into()],
                    |ctx: &EvalContext, op_state, node: &TypedNode, inputs| {
                        let start = Instant::now();
                        let out = eval(ctx, op_state, node, inputs);
                        if timed {
                            per_node[node.id] += start.elapsed();
                        }
                        out
                    },
                )
            })
            .map_err(|e| Error::inference(self.model_path(), e))?;
            super::cpu::clear_upper_vector_state();
        }
        let total: Duration = per_node.iter().sum();
        let share = |d: Duration| {
            if total.is_zero() {
                0.0
            } else {
                d.as_secs_f64() / total.as_secs_f64()
            }
        };
        let mut by_op: BTreeMap<String, Duration> = BTreeMap::new();
        for node in model.nodes() {
            *by_op.entry(node.op().name().to_string()).or_default() += per_node[node.id];
        }
        let mut by_op: Vec<(String, f64)> =
            by_op.into_iter().map(|(op, d)| (op, share(d))).collect();
        by_op.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut order: Vec<usize> = (0..per_node.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(per_node[i]));
        let runs_u32 = runs.max(1) as u32;
        let nodes = order
            .into_iter()
            .take(top)
            .filter(|&i| !per_node[i].is_zero())
            .map(|i| NodeTime {
                node: model.nodes()[i].name.clone(),
                op: model.nodes()[i].op().name().to_string(),
                mean: per_node[i] / runs_u32,
                share: share(per_node[i]),
            })
            .collect();
        Ok(Profile { runs, mean: total / runs_u32, by_op, nodes, kernels: self.kernels() })
    }

    /// The kernels the default plan runs: each matrix-multiply implementation tract selected
    /// for this CPU with the number of products using it (`fma_mmm_f32_16x6 ×12`), and the
    /// depthwise convolutions, which run tract's own loop rather than a matrix product, the
    /// direct convolutions and preflight's own max-pools (see `lower.rs`).
    pub fn kernels(&self) -> Vec<String> {
        let Ok(plan) = self.plan_for(&self.input_shape()) else { return Vec::new() };
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for node in plan.runnable.model().nodes() {
            if let Some(mm) = node.op_as::<OptMatMul>() {
                for kernel in &mm.mmm {
                    *counts.entry(kernel.name().to_string()).or_default() += 1;
                }
            } else if node.op().name() == "DepthWiseConv" {
                *counts.entry("DepthWiseConv (tract's loop)".into()).or_default() += 1;
            } else if node.op().name() == "PreflightMaxPool" {
                *counts.entry("PreflightMaxPool (preflight's kernel)".into()).or_default() += 1;
            } else if node.op().name() == "DirectSpatialConv" {
                *counts.entry("DirectSpatialConv (tract's conv_w4 kernel)".into()).or_default() +=
                    1;
            }
        }
        counts.into_iter().map(|(name, n)| format!("{name} ×{n}")).collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_of_the_default_model_add_up() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let model = crate::model::Model::open(root.join("models/blazeface")).unwrap();
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(128, 128));
        let (input, _) = model.prepare(&img);
        let profile = model.engine().profile(&input, 2, 5).unwrap();
        let sum: f64 = profile.by_op.iter().map(|(_, s)| s).sum();
        assert!((sum - 1.0).abs() < 1e-6, "shares sum to {sum}");
        assert!(profile.nodes.len() <= 5 && !profile.nodes.is_empty());
        assert!(profile.nodes.windows(2).all(|w| w[0].mean >= w[1].mean));
        assert!(
            profile.kernels.iter().any(|k| k.contains("mmm")),
            "a convolutional model uses a matrix-multiply kernel: {:?}",
            profile.kernels
        );
    }
}
