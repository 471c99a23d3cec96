//! Checks on an ONNX graph before tract builds it, for what tract would turn into a crash.
//!
//! The tensor budget (`model.max_tensor_mb`): no tensor a model holds may be larger, checked
//! before tract allocates it. A 243-byte ONNX file can ask for a petabyte: a constant of a
//! declared shape, or a `ConstantOfShape` that tract folds while loading. An allocation that
//! large aborts the process (no `catch_unwind` catches it), so the sizes are computed from the
//! protobuf first, then from the typed graph's concrete shapes before it is optimized.

use std::collections::HashMap;
use std::path::Path;

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{GraphProto, TensorProto};
use tract_onnx::prelude::*;

use super::fixup::node_label;
use crate::error::{Error, Result};

/// Bytes per element of an ONNX data type (8 for those not listed: the widest).
fn element_bytes(data_type: i32) -> u64 {
    match DataType::try_from(data_type) {
        Ok(DataType::Bool | DataType::Int8 | DataType::Uint8) => 1,
        Ok(DataType::Float16 | DataType::Bfloat16 | DataType::Int16 | DataType::Uint16) => 2,
        Ok(DataType::Float | DataType::Int32 | DataType::Uint32) => 4,
        _ => 8,
    }
}

/// Product of `dims`, or `None` on a negative dimension or overflow.
fn elements(dims: impl IntoIterator<Item = i64>) -> Option<u64> {
    dims.into_iter().try_fold(1u64, |acc, d| acc.checked_mul(u64::try_from(d).ok()?))
}

/// The integer values of a small constant tensor (a shape), if it holds int64 or int32.
fn int_values(t: &TensorProto) -> Option<Vec<i64>> {
    if !t.int64_data.is_empty() {
        return Some(t.int64_data.clone());
    }
    if !t.int32_data.is_empty() {
        return Some(t.int32_data.iter().map(|&v| v as i64).collect());
    }
    let width = match DataType::try_from(t.data_type).ok()? {
        DataType::Int64 => 8,
        DataType::Int32 => 4,
        _ => return None,
    };
    let values = t.raw_data.chunks_exact(width).map(|c| match width {
        8 => i64::from_le_bytes(c.try_into().expect("8 bytes")),
        _ => i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64,
    });
    Some(values.collect())
}

/// Refuses, before tract sees the graph, a constant larger than `budget` bytes, a
/// shape-from-constant operator (`ConstantOfShape`, `Expand`, `Tile`) whose result would be,
/// and attributes tract trusts to be sane (`Transpose`'s `perm`).
pub(crate) fn check_proto(path: &Path, graph: &GraphProto, budget: u64) -> Result<()> {
    // Every graph output must be made by something: tract indexes its table of names.
    let made: std::collections::HashSet<&str> = graph
        .input
        .iter()
        .map(|v| v.name.as_str())
        .chain(graph.initializer.iter().map(|t| t.name.as_str()))
        .chain(graph.node.iter().flat_map(|n| n.output.iter().map(String::as_str)))
        .collect();
    if let Some(out) = graph.output.iter().find(|o| !made.contains(o.name.as_str())) {
        return Err(Error::model(
            path,
            format!("graph output {:?} is made by no node, input or initializer", out.name),
        ));
    }
    check_nodes(path, graph, budget)
}

/// The budget and attribute checks of one graph, subgraphs included (a subgraph may output
/// a value of the enclosing scope, so only the top graph's outputs are checked above).
fn check_nodes(path: &Path, graph: &GraphProto, budget: u64) -> Result<()> {
    let over = |what: String, bytes: Option<u64>| -> Result<()> {
        match bytes {
            Some(b) if b <= budget => Ok(()),
            _ => Err(Error::model(
                path,
                format!(
                    "{what} would take {}, over the tensor budget of {} MiB (model.max_tensor_mb)",
                    bytes.map_or("more bytes than exist".into(), |b| format!("{} MiB", b >> 20)),
                    budget >> 20
                ),
            )),
        }
    };
    let mut constants: HashMap<&str, &TensorProto> = HashMap::new();
    for t in &graph.initializer {
        let bytes = elements(t.dims.iter().copied())
            .and_then(|n| n.checked_mul(element_bytes(t.data_type)));
        over(format!("initializer {:?}", t.name), bytes)?;
        constants.insert(&t.name, t);
    }
    for (index, node) in graph.node.iter().enumerate() {
        let label = || format!("node {} ({})", node_label(node, index), node.op_type);
        let constant =
            |i: usize| node.input.get(i).and_then(|n| constants.get(n.as_str())).copied();
        match node.op_type.as_str() {
            "Constant" => {
                for t in node.attribute.iter().filter_map(|a| a.t.as_ref()) {
                    let bytes = elements(t.dims.iter().copied())
                        .and_then(|n| n.checked_mul(element_bytes(t.data_type)));
                    over(label(), bytes)?;
                    if let Some(out) = node.output.first() {
                        constants.insert(out, t);
                    }
                }
            }
            "ConstantOfShape" => {
                if let Some(shape) = constant(0).and_then(int_values) {
                    let width = node
                        .attribute
                        .iter()
                        .find_map(|a| a.t.as_ref())
                        .map_or(4, |t| element_bytes(t.data_type));
                    over(label(), elements(shape).and_then(|n| n.checked_mul(width)))?;
                }
            }
            // At least as large as the shape asked for (broadcasting only adds).
            "Expand" => {
                if let Some(shape) = constant(1).and_then(int_values) {
                    let dims = shape.into_iter().map(|d| d.max(1));
                    // Element count as bytes: a lower bound whatever the type.
                    over(label(), elements(dims))?;
                }
            }
            // tract takes `perm` on trust: a repeated axis sent one model to 24 GB, an axis
            // past the rank panicked (both found by fuzzing).
            "Transpose" => {
                if let Some(perm) = node.attribute.iter().find(|a| a.name == "perm") {
                    let mut seen = perm.ints.clone();
                    seen.sort_unstable();
                    if seen.iter().enumerate().any(|(i, &a)| a != i as i64) {
                        return Err(Error::model(
                            path,
                            format!(
                                "{}: perm {:?} is not a permutation of the axes",
                                label(),
                                perm.ints
                            ),
                        ));
                    }
                }
            }
            "Tile" => {
                if let (Some(input), Some(repeats)) =
                    (constant(0), constant(1).and_then(int_values))
                {
                    let n = elements(input.dims.iter().copied().chain(repeats));
                    over(label(), n.and_then(|n| n.checked_mul(element_bytes(input.data_type))))?;
                }
            }
            _ => {}
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                check_nodes(path, g, budget)?;
            }
        }
    }
    Ok(())
}

/// Refuses a typed graph in which a tensor of known shape is larger than `budget` bytes: what
/// the plan would allocate at this input size.
pub(crate) fn check_typed(path: &Path, model: &TypedModel, budget: u64) -> Result<()> {
    for node in model.nodes() {
        for output in &node.outputs {
            let Some(shape) = output.fact.shape.as_concrete() else { continue };
            let bytes =
                shape.iter().try_fold(output.fact.datum_type.size_of() as u64, |acc, &d| {
                    acc.checked_mul(d as u64)
                });
            if bytes.is_none_or(|b| b > budget) {
                return Err(Error::model(
                    path,
                    format!(
                        "node {:?} makes a {shape:?} tensor, over the tensor budget of {} MiB \
                         (model.max_tensor_mb)",
                        node.name,
                        budget >> 20
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The first node (subgraphs included) whose operator tract does not implement, named with
/// its domain and node so the user knows what to replace.
pub(crate) fn first_unsupported_op(onnx: &tract_onnx::Onnx, graph: &GraphProto) -> Option<String> {
    for (index, node) in graph.node.iter().enumerate() {
        if !onnx.op_register.0.contains_key(&node.op_type) {
            let domain = if super::fixup::is_default_domain(node) {
                String::new()
            } else {
                format!("{}.", node.domain)
            };
            return Some(format!("`{domain}{}` (node {})", node.op_type, node_label(node, index)));
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
    use tract_onnx::pb::{AttributeProto, NodeProto};

    fn shape_constant(values: &[i64]) -> TensorProto {
        TensorProto {
            name: "shape".into(),
            dims: vec![values.len() as i64],
            data_type: DataType::Int64 as i32,
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        }
    }

    fn graph(op: &str, shape: &[i64]) -> GraphProto {
        GraphProto {
            initializer: vec![shape_constant(shape)],
            node: vec![NodeProto {
                op_type: op.into(),
                input: vec!["x".into(), "shape".into()][usize::from(op == "ConstantOfShape")..]
                    .to_vec(),
                output: vec!["big".into()],
                attribute: Vec::<AttributeProto>::new(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn constant_of_shape_over_the_budget_is_refused() {
        let p = Path::new("m.onnx");
        let err = check_proto(p, &graph("ConstantOfShape", &[100_000; 3]), 256 << 20).unwrap_err();
        assert!(err.to_string().contains("over the tensor budget of 256 MiB"), "{err}");
        assert!(check_proto(p, &graph("ConstantOfShape", &[800; 3]), 256 << 20).is_err());
        assert!(check_proto(p, &graph("ConstantOfShape", &[64, 64]), 256 << 20).is_ok());
        // i64::MAX elements overflow the byte count: refused, not wrapped.
        assert!(check_proto(p, &graph("ConstantOfShape", &[i64::MAX, 2]), u64::MAX).is_err());
    }

    #[test]
    fn expand_and_huge_initializers_are_refused() {
        let p = Path::new("m.onnx");
        assert!(check_proto(p, &graph("Expand", &[1, 100_000, 100_000]), 256 << 20).is_err());
        assert!(check_proto(p, &graph("Expand", &[1, -1, 4]), 256 << 20).is_ok());
        let mut g = graph("Identity", &[1]);
        g.initializer[0].dims = vec![1 << 40];
        assert!(check_proto(p, &g, 256 << 20).is_err());
    }
}
