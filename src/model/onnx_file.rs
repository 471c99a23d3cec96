//! What a bare `.onnx` file holds, before anyone has written a manifest for it: its inputs and
//! outputs as the file declares them, operators, opset, producer, the fix-ups preflight would
//! apply and the first operator tract lacks, and a starting `[input]` section. This is the
//! first thing a user bringing their own model runs (`preflight inspect model.onnx`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;
use tract_onnx::pb::{type_proto, ModelProto, ValueInfoProto};

use super::fixup;
use crate::error::{Error, Result};

/// One declared input or output.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeclaredTensor {
    /// Tensor name.
    pub name: String,
    /// Dimensions: numbers, or the symbolic names the file gives (`batch`, `?`).
    pub shape: Vec<String>,
    /// ONNX element type (`FLOAT`, `UINT8`, ...).
    pub dtype: String,
}

/// A summary of an ONNX file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OnnxSummary {
    /// The file.
    pub path: PathBuf,
    /// sha256 of the file as it is (what a manifest's `model.sha256` must say).
    pub sha256: String,
    /// Producer and its version.
    pub producer: String,
    /// Opset of the default domain.
    pub opset: i64,
    /// Graph inputs that are not initializers (what the caller feeds).
    pub inputs: Vec<DeclaredTensor>,
    /// Graph outputs.
    pub outputs: Vec<DeclaredTensor>,
    /// Nodes per operator, most used first.
    pub operators: Vec<(String, usize)>,
    /// Nodes in the top-level graph.
    pub nodes: usize,
    /// Fix-ups preflight applies when loading it.
    pub fixups: Vec<String>,
    /// The first operator tract does not implement, if any.
    pub unsupported: Option<String>,
    /// Keys of the file's metadata.
    pub metadata_keys: Vec<String>,
    /// The decoder the outputs call for, where they say it (a YOLO head, class scores).
    pub head: Option<super::head::Head>,
    /// Class names the file records (an Ultralytics export's `names`), in class order.
    pub class_names: Vec<String>,
}

impl OnnxSummary {
    /// Reads and summarises the ONNX file at `path` (no tract model is built).
    pub fn read(path: &Path) -> Result<OnnxSummary> {
        let bytes = crate::files::read_bounded(path, crate::files::MAX_MODEL_BYTES)?;
        let mut proto = ModelProto::decode(&bytes[..])
            .map_err(|e| Error::model(path, format!("not an ONNX protobuf: {e}")))?;
        let graph =
            proto.graph.as_ref().ok_or_else(|| Error::model(path, "ONNX file holds no graph"))?;
        let unsupported = super::precheck::first_unsupported_op(&tract_onnx::onnx(), graph);
        let initializers: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs = graph
            .input
            .iter()
            .filter(|v| !initializers.contains(v.name.as_str()))
            .map(declared)
            .collect::<Vec<_>>();
        let outputs: Vec<DeclaredTensor> = graph.output.iter().map(declared).collect();
        let head = match (inputs.as_slice(), outputs.as_slice()) {
            ([input], [output]) => {
                let softmaxed = graph.node.iter().any(|n| {
                    n.op_type == "Softmax" && n.output.first().is_some_and(|o| *o == output.name)
                });
                super::head::recognise(&input.shape, &output.shape, softmaxed)
            }
            _ => None,
        };
        let class_names = proto
            .metadata_props
            .iter()
            .find(|p| p.key == "names")
            .map(|p| super::head::ultralytics_names(&p.value))
            .unwrap_or_default();
        let mut operators: BTreeMap<String, usize> = BTreeMap::new();
        for node in &graph.node {
            *operators.entry(node.op_type.clone()).or_default() += 1;
        }
        let mut operators: Vec<(String, usize)> = operators.into_iter().collect();
        operators.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let nodes = graph.node.len();
        let fixups = fixup::apply(&mut proto).iter().map(ToString::to_string).collect();
        Ok(OnnxSummary {
            path: path.to_path_buf(),
            sha256: crate::files::sha256_hex(&bytes),
            producer: format!("{} {}", proto.producer_name, proto.producer_version)
                .trim()
                .to_string(),
            opset: super::engine::opset(&proto),
            inputs,
            outputs,
            operators,
            nodes,
            fixups,
            unsupported,
            metadata_keys: proto.metadata_props.iter().map(|p| p.key.clone()).collect(),
            head,
            class_names,
        })
    }

    /// A starting manifest for this file: `[model]` with its hash and an `[input]` section
    /// whose layout is guessed from the shape. Normalisation and the decoder are the model
    /// author's to fill in (they are not in the file); sizes the file leaves open read
    /// `FILL_IN_<name>`.
    pub fn manifest_skeleton(&self) -> String {
        self.manifest("my-model", None, "")
    }

    /// The manifest `preflight init` writes: the skeleton with every size fixed (a symbolic
    /// batch is 1; symbolic height and width are `size`, `(height, width)`), and `extra`
    /// appended. An error says what the file leaves open that `size` does not settle.
    pub fn complete_manifest(
        &self,
        name: &str,
        size: Option<(usize, usize)>,
        extra: &str,
    ) -> std::result::Result<String, String> {
        let text = self.manifest(name, size, extra);
        if let Some(i) = text.find("FILL_IN") {
            let what: String = text[i..].chars().take_while(|c| !c.is_whitespace()).collect();
            return Err(match (what.as_str(), size) {
                ("FILL_IN", _) => {
                    "the input is not 4-D with 1 or 3 channels: no layout to guess".into()
                }
                (_, None) => format!(
                    "the file does not fix the input's size ({}): give --input-size HxW",
                    what.trim_start_matches("FILL_IN_").trim_end_matches([',', ']'])
                ),
                (_, Some(_)) => format!("the input's channel count is not fixed ({what})"),
            });
        }
        if self.inputs.len() != 1 {
            return Err(format!(
                "only single-input models are supported (inputs: {})",
                self.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(text)
    }

    fn manifest(&self, name: &str, size: Option<(usize, usize)>, extra: &str) -> String {
        let file = self.path.file_name().map_or("model.onnx".into(), |f| f.to_string_lossy());
        let mut out = format!(
            "name = \"{name}\"\nversion = \"0.1.0\"\n\n[model]\npath = \"{file}\"\nsha256 = \"{}\"\n",
            self.sha256
        );
        if let Some(input) = self.inputs.first() {
            let layout = match input.shape.as_slice() {
                [_, c, _, _] if c == "1" || c == "3" => "nchw",
                [_, _, _, c] if c == "1" || c == "3" => "nhwc",
                _ => "FILL_IN (nchw or nhwc)",
            };
            let (h_axis, w_axis, c_axis) = if layout == "nhwc" { (1, 2, 3) } else { (2, 3, 1) };
            let (color, mean, std) = match input.shape.get(c_axis).map(String::as_str) {
                Some("1") => ("gray", "[0.0]", "[1.0]"),
                _ => ("rgb", "[0.0, 0.0, 0.0]", "[1.0, 1.0, 1.0]"),
            };
            let dims: Vec<String> = input
                .shape
                .iter()
                .enumerate()
                .map(|(i, d)| match (d.parse::<usize>(), size) {
                    (Ok(n), _) => n.to_string(),
                    // A symbolic batch is 1; other symbolic sizes need a number.
                    (Err(_), _) if i == 0 => "1".into(),
                    (Err(_), Some((h, _))) if i == h_axis => h.to_string(),
                    (Err(_), Some((_, w))) if i == w_axis => w.to_string(),
                    (Err(_), _) => format!("FILL_IN_{d}"),
                })
                .collect();
            out.push_str(&format!(
                "\n[input]\nname = \"{}\"\nshape = [{}]\nlayout = \"{layout}\"\ncolor = \"{color}\"      # or bgr, gray: as the model was trained\nresize = \"stretch\"  # or letterbox, center-crop, fit-longer-side, pad-right\nscale = 0.00392156862745098\nmean = {mean}\nstd = {std}\n\n[output]\nkind = \"raw\"        # classification, detection, segmentation or ctc to check decisions\n",
                input.name,
                dims.join(", ")
            ));
        }
        out.push_str(extra);
        out
    }
}

fn declared(v: &ValueInfoProto) -> DeclaredTensor {
    let (shape, dtype) = match v.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(type_proto::Value::TensorType(t)) => {
            let shape = t
                .shape
                .as_ref()
                .map(|s| {
                    s.dim
                        .iter()
                        .map(|d| match &d.value {
                            Some(
                                tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(n),
                            ) => n.to_string(),
                            Some(
                                tract_onnx::pb::tensor_shape_proto::dimension::Value::DimParam(p),
                            ) if !p.is_empty() => p.clone(),
                            _ => "?".into(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let dtype = tract_onnx::pb::tensor_proto::DataType::try_from(t.elem_type)
                .map_or_else(|_| format!("type {}", t.elem_type), |d| format!("{d:?}"));
            (shape, dtype)
        }
        _ => (Vec::new(), "not a tensor".into()),
    };
    DeclaredTensor { name: v.name.clone(), shape, dtype }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_is_summarised_without_a_manifest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = root.join("models/blazeface/face_detection_front_128x128_barracuda.onnx");
        let s = OnnxSummary::read(&path).unwrap();
        assert_eq!(s.nodes, 104);
        assert_eq!(s.inputs.len(), 1);
        assert_eq!(s.outputs.len(), 4);
        assert!(s.unsupported.is_none());
        assert!(s.operators.iter().any(|(op, _)| op == "Conv"));
        let skeleton = s.manifest_skeleton();
        assert!(
            skeleton.contains(&s.sha256) && skeleton.contains("layout = \"nhwc\""),
            "{skeleton}"
        );
    }
}
