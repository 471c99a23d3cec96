//! Spec-correct repairs applied to an ONNX protobuf in memory before tract builds it, so that
//! preflight loads real exports exactly as they were shipped (the file on disk, and its hash,
//! stay untouched).
//!
//! The list is deliberately short. Each fix-up makes explicit a default the ONNX operator
//! specification already defines, where tract assumes a different one; none changes what a
//! spec-conforming runtime would compute.

use std::path::Path;

use prost::Message;
use tract_onnx::pb::{attribute_proto::AttributeType, tensor_proto::DataType};
use tract_onnx::pb::{AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto};

use crate::error::{Error, Result};

/// One repair applied to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixup {
    /// Name of the node repaired (or its op type and index when unnamed).
    pub node: String,
    /// What was done and which part of the spec justifies it.
    pub what: &'static str,
}

impl std::fmt::Display for Fixup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.node, self.what)
    }
}

/// ConstantOfShape (opset 9+): "value: (Optional) The value of the output elements. Should be
/// a one-element tensor. If not specified, it defaults to a tensor of value 0 and datatype
/// float32". tract's default is an f64 zero, which then fails to unify with the f32 graph.
const CONSTANT_OF_SHAPE_VALUE: &str =
    "ConstantOfShape without `value`: set the spec default, a one-element float32 zero";

/// Applies every fix-up to `model` (subgraphs included) and returns what was done.
pub(crate) fn apply(model: &mut ModelProto) -> Vec<Fixup> {
    let mut done = Vec::new();
    if let Some(graph) = model.graph.as_mut() {
        fix_graph(graph, &mut done);
    }
    for f in &done {
        log::info!("onnx fix-up: {f}");
    }
    done
}

/// The ONNX file `bytes` (read from `path`) with every fix-up applied, re-encoded, and what
/// was done: for code that hands the model to tract, or another runtime, itself (the
/// raw-tract benchmark does). The file on disk is never changed.
pub fn fixed_onnx(path: &Path, bytes: &[u8]) -> Result<(Vec<u8>, Vec<Fixup>)> {
    let mut model = ModelProto::decode(bytes)
        .map_err(|e| Error::model(path, format!("not an ONNX protobuf: {e}")))?;
    let done = apply(&mut model);
    Ok((model.encode_to_vec(), done))
}

fn fix_graph(graph: &mut GraphProto, done: &mut Vec<Fixup>) {
    for (index, node) in graph.node.iter_mut().enumerate() {
        if node.op_type == "ConstantOfShape"
            && is_default_domain(node)
            && !node.attribute.iter().any(|a| a.name == "value")
        {
            node.attribute.push(float32_zero_value());
            done.push(Fixup { node: node_label(node, index), what: CONSTANT_OF_SHAPE_VALUE });
        }
        for attr in &mut node.attribute {
            if let Some(g) = attr.g.as_mut() {
                fix_graph(g, done);
            }
            for g in &mut attr.graphs {
                fix_graph(g, done);
            }
        }
    }
}

pub(crate) fn is_default_domain(node: &NodeProto) -> bool {
    node.domain.is_empty() || node.domain == "ai.onnx"
}

pub(crate) fn node_label(node: &NodeProto, index: usize) -> String {
    if node.name.is_empty() {
        format!("{}#{index}", node.op_type)
    } else {
        node.name.clone()
    }
}

fn float32_zero_value() -> AttributeProto {
    AttributeProto {
        name: "value".into(),
        r#type: AttributeType::Tensor as i32,
        t: Some(TensorProto {
            dims: vec![1],
            data_type: DataType::Float as i32,
            float_data: vec![0.0],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: op.into(),
            name: format!("{op}_node"),
            attribute: attrs,
            ..Default::default()
        }
    }

    fn model(nodes: Vec<NodeProto>) -> ModelProto {
        ModelProto {
            graph: Some(GraphProto { node: nodes, ..Default::default() }),
            ..Default::default()
        }
    }

    #[test]
    fn constant_of_shape_without_value_gets_float32_zero() {
        let mut m = model(vec![node("ConstantOfShape", vec![]), node("Relu", vec![])]);
        let done = apply(&mut m);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].node, "ConstantOfShape_node");
        let attr = &m.graph.unwrap().node[0].attribute[0];
        let t = attr.t.as_ref().unwrap();
        assert_eq!(attr.name, "value");
        assert_eq!(t.data_type, DataType::Float as i32);
        assert_eq!((t.dims.as_slice(), t.float_data.as_slice()), (&[1i64][..], &[0.0f32][..]));
    }

    #[test]
    fn explicit_value_is_left_alone() {
        let explicit = float32_zero_value();
        let mut m = model(vec![node("ConstantOfShape", vec![explicit.clone()])]);
        assert!(apply(&mut m).is_empty());
        assert_eq!(m.graph.unwrap().node[0].attribute, vec![explicit]);
    }

    #[test]
    fn subgraphs_are_repaired_too() {
        let inner =
            GraphProto { node: vec![node("ConstantOfShape", vec![])], ..Default::default() };
        let branch =
            AttributeProto { name: "then_branch".into(), g: Some(inner), ..Default::default() };
        let mut m = model(vec![node("If", vec![branch])]);
        assert_eq!(apply(&mut m).len(), 1);
    }

    #[test]
    fn other_domains_are_not_touched() {
        let mut n = node("ConstantOfShape", vec![]);
        n.domain = "com.example".into();
        let mut m = model(vec![n]);
        assert!(apply(&mut m).is_empty());
    }
}
