//! Resource limits: a small file must not make preflight allocate what a board does not have.
//! Each case found by trying to break preflight (issue 14) is refused with one line naming the
//! file and the key, exit 2, before the memory is allocated.

use std::io::Cursor;

use crate::harness::*;
use crate::tiny_onnx::constant_of_shape;
use tract_onnx::pb::ModelProto;

/// A raw bundle around `model` (single input `x`, [1, 8, 8, 3]).
fn raw_bundle(model: &ModelProto) -> tempfile::TempDir {
    crate::tiny_onnx::bundle(model, "kind = \"raw\"\n")
}

#[test]
fn constant_of_shape_bomb_is_refused_before_allocating() {
    for shape in [[100_000i64; 3], [800; 3]] {
        let dir = raw_bundle(&constant_of_shape(&shape));
        let o = preflight(&["inspect", dir.path().to_str().unwrap()]);
        assert_one_line_error(&o, &["m.onnx", "ConstantOfShape", "tensor budget of 256 MiB"]);
    }
    // The same graph with a small constant loads: the check is not a blanket refusal.
    let dir = raw_bundle(&constant_of_shape(&[4, 4]));
    let o = preflight(&["inspect", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn tensor_budget_is_the_manifests_to_raise_within_a_ceiling() {
    let dir = raw_bundle(&constant_of_shape(&[800, 800, 800]));
    let manifest = dir.path().join("bundle.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let with = |extra: &str| text.replacen("sha256", &format!("{extra}\nsha256"), 1);
    std::fs::write(&manifest, with("max_tensor_mb = 1000000")).unwrap();
    let o = preflight(&["inspect", dir.path().to_str().unwrap()]);
    assert_one_line_error(&o, &["bundle.toml", "model.max_tensor_mb", "1..=16384"]);
    // A lower budget is applied as given.
    std::fs::write(&manifest, with("max_tensor_mb = 1")).unwrap();
    let o = preflight(&["inspect", dir.path().to_str().unwrap()]);
    assert_one_line_error(&o, &["tensor budget of 1 MiB"]);
}

#[test]
fn multiple_larger_than_the_input_is_refused() {
    let b = ScratchBundle::new();
    b.edit_manifest("resize = \"letterbox\"", "resize = \"fit-longer-side\"\nmultiple = 100000");
    let o = preflight(&["inspect", b.arg()]);
    assert_one_line_error(&o, &["bundle.toml", "input.multiple", "larger than the input"]);
}

#[test]
fn huge_max_width_is_refused_by_the_tensor_budget() {
    let b = ScratchBundle::new();
    b.edit_manifest("resize = \"letterbox\"", "resize = \"pad-right\"\nmax_width = 1000000000");
    let o = preflight(&["inspect", b.arg()]);
    assert_one_line_error(&o, &["input.max_width", "tensor budget"]);
}

#[test]
fn huge_manifest_shape_is_refused_before_bench_allocates() {
    let b = ScratchBundle::new();
    b.edit_manifest("shape = [1, 128, 128, 3]", "shape = [1, 100000, 100000, 3]");
    let o = preflight(&["bench", b.arg(), "--iterations", "1"]);
    assert_one_line_error(&o, &["bundle.toml", "input.shape", "tensor budget"]);
}

#[test]
fn unknown_key_with_kind_raw_is_refused() {
    let dir = raw_bundle(&constant_of_shape(&[2]));
    let manifest = dir.path().join("bundle.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}score_treshold = 0.5\n")).unwrap();
    let o = preflight(&["inspect", dir.path().to_str().unwrap()]);
    assert_one_line_error(&o, &["bundle.toml", "output", "score_treshold"]);
}

/// A valid 1x1 PNG whose header claims `w`x`h` (CRC fixed): tiny file, huge image.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::GrayImage::new(1, 1)
        .write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .unwrap();
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let mut crc = 0xFFFF_FFFFu32;
    for &b in &bytes[12..29] {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    bytes[29..33].copy_from_slice(&(!crc).to_be_bytes());
    bytes
}

#[test]
fn image_over_the_pixel_limit_is_refused_from_its_header() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.png");
    std::fs::write(&big, png_claiming(13_000, 13_000)).unwrap();
    let o = preflight(&["run", big.to_str().unwrap()]);
    assert_one_line_error(&o, &["big.png", "13000x13000", "over the limit of 50000000"]);
    // The bundle sets its own limit: a camera bundle can lower it (or raise it).
    let b = ScratchBundle::new();
    b.edit_manifest("resize = \"letterbox\"", "resize = \"letterbox\"\nmax_image_pixels = 1000");
    let o = preflight(&["run", b.arg(), case("astronaut.png").to_str().unwrap()]);
    assert_one_line_error(&o, &["astronaut.png", "over the limit of 1000"]);
}

#[test]
fn perturb_of_a_camera_sized_photo_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("photo.png");
    std::fs::write(&big, png_claiming(4000, 3000)).unwrap();
    let out = dir.path().join("out.png");
    let args =
        ["perturb", big.to_str().unwrap(), "--name", "gaussian_blur", "--severity", "5", "--out"];
    let o = preflight(&[&args[..], &[out.to_str().unwrap()]].concat());
    assert_one_line_error(&o, &["photo.png", "over the limit"]);
}

#[test]
fn truncated_jpeg_is_refused_instead_of_judged() {
    let img = preflight::prelude::load_image(&case("astronaut.png")).unwrap();
    let mut bytes = Vec::new();
    img.to_rgb8().write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Jpeg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let half = dir.path().join("half.jpg");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let o = preflight(&["run", half.to_str().unwrap()]);
    assert_one_line_error(&o, &["half.jpg", "truncated"]);
    let whole = dir.path().join("whole.jpg");
    std::fs::write(&whole, &bytes).unwrap();
    assert_eq!(preflight(&["run", whole.to_str().unwrap()]).status.code(), Some(0));
}

#[test]
fn manifest_over_the_text_limit_is_refused_before_parsing() {
    let b = ScratchBundle::new();
    let mean = vec!["0.5"; 400_000].join(", ");
    b.edit_manifest("mean = [", &format!("mean = [{mean}, "));
    let o = preflight(&["inspect", b.arg()]);
    assert_one_line_error(&o, &["bundle.toml", "over the limit of 1048576"]);
}

#[test]
fn transpose_with_a_repeated_or_out_of_range_axis_is_refused_not_a_crash() {
    // Found by fuzz_onnx_loading: perm [0, 3, 1, 34] made tract panic (index past the rank);
    // perm [0, 3, 1, 0] before a Conv grew the process to 24 GB until the kernel killed it.
    use crate::tiny_onnx::{ints, model, node};
    for perm in [[0, 3, 1, 34], [0, 3, 1, 0]] {
        let m =
            model(vec![node("Transpose", &["x"], "y", vec![ints("perm", &perm)])], vec![], &["y"]);
        let dir = raw_bundle(&m);
        let o = preflight(&["inspect", dir.path().to_str().unwrap()]);
        assert_one_line_error(&o, &["m.onnx", "Transpose", "not a permutation"]);
    }
}

#[test]
fn graph_output_made_by_nothing_is_refused_not_a_crash() {
    // Found by fuzz_onnx_loading: tract looks the name up in its table and panics.
    use crate::tiny_onnx::{model, node};
    let m = model(vec![node("Identity", &["x"], "y", vec![])], vec![], &["nope"]);
    let o = preflight(&["inspect", raw_bundle(&m).path().to_str().unwrap()]);
    assert_one_line_error(&o, &["m.onnx", "\"nope\" is made by no node"]);
}

#[test]
fn tract_panic_on_a_malformed_model_is_an_error_naming_the_model() {
    // Found by fuzz_onnx_loading: a Conv whose `pads` has fewer entries than the kernel has
    // axes makes tract index past them. The panic is caught and the model refused in one line.
    use crate::tiny_onnx::{floats, ints, model, node};
    let m = model(
        vec![
            node("Transpose", &["x"], "t", vec![ints("perm", &[0, 3, 1, 2])]),
            node("Conv", &["t", "w"], "y", vec![ints("pads", &[1, 1])]),
        ],
        vec![floats("w", &[1, 3, 3, 3], &[0.1; 27])],
        &["y"],
    );
    let o = preflight(&["inspect", raw_bundle(&m).path().to_str().unwrap()]);
    assert_one_line_error(&o, &["m.onnx", "tract failed on this model"]);
}
