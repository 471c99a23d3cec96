//! Small ONNX models built in memory (input `x`, [1, 8, 8, 3] float): the limits tests' bombs
//! and the fuzzer's ONNX seeds (`tests/fuzz-corpus/onnx/`, rewritten by the ignored test
//! `write_onnx_seeds`).

use prost::Message as _;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::*;

pub fn value(name: &str, dims: &[i64]) -> ValueInfoProto {
    use tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|&d| Dimension { value: Some(Value::DimValue(d)), ..Default::default() })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

pub fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: tract_onnx::pb::attribute_proto::AttributeType::Ints as i32,
        ints: values.to_vec(),
        ..Default::default()
    }
}

pub fn int64s(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: DataType::Int64 as i32,
        int64_data: values.to_vec(),
        ..Default::default()
    }
}

pub fn floats(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        dims: dims.to_vec(),
        data_type: DataType::Float as i32,
        float_data: values.to_vec(),
        ..Default::default()
    }
}

/// A model of `nodes` from input `x` [1, 8, 8, 3] to `outputs`.
pub fn model(nodes: Vec<NodeProto>, initializer: Vec<TensorProto>, outputs: &[&str]) -> ModelProto {
    ModelProto {
        ir_version: 8,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        producer_name: "preflight tests".into(),
        graph: Some(GraphProto {
            name: "tiny".into(),
            node: nodes,
            initializer,
            input: vec![value("x", &[1, 8, 8, 3])],
            output: outputs.iter().map(|o| value(o, &[])).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A bundle around `model` (input `x`, stretched, no normalisation) whose `[output]` section is
/// `output`.
pub fn bundle(model: &ModelProto, output: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bytes = model.encode_to_vec();
    std::fs::write(dir.path().join("m.onnx"), &bytes).unwrap();
    let sha = preflight::files::sha256_hex(&bytes);
    std::fs::write(
        dir.path().join("bundle.toml"),
        format!(
            "name = \"tiny\"\nversion = \"1\"\n[model]\npath = \"m.onnx\"\nsha256 = \"{sha}\"\n\
             [input]\nname = \"x\"\nshape = [1, 8, 8, 3]\nlayout = \"nhwc\"\ncolor = \"rgb\"\n\
             resize = \"stretch\"\nscale = 1.0\nmean = [0.0, 0.0, 0.0]\nstd = [1.0, 1.0, 1.0]\n\
             [output]\n{output}"
        ),
    )
    .unwrap();
    dir
}

/// `y = x` beside `big = ConstantOfShape(shape)`: a few hundred bytes that ask for `shape`'s
/// elements.
pub fn constant_of_shape(shape: &[i64]) -> ModelProto {
    model(
        vec![
            node("Identity", &["x"], "y", vec![]),
            node("ConstantOfShape", &["shape"], "big", vec![]),
        ],
        vec![int64s("shape", shape)],
        &["y", "big"],
    )
}

/// The fuzzer's seeds: one model per family of operators a camera model uses.
pub fn seeds() -> Vec<(&'static str, ModelProto)> {
    let weights: Vec<f32> = (0..4 * 3 * 3 * 3).map(|i| (i % 7) as f32 * 0.1 - 0.3).collect();
    let conv = model(
        vec![
            node("Transpose", &["x"], "t", vec![ints("perm", &[0, 3, 1, 2])]),
            node("Conv", &["t", "w", "b"], "c", vec![ints("pads", &[1, 1, 1, 1])]),
            node("Relu", &["c"], "r", vec![]),
            node(
                "MaxPool",
                &["r"],
                "p",
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            ),
            node("GlobalAveragePool", &["p"], "y", vec![]),
        ],
        vec![floats("w", &[4, 3, 3, 3], &weights), floats("b", &[4], &[0.1, 0.0, -0.1, 0.2])],
        &["y"],
    );
    let reshape = model(
        vec![
            node("Reshape", &["x", "shape"], "flat", vec![]),
            node("Softmax", &["flat"], "y", vec![]),
        ],
        vec![int64s("shape", &[1, -1])],
        &["y"],
    );
    let arithmetic = model(
        vec![
            node("Mul", &["x", "k"], "m", vec![]),
            node("Add", &["m", "k"], "a", vec![]),
            node("Sigmoid", &["a"], "y", vec![]),
        ],
        vec![floats("k", &[1], &[0.5])],
        &["y"],
    );
    vec![
        ("identity", model(vec![node("Identity", &["x"], "y", vec![])], vec![], &["y"])),
        ("conv", conv),
        ("reshape", reshape),
        ("arithmetic", arithmetic),
        ("constant_of_shape", constant_of_shape(&[2, 2])),
    ]
}

#[test]
#[ignore = "rewrites the committed seeds: run by hand after changing seeds()"]
fn write_onnx_seeds() {
    let dir = crate::harness::root().join("tests/fuzz-corpus/onnx");
    for (name, m) in seeds() {
        std::fs::write(dir.join(format!("{name}.onnx")), m.encode_to_vec()).unwrap();
    }
}
