//! The tract side: builds the bundle's model once (fix-ups, input fact, optimization) and runs
//! the resulting plan. This is the only module that constructs tract models.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tract_onnx::pb::{GraphProto, ModelProto};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::tract_smallvec::smallvec;

use crate::bundle::Bundle;
use crate::error::{Error, Result};
use crate::fixup;
use crate::preprocess::InputTensor;

/// Name and shape of a model input or output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TensorInfo {
    /// Tensor name in the model.
    pub name: String,
    /// Shape once the input fact is fixed.
    pub shape: Vec<String>,
    /// Element type.
    pub dtype: String,
}

/// Facts about the loaded model, for `inspect` and reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    /// Model inputs.
    pub inputs: Vec<TensorInfo>,
    /// Model outputs, in the order [`Engine::run`] returns them.
    pub outputs: Vec<TensorInfo>,
    /// Nodes in the ONNX graph as shipped.
    pub onnx_nodes: usize,
    /// Nodes in the optimized plan.
    pub plan_nodes: usize,
    /// Fix-ups applied while loading (see the `fixup` module).
    pub fixups: Vec<String>,
    /// ONNX opset of the default domain.
    pub opset: i64,
    /// Producer recorded in the file.
    pub producer: String,
}

/// One output of a model run, copied out of tract as `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTensor {
    /// Output name in the model.
    pub name: String,
    /// Concrete shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// What one run of the plan produced.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// The model's outputs, in model order.
    pub tensors: Vec<OutputTensor>,
    /// Wall time of the plan run alone.
    pub elapsed: Duration,
}

impl Outputs {
    /// The output called `name`.
    pub fn get(&self, name: &str) -> Option<&OutputTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// An optimized, runnable model.
///
/// `Engine` is `Send + Sync`: the plan is immutable and every [`Engine::run`] allocates its
/// own execution state, so one engine can serve several threads at once.
#[derive(Debug, Clone)]
pub struct Engine {
    plan: Arc<TypedRunnableModel>,
    model_path: PathBuf,
    input_shape: Vec<usize>,
    info: ModelInfo,
}

impl Engine {
    /// Builds the bundle's model: decode the protobuf, apply the fix-ups, reject unsupported
    /// operators by name, fix the input fact from the manifest, optimize once.
    pub fn load(bundle: &Bundle) -> Result<Engine> {
        let path = bundle.model_path();
        let spec = &bundle.manifest().input;
        let onnx = tract_onnx::onnx();
        let mut proto = onnx
            .proto_model_for_read(&mut &bundle.model_bytes()[..])
            .map_err(|e| Error::model(path, format!("not a valid ONNX protobuf: {e:#}")))?;
        let graph =
            proto.graph.as_ref().ok_or_else(|| Error::model(path, "ONNX file holds no graph"))?;
        if let Some(op) = first_unsupported_op(&onnx, graph) {
            return Err(Error::model(path, format!("unsupported ONNX operator {op}")));
        }
        let onnx_nodes = graph.node.len();
        let fixups = fixup::apply(&mut proto);
        let opset = opset(&proto);
        let producer =
            format!("{} {}", proto.producer_name, proto.producer_version).trim().to_string();

        let mut model = onnx
            .model_for_proto_model(&proto)
            .map_err(|e| Error::model(path, format!("cannot build the graph: {e:#}")))?;
        let inputs = outlet_names(&model, model.input_outlets());
        if inputs.len() != 1 {
            return Err(Error::model(
                path,
                format!("only single-input models are supported (inputs: {})", inputs.join(", ")),
            ));
        }
        if inputs[0] != spec.name {
            return Err(Error::model(
                path,
                format!("no input named {:?} (the model has: {})", spec.name, inputs.join(", ")),
            ));
        }
        model
            .set_input_fact(0, f32::fact(spec.shape.as_slice()).into())
            .map_err(|e| Error::model(path, format!("input fact: {e:#}")))?;
        let output_names = outlet_names(&model, model.output_outlets());
        let typed = model.into_optimized().map_err(|e| {
            Error::model(path, format!("cannot optimize for input shape {:?}: {e:#}", spec.shape))
        })?;
        let info = ModelInfo {
            inputs: facts(&typed, typed.input_outlets(), &inputs),
            outputs: facts(&typed, typed.output_outlets(), &output_names),
            onnx_nodes,
            plan_nodes: typed.nodes().len(),
            fixups: fixups.iter().map(ToString::to_string).collect(),
            opset,
            producer,
        };
        let plan = typed
            .into_runnable()
            .map_err(|e| Error::model(path, format!("cannot make the plan runnable: {e:#}")))?;
        Ok(Engine { plan, model_path: path.to_path_buf(), input_shape: spec.shape.clone(), info })
    }

    /// Facts about the loaded model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The model file this engine was built from.
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    /// Runs the plan on one input tensor; its shape must be the manifest's.
    pub fn run(&self, input: &InputTensor) -> Result<Outputs> {
        if input.shape != self.input_shape {
            return Err(Error::Shape {
                path: self.model_path.clone(),
                expected: self.input_shape.clone(),
                actual: input.shape.clone(),
            });
        }
        let tensor = Tensor::from_shape(&input.shape, &input.data)
            .map_err(|e| Error::inference(&self.model_path, e))?;
        let start = Instant::now();
        let raw = self
            .plan
            .run(smallvec![tensor.into()])
            .map_err(|e| Error::inference(&self.model_path, e))?;
        let elapsed = start.elapsed();
        let tensors = raw
            .iter()
            .zip(&self.info.outputs)
            .map(|(value, info)| {
                let t = value.cast_to::<f32>()?;
                let data = t.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
                Ok(OutputTensor { name: info.name.clone(), shape: t.shape().to_vec(), data })
            })
            .collect::<TractResult<Vec<_>>>()
            .map_err(|e| Error::inference(&self.model_path, e))?;
        Ok(Outputs { tensors, elapsed })
    }
}

fn opset(proto: &ModelProto) -> i64 {
    proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version)
}

/// ONNX names outputs by tensor, tract by node: prefer the outlet label tract keeps.
fn outlet_names<F, O>(model: &Graph<F, O>, outlets: TractResult<&[OutletId]>) -> Vec<String>
where
    F: Fact + Clone + 'static,
    O: std::fmt::Debug + std::fmt::Display + AsRef<dyn Op> + AsMut<dyn Op> + Clone + 'static,
{
    outlets
        .map(|outlets| {
            outlets
                .iter()
                .map(|&o| model.outlet_label(o).unwrap_or(&model.node(o.node).name).to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn facts(
    model: &TypedModel,
    outlets: TractResult<&[OutletId]>,
    names: &[String],
) -> Vec<TensorInfo> {
    let outlets = outlets.unwrap_or(&[]);
    outlets
        .iter()
        .zip(names)
        .filter_map(|(&o, name)| {
            let fact = model.outlet_fact(o).ok()?;
            Some(TensorInfo {
                name: name.clone(),
                shape: fact.shape.iter().map(|d| d.to_string()).collect(),
                dtype: format!("{:?}", fact.datum_type),
            })
        })
        .collect()
}

/// The first node (subgraphs included) whose operator tract does not implement, named with
/// its domain and node so the user knows what to replace.
fn first_unsupported_op(onnx: &tract_onnx::Onnx, graph: &GraphProto) -> Option<String> {
    for (index, node) in graph.node.iter().enumerate() {
        if !onnx.op_register.0.contains_key(&node.op_type) {
            let domain = if fixup::is_default_domain(node) {
                String::new()
            } else {
                format!("{}.", node.domain)
            };
            return Some(format!(
                "`{domain}{}` (node {})",
                node.op_type,
                fixup::node_label(node, index)
            ));
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                if let Some(op) = first_unsupported_op(onnx, g) {
                    return Some(op);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
    }
}
