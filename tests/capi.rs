//! The C API: the checked-in header declares every exported function, and (with the `capi`
//! feature) the functions refuse null pointers, impossible frames and too-small buffers
//! with a code and a message, never a crash.

#[test]
fn header_declares_every_exported_function() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("src/device/capi");
    let src: String = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
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

#[cfg(feature = "capi")]
mod calls {
    use std::ffi::{CStr, CString};
    use std::ptr;

    use preflight::device::capi::*;

    fn last_error() -> String {
        // SAFETY: preflight_last_error never returns null and the string lives until the next
        // call on this thread.
        unsafe { CStr::from_ptr(preflight_last_error()) }.to_string_lossy().into_owned()
    }

    /// The default bundle with a one-check suite, so a runtime starts in well under a second.
    fn small_bundle() -> tempfile::TempDir {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/blazeface");
        let dir = tempfile::tempdir().unwrap();
        for f in ["bundle.toml", "face_detection_front_128x128_barracuda.onnx", "envelope.json"] {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
        std::fs::copy(src.join("cases/astronaut.png"), dir.path().join("astronaut.png")).unwrap();
        std::fs::write(
            dir.path().join("suite.toml"),
            "name = \"capi\"\nrecheck = [\"one-face\"]\n[[cases]]\nid = \"astronaut\"\nimage = \"astronaut.png\"\nobjects = 1\n\
             [[checks]]\nname = \"one-face\"\nkind = \"accuracy\"\nseverity = \"critical\"\n\
             metric = \"count_match\"\ncases = [\"astronaut\"]\nthreshold = 1.0\n",
        )
        .unwrap();
        dir
    }

    fn start(dir: &std::path::Path) -> *mut PreflightRuntime {
        let path = CString::new(dir.to_str().unwrap()).unwrap();
        let mut rt = ptr::null_mut();
        // SAFETY: a NUL-terminated path, a null target and a valid out pointer.
        let code = unsafe { preflight_start(path.as_ptr(), ptr::null(), 0, 0, &mut rt) };
        assert_eq!(code, PREFLIGHT_OK, "{}", last_error());
        assert!(!rt.is_null());
        rt
    }

    #[test]
    fn null_arguments_are_refused() {
        // SAFETY: every pointer is null or valid, as the functions require.
        unsafe {
            let dir = CString::new("models/blazeface").unwrap();
            assert_eq!(
                preflight_start(dir.as_ptr(), ptr::null(), 0, 0, ptr::null_mut()),
                PREFLIGHT_INVALID_ARGUMENT
            );
            let mut rt = std::ptr::dangling_mut::<PreflightRuntime>();
            assert_eq!(
                preflight_start(ptr::null(), ptr::null(), 0, 0, &mut rt),
                PREFLIGHT_INVALID_ARGUMENT
            );
            assert!(rt.is_null(), "out is cleared on failure");
            assert!(last_error().contains("bundle_dir is null"), "{}", last_error());
            let missing = CString::new("no/such/bundle").unwrap();
            assert_eq!(
                preflight_start(missing.as_ptr(), ptr::null(), 0, 0, &mut rt),
                PREFLIGHT_ERROR
            );
            assert!(last_error().contains("no/such/bundle"), "{}", last_error());
            let bad_utf8 = [0xffu8, 0xfe, 0];
            assert_eq!(
                preflight_start(bad_utf8.as_ptr().cast(), ptr::null(), 0, 0, &mut rt),
                PREFLIGHT_INVALID_ARGUMENT
            );
            assert_eq!(preflight_verdict(ptr::null()), -1);
            let mut found = 7usize;
            let pixels = [0u8; 12];
            assert_eq!(
                preflight_infer(
                    ptr::null_mut(),
                    pixels.as_ptr(),
                    2,
                    2,
                    6,
                    3,
                    ptr::null_mut(),
                    0,
                    &mut found
                ),
                PREFLIGHT_INVALID_ARGUMENT
            );
            assert_eq!(found, 0, "found is written on error paths");
            let mut health = PreflightHealth::default();
            assert_eq!(preflight_health(ptr::null(), &mut health), PREFLIGHT_INVALID_ARGUMENT);
            assert!(preflight_report_json(ptr::null()).is_null());
            preflight_free(ptr::null_mut());
            preflight_string_free(ptr::null_mut());
        }
    }

    #[test]
    fn frames_sizes_and_capacity_on_a_running_model() {
        let bundle = small_bundle();
        let rt = start(bundle.path());
        let img =
            preflight::prelude::load_image(&bundle.path().join("astronaut.png")).unwrap().to_rgb8();
        let (w, h) = img.dimensions();
        let pixels = img.as_raw();
        let mut found = 99usize;
        let mut out = [PreflightDetection::default(); 2];
        // SAFETY: `rt` is live; `pixels` holds `h * 3w` bytes; `out` holds the given capacity.
        unsafe {
            assert_eq!(preflight_verdict(rt), PREFLIGHT_VERDICT_PASS);
            // Zero sizes, a short stride, an impossible channel count.
            for (fw, fh, stride, ch) in
                [(0, h, 3 * w, 3), (w, 0, 3 * w, 3), (w, h, 3 * w - 1, 3), (w, h, 3 * w, 4)]
            {
                let code = preflight_infer(
                    rt,
                    pixels.as_ptr(),
                    fw,
                    fh,
                    stride,
                    ch,
                    out.as_mut_ptr(),
                    2,
                    &mut found,
                );
                assert_eq!(code, PREFLIGHT_INVALID_ARGUMENT, "{fw}x{fh} stride {stride} ch {ch}");
                assert_eq!(found, 0);
            }
            // Null out with a capacity.
            let code = preflight_infer(
                rt,
                pixels.as_ptr(),
                w,
                h,
                3 * w,
                3,
                ptr::null_mut(),
                2,
                &mut found,
            );
            assert_eq!(code, PREFLIGHT_INVALID_ARGUMENT);
            // Capacity 0: the count is still reported, with PREFLIGHT_CAPACITY.
            let code = preflight_infer(
                rt,
                pixels.as_ptr(),
                w,
                h,
                3 * w,
                3,
                ptr::null_mut(),
                0,
                &mut found,
            );
            assert_eq!((code, found), (PREFLIGHT_CAPACITY, 1), "{}", last_error());
            let code = preflight_infer(
                rt,
                pixels.as_ptr(),
                w,
                h,
                3 * w,
                3,
                out.as_mut_ptr(),
                2,
                &mut found,
            );
            assert_eq!((code, found), (PREFLIGHT_OK, 1));
            assert!(out[0].score > 0.75 && out[0].x1 > out[0].x0, "{:?}", out[0]);
            let mut health = PreflightHealth::default();
            assert_eq!(preflight_health(rt, &mut health), PREFLIGHT_OK);
            assert_eq!(health.served, 2, "only frames that ran are served");
            let json = preflight_report_json(rt);
            assert!(!json.is_null());
            let report: serde_json::Value =
                serde_json::from_str(CStr::from_ptr(json).to_str().unwrap()).unwrap();
            assert_eq!(report["verdict"], "pass");
            preflight_string_free(json);
            preflight_free(rt);
        }
    }

    #[test]
    fn each_frame_is_judged_against_the_envelope() {
        let bundle = small_bundle();
        let rt = start(bundle.path());
        let sharp =
            preflight::prelude::load_image(&bundle.path().join("astronaut.png")).unwrap().to_rgb8();
        // sigma 32 px at 512 is 8 px at the model's 128: past blur severity 5 (7.7 px).
        let foggy = image::imageops::blur(&sharp, 32.0);
        let mut found = 0usize;
        for (img, inside) in [(&sharp, 1), (&foggy, 0)] {
            let (w, h) = img.dimensions();
            // SAFETY: `rt` is live, the buffer holds `h * 3w` bytes, capacity 0 with null out.
            let code = unsafe {
                preflight_infer(rt, img.as_ptr(), w, h, 3 * w, 3, ptr::null_mut(), 0, &mut found)
            };
            assert!([PREFLIGHT_OK, PREFLIGHT_CAPACITY].contains(&code), "{}", last_error());
            assert_eq!(preflight_last_frame_inside(), inside);
        }
        // A call that runs no frame says so.
        // SAFETY: null runtime, checked by the function.
        let code = unsafe {
            preflight_infer(
                ptr::null_mut(),
                sharp.as_ptr(),
                1,
                1,
                3,
                3,
                ptr::null_mut(),
                0,
                &mut found,
            )
        };
        assert_eq!(code, PREFLIGHT_INVALID_ARGUMENT);
        assert_eq!(preflight_last_frame_inside(), -1);
        // SAFETY: a runtime from preflight_start, freed once.
        unsafe { preflight_free(rt) };
    }

    #[test]
    fn trusted_start_refuses_unsigned_and_runs_signed_bundles() {
        use preflight::model::signature::{sign, SecretKey};
        let dir = small_bundle();
        let key = SecretKey::generate().unwrap();
        let keys = CString::new(format!("{}\n", key.public())).unwrap();
        let path = CString::new(dir.path().to_str().unwrap()).unwrap();
        let mut rt = ptr::null_mut();
        // SAFETY: NUL-terminated strings, a null target and a valid out pointer.
        let start = |rt: &mut *mut PreflightRuntime, keys: &CString| unsafe {
            preflight_start_trusted(path.as_ptr(), ptr::null(), 0, 0, keys.as_ptr(), rt)
        };
        assert_eq!(start(&mut rt, &keys), PREFLIGHT_ERROR);
        assert!(rt.is_null());
        assert!(last_error().contains("bundle.sig"), "{}", last_error());
        let bad = CString::new("ed25519:xyz").unwrap();
        assert_eq!(start(&mut rt, &bad), PREFLIGHT_INVALID_ARGUMENT);
        assert!(last_error().contains("trusted_keys: line 1"), "{}", last_error());
        sign(&preflight::model::Bundle::open(dir.path()).unwrap(), &key).unwrap();
        assert_eq!(start(&mut rt, &keys), PREFLIGHT_OK, "{}", last_error());
        // SAFETY: a runtime from preflight_start_trusted, freed once.
        unsafe { preflight_free(rt) };
    }

    #[test]
    fn reload_serves_a_new_install_and_keeps_the_old_one_on_refusal() {
        use preflight::device::install::{install, InstallOptions};
        let root = tempfile::tempdir().unwrap();
        let options = InstallOptions::default();
        let first = small_bundle();
        install(root.path(), first.path(), &options, &mut |_, _| Ok(())).unwrap();
        let rt = start(root.path());
        let version = |rt| {
            // SAFETY: a live runtime; the string is freed once.
            let json = unsafe { preflight_report_json(rt) };
            let text = unsafe { CStr::from_ptr(json) }.to_string_lossy().into_owned();
            unsafe { preflight_string_free(json) };
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["bundle"]["version"].as_str().unwrap().to_string()
        };
        assert_eq!(version(rt), "1.2.0");
        let second = small_bundle();
        let manifest = std::fs::read_to_string(second.path().join("bundle.toml")).unwrap();
        std::fs::write(
            second.path().join("bundle.toml"),
            manifest.replace("version = \"1.2.0\"", "version = \"1.3.0\""),
        )
        .unwrap();
        assert!(
            install(root.path(), second.path(), &options, &mut |_, _| Ok(())).unwrap().switched
        );
        // SAFETY: a live runtime.
        assert_eq!(unsafe { preflight_reload(rt) }, PREFLIGHT_OK, "{}", last_error());
        assert_eq!(version(rt), "1.3.0");
        // The slot serving is edited so its gate fails: refused, 1.3.0 keeps serving.
        let slot = root.path().join(std::fs::read_link(root.path().join("current")).unwrap());
        let suite = std::fs::read_to_string(slot.join("suite.toml")).unwrap();
        std::fs::write(slot.join("suite.toml"), suite.replace("objects = 1", "objects = 3"))
            .unwrap();
        // SAFETY: a live runtime; then a null one.
        assert_eq!(unsafe { preflight_reload(rt) }, PREFLIGHT_REFUSED);
        assert!(last_error().contains("keeps serving"), "{}", last_error());
        assert!(!preflight_last_report_json().is_null());
        assert_eq!(version(rt), "1.3.0");
        assert_eq!(unsafe { preflight_reload(ptr::null_mut()) }, PREFLIGHT_INVALID_ARGUMENT);
        // SAFETY: freed once.
        unsafe { preflight_free(rt) };
    }

    #[test]
    fn keypoints_recheck_and_classes_reach_c() {
        let bundle = small_bundle();
        let rt = start(bundle.path());
        let img =
            preflight::prelude::load_image(&bundle.path().join("astronaut.png")).unwrap().to_rgb8();
        let (w, h) = img.dimensions();
        let mut found = 0usize;
        let mut det = [PreflightDetection::default(); 4];
        let mut points = [PreflightPoint::default(); 8];
        let mut classes = [PreflightClass { index: 0, score: 0.0, label: [0; 64] }; 2];
        // SAFETY: `rt` is live; the frame holds `h * 3w` bytes; every out array holds the
        // capacity given with it.
        unsafe {
            let code =
                preflight_infer(rt, img.as_ptr(), w, h, 3 * w, 3, det.as_mut_ptr(), 4, &mut found);
            assert_eq!((code, found), (PREFLIGHT_OK, 1), "{}", last_error());
            assert_eq!(preflight_keypoints(0, points.as_mut_ptr(), 8, &mut found), PREFLIGHT_OK);
            assert_eq!(found, 6, "BlazeFace: eyes, nose, mouth, ears");
            let d = det[0];
            for p in &points[..6] {
                assert!(p.x >= d.x0 - 20.0 && p.x <= d.x1 + 20.0, "{p:?} vs {d:?}");
                assert!(p.y >= d.y0 - 20.0 && p.y <= d.y1 + 20.0, "{p:?} vs {d:?}");
            }
            assert_eq!(
                preflight_keypoints(0, points.as_mut_ptr(), 2, &mut found),
                PREFLIGHT_CAPACITY
            );
            assert_eq!(found, 6);
            assert_eq!(
                preflight_keypoints(1, points.as_mut_ptr(), 8, &mut found),
                PREFLIGHT_INVALID_ARGUMENT
            );
            assert_eq!(
                preflight_keypoints(0, ptr::null_mut(), 1, &mut found),
                PREFLIGHT_INVALID_ARGUMENT
            );

            assert_eq!(preflight_recheck(rt), PREFLIGHT_OK, "{}", last_error());
            let json = preflight_last_report_json();
            let text = CStr::from_ptr(json).to_string_lossy().into_owned();
            preflight_string_free(json);
            assert!(text.contains("\"one-face\""), "{text}");
            assert_eq!(preflight_recheck(ptr::null()), PREFLIGHT_INVALID_ARGUMENT);

            // A detector is not a classifier.
            let code = preflight_classify(
                rt,
                img.as_ptr(),
                w,
                h,
                3 * w,
                3,
                classes.as_mut_ptr(),
                2,
                &mut found,
            );
            assert_eq!((code, found), (PREFLIGHT_ERROR, 0));
            assert!(last_error().contains("not a classifier"), "{}", last_error());
            preflight_free(rt);
        }
    }

    /// The PP-OCR direction classifier through C: labels and scores, best first.
    #[test]
    fn fetched_classes_reach_c_with_their_labels() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let rt = start(&root.join("models/ppocr-cls"));
        let mut found = 0usize;
        let mut classes = [PreflightClass { index: 0, score: 0.0, label: [0; 64] }; 2];
        for (file, want) in [("line_03.png", "0"), ("line_03_180.png", "180")] {
            let path = root.join("models/ppocr-cls/cases").join(file);
            let img = preflight::prelude::load_image(&path).unwrap().to_rgb8();
            let (w, h) = img.dimensions();
            // SAFETY: `rt` is live; the frame holds `h * 3w` bytes; `classes` holds 2.
            let code = unsafe {
                preflight_classify(
                    rt,
                    img.as_ptr(),
                    w,
                    h,
                    3 * w,
                    3,
                    classes.as_mut_ptr(),
                    2,
                    &mut found,
                )
            };
            assert_eq!((code, found), (PREFLIGHT_OK, 2), "{}", last_error());
            // SAFETY: the label is NUL-terminated within its 64 bytes.
            let label = unsafe { CStr::from_ptr(classes[0].label.as_ptr()) }.to_str().unwrap();
            assert_eq!(label, want, "{file}");
            assert!(classes[0].score >= classes[1].score);
        }
        // SAFETY: freed once.
        unsafe { preflight_free(rt) };
    }

    /// Fuzzing the frame entry point: random sizes, strides, channel counts, capacities and
    /// pixels on a running model. Frames that claim more bytes than the buffer holds are never
    /// passed (that would break the caller's side of the contract); impossible frames are, and
    /// must be refused before a byte is read.
    #[test]
    fn fuzz_infer_frames() {
        use crate::fuzz::{budget, Rng};
        let bundle = small_bundle();
        let rt = start(bundle.path());
        let mut rng = Rng(0x6361_7069);
        let (start_time, mut runs, mut served) = (std::time::Instant::now(), 0u64, 0u64);
        let mut out = [PreflightDetection::default(); 8];
        while start_time.elapsed() < budget() {
            let dim = |rng: &mut Rng| match rng.below(8) {
                0 => 0,
                1 => u32::MAX - rng.below(4) as u32,
                _ => 1 + rng.below(700) as u32,
            };
            let (w, h) = (dim(&mut rng), dim(&mut rng));
            let ch = [0u32, 1, 2, 3, 4, 3, 3, 1][rng.below(8)];
            let row = w as u64 * ch as u64;
            let stride = match rng.below(4) {
                0 => row.saturating_sub(1) as u32,
                1 => u32::MAX,
                _ => (row + rng.below(16) as u64).min(u32::MAX as u64) as u32,
            };
            let bytes = stride as u64 * h as u64;
            let possible = w > 0 && h > 0 && (ch == 1 || ch == 3) && stride as u64 >= row;
            let capacity = rng.below(9);
            let mut found = 77usize;
            runs += 1;
            if possible && bytes > 4 << 20 {
                continue; // a real frame this large needs a real buffer this large
            }
            let pixels: Vec<u8> = if possible {
                (0..bytes).map(|_| rng.next() as u8).collect()
            } else {
                vec![0u8; 16]
            };
            // SAFETY: a possible frame's buffer holds `stride * height` bytes; an impossible
            // one is refused before the buffer is read; `out` holds 8 >= capacity.
            let code = unsafe {
                preflight_infer(
                    rt,
                    pixels.as_ptr(),
                    w,
                    h,
                    stride,
                    ch,
                    out.as_mut_ptr(),
                    capacity,
                    &mut found,
                )
            };
            if possible {
                assert!(
                    [PREFLIGHT_OK, PREFLIGHT_CAPACITY].contains(&code),
                    "{w}x{h} stride {stride} ch {ch}: {code} {}",
                    last_error()
                );
                assert!(found < 1000);
                served += 1;
            } else {
                assert_eq!(code, PREFLIGHT_INVALID_ARGUMENT, "{w}x{h} stride {stride} ch {ch}");
                assert_eq!(found, 0, "found is written on error paths");
            }
        }
        eprintln!(
            "fuzz capi: {runs} frames in {:.0} s, {served} served, 0 crashes",
            start_time.elapsed().as_secs_f64()
        );
        // SAFETY: a runtime from preflight_start, freed once.
        unsafe { preflight_free(rt) };
    }
}
