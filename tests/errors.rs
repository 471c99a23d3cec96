//! Bad input of every kind: exit 2, one stderr line naming the file and the problem, no panic.

use crate::harness::*;
use prost::Message;

const ASTRONAUT: &str = "models/blazeface/cases/astronaut.png";

#[test]
fn missing_bundle() {
    let o = preflight(&["run", "no/such/bundle", ASTRONAUT]);
    // Not a bundle, so it is taken as an image next to the default bundle.
    assert_one_line_error(&o, &["no/such/bundle"]);
    let o = preflight(&["inspect", "no/such/bundle"]);
    assert_one_line_error(&o, &["no/such/bundle", "not found"]);
}

#[test]
fn missing_model() {
    let b = ScratchBundle::new();
    std::fs::remove_file(b.model()).unwrap();
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["face_detection_front_128x128_barracuda.onnx"],
    );
}

#[test]
fn truncated_model_fails_its_hash() {
    let b = ScratchBundle::new();
    let bytes = std::fs::read(b.model()).unwrap();
    std::fs::write(b.model(), &bytes[..bytes.len() / 2]).unwrap();
    assert_one_line_error(
        &preflight(&["run", b.arg(), ASTRONAUT]),
        &["barracuda.onnx", "sha256 mismatch"],
    );
}

#[test]
fn truncated_model_with_matching_hash_is_not_onnx() {
    let b = ScratchBundle::new();
    let bytes = std::fs::read(b.model()).unwrap();
    let cut = &bytes[..bytes.len() / 2];
    std::fs::write(b.model(), cut).unwrap();
    b.edit_manifest(
        "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51",
        &preflight::files::sha256_hex(cut),
    );
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["barracuda.onnx", "not a valid ONNX protobuf"],
    );
}

#[test]
fn bad_manifest_value_names_its_key() {
    let b = ScratchBundle::new();
    b.edit_manifest("layout = \"nhwc\"", "layout = \"hwc\"");
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["bundle.toml", "input.layout", "hwc"],
    );
}

#[test]
fn unknown_manifest_key_names_it() {
    let b = ScratchBundle::new();
    b.edit_manifest("[input]\n", "[input]\nmeen = [0.0]\n");
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["bundle.toml", "input", "unknown field `meen`"],
    );
}

#[test]
fn impossible_threshold_in_manifest() {
    let b = ScratchBundle::new();
    b.edit_manifest("score_threshold = 0.5", "score_threshold = 1.5");
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["bundle.toml", "output.score_threshold"],
    );
}

#[test]
fn impossible_threshold_on_the_command_line() {
    assert_one_line_error(&preflight(&["run", ASTRONAUT, "--threshold", "7"]), &["--threshold"]);
}

#[test]
fn path_leaving_the_bundle_is_refused() {
    let b = ScratchBundle::new();
    b.edit_manifest(
        "path = \"face_detection_front_128x128_barracuda.onnx\"",
        "path = \"../face_detection_front_128x128_barracuda.onnx\"",
    );
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["bundle.toml", "model.path", "leaves"],
    );
}

#[test]
fn wrong_input_name() {
    let b = ScratchBundle::new();
    b.edit_manifest("name = \"input:0\"", "name = \"image\"");
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["barracuda.onnx", "no input named \"image\"", "input:0"],
    );
}

#[test]
fn wrong_input_shape_for_the_outputs() {
    let b = ScratchBundle::new();
    b.edit_manifest("shape = [1, 128, 128, 3]", "shape = [1, 64, 64, 3]");
    assert_one_line_error(
        &preflight(&["run", b.arg(), ASTRONAUT]),
        &["barracuda.onnx", "cannot optimize for input shape [1, 64, 64, 3]"],
    );
}

#[test]
fn anchor_layout_that_does_not_match_the_outputs() {
    let b = ScratchBundle::new();
    b.edit_manifest("strides = [8, 16]", "strides = [16, 16]");
    assert_one_line_error(
        &preflight(&["run", b.arg(), ASTRONAUT]),
        &["bundle.toml", "output.scores[0]", "[1, 512, 1]", "[1, 128, 1]"],
    );
}

#[test]
fn wrong_shaped_tensor_is_a_typed_error() {
    let model = preflight::prelude::Model::open(default_bundle()).unwrap();
    let bad = preflight::model::preprocess::InputTensor {
        shape: vec![1, 64, 64, 3],
        data: vec![0.0; 64 * 64 * 3],
    };
    let err = model.engine().run(&bad).unwrap_err();
    assert!(matches!(err, preflight::Error::Shape { .. }), "{err}");
    assert!(err.to_string().contains("barracuda.onnx"), "{err}");
}

#[test]
fn undecodable_image() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("broken.png");
    let png = std::fs::read(case("astronaut.png")).unwrap();
    std::fs::write(&img, &png[..2000]).unwrap();
    assert_one_line_error(
        &preflight(&["run", img.to_str().unwrap()]),
        &["broken.png", "cannot decode image"],
    );
    let txt = dir.path().join("notes.txt");
    std::fs::write(&txt, "hello").unwrap();
    assert_one_line_error(
        &preflight(&["run", txt.to_str().unwrap()]),
        &["notes.txt", "not a PNG or JPEG"],
    );
}

#[test]
fn missing_image() {
    assert_one_line_error(
        &preflight(&["run", "models/blazeface/cases/nobody.png"]),
        &["nobody.png"],
    );
}

#[test]
fn unsupported_operator_is_named() {
    use tract_onnx::pb;
    let b = ScratchBundle::new();
    let mut proto = pb::ModelProto::decode(&std::fs::read(b.model()).unwrap()[..]).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    graph.node[3].op_type = "FrobnicateV2".into();
    let bytes = proto.encode_to_vec();
    std::fs::write(b.model(), &bytes).unwrap();
    b.edit_manifest(
        "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51",
        &preflight::files::sha256_hex(&bytes),
    );
    assert_one_line_error(
        &preflight(&["inspect", b.arg()]),
        &["barracuda.onnx", "unsupported ONNX operator `FrobnicateV2`"],
    );
}

#[test]
fn library_returns_typed_errors() {
    let err = preflight::prelude::Model::open("no/such/dir").unwrap_err();
    assert!(matches!(err, preflight::Error::Io { .. }), "{err:?}");
    let err = preflight::prelude::load_image(std::path::Path::new("Cargo.toml")).unwrap_err();
    assert!(matches!(err, preflight::Error::Image { .. }), "{err:?}");
}
