//! The checked-in C header must declare every function the C API exports.

#[test]
fn header_declares_every_exported_function() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(root.join("src/capi.rs")).unwrap();
    let header = std::fs::read_to_string(root.join("include/preflight.h")).unwrap();
    let exported: Vec<&str> = src
        .lines()
        .filter_map(|l| l.split("extern \"C\" fn ").nth(1))
        .filter_map(|rest| rest.split('(').next())
        .collect();
    assert!(exported.len() >= 9, "found {exported:?}");
    for name in exported {
        assert!(
            header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}(")),
            "include/preflight.h lacks {name}: regenerate it with cbindgen (see cbindgen.toml)"
        );
    }
    for code in ["PREFLIGHT_OK", "PREFLIGHT_REFUSED", "PREFLIGHT_CAPACITY", "PREFLIGHT_PANIC"] {
        assert!(header.contains(code), "{code}");
    }
}
