//! Signed bundles: under a trust policy, an unsigned bundle, a bundle signed by another key,
//! and every kind of tampering (a changed byte, an added case, a removed case, a forged
//! signature) are refused before anything runs, with one line naming the file.

use crate::harness::*;

/// A scratch bundle with a one-check suite (`small.toml`), signed by a fresh key `vendor`.
pub(crate) struct Signed {
    pub(crate) bundle: ScratchBundle,
    keys: tempfile::TempDir,
}

impl Signed {
    pub(crate) fn new() -> Signed {
        let bundle = ScratchBundle::new();
        std::fs::write(
            bundle.path().join("small.toml"),
            "name = \"small\"\n[[cases]]\nid = \"astronaut\"\nimage = \"cases/astronaut.png\"\n\
             objects = 1\n[[checks]]\nname = \"one-face\"\nkind = \"accuracy\"\n\
             severity = \"critical\"\nmetric = \"count_match\"\ncases = [\"astronaut\"]\n\
             threshold = 1.0\n",
        )
        .unwrap();
        let keys = tempfile::tempdir().unwrap();
        let signed = Signed { bundle, keys };
        let o = preflight(&["keygen", &signed.key("vendor")]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = preflight(&["sign", signed.bundle.arg(), "--key", &signed.secret("vendor")]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("signed"), "{}", stdout(&o));
        signed
    }

    fn key(&self, name: &str) -> String {
        self.keys.path().join(name).to_str().unwrap().to_string()
    }

    pub(crate) fn public(&self, name: &str) -> String {
        format!("{}.pub", self.key(name))
    }

    fn secret(&self, name: &str) -> String {
        format!("{}.key", self.key(name))
    }

    fn check(&self, trust: &str) -> std::process::Output {
        let suite = self.bundle.path().join("small.toml");
        preflight(&[
            "check",
            self.bundle.arg(),
            "--suite",
            suite.to_str().unwrap(),
            "--trust",
            trust,
        ])
    }
}

#[test]
fn signed_bundle_runs_under_its_key_and_inspect_says_valid() {
    let s = Signed::new();
    let o = s.check(&s.public("vendor"));
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let o = preflight(&["inspect", s.bundle.arg(), "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["signature"]["status"], "valid", "{doc}");
    let public = std::fs::read_to_string(s.public("vendor")).unwrap();
    assert_eq!(doc["signature"]["key"], public.trim());
    let secret = std::fs::metadata(s.secret("vendor")).unwrap();
    #[cfg(unix)]
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&secret.permissions()) & 0o777, 0o600);
}

#[test]
fn changed_byte_in_a_case_is_refused() {
    let s = Signed::new();
    let case = s.bundle.path().join("cases/astronaut.png");
    let mut bytes = std::fs::read(&case).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&case, bytes).unwrap();
    assert_one_line_error(&s.check(&s.public("vendor")), &["astronaut.png", "changed since"]);
    // Without a policy it still runs, and inspect says what is wrong.
    let o = preflight(&["inspect", s.bundle.arg()]);
    assert!(stdout(&o).contains("signature INVALID"), "{}", stdout(&o));
}

#[test]
fn added_case_is_refused() {
    let s = Signed::new();
    std::fs::copy(case("astronaut.png"), s.bundle.path().join("cases/extra.png")).unwrap();
    assert_one_line_error(&s.check(&s.public("vendor")), &["extra.png", "not covered"]);
}

#[test]
fn removed_case_is_refused() {
    let s = Signed::new();
    let victim = std::fs::read_dir(s.bundle.path().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_file() && !p.ends_with("astronaut.png"))
        .unwrap();
    std::fs::remove_file(&victim).unwrap();
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert_one_line_error(&s.check(&s.public("vendor")), &[name, "missing"]);
}

#[test]
fn bundle_signed_by_another_key_is_refused() {
    let s = Signed::new();
    assert!(preflight(&["keygen", &s.key("other")]).status.success());
    assert_one_line_error(&s.check(&s.public("other")), &["bundle.sig", "does not list"]);
}

#[test]
fn forged_signature_is_refused() {
    let s = Signed::new();
    let sig = s.bundle.path().join("bundle.sig");
    let text = std::fs::read_to_string(&sig).unwrap();
    let at = text.find("signature = \"").unwrap() + "signature = \"".len();
    let flipped = if &text[at..=at] == "0" { "1" } else { "0" };
    std::fs::write(&sig, format!("{}{flipped}{}", &text[..at], &text[at + 1..])).unwrap();
    assert_one_line_error(&s.check(&s.public("vendor")), &["bundle.sig", "does not verify"]);
}

#[test]
fn unsigned_bundle_is_refused_under_a_policy() {
    let s = Signed::new();
    std::fs::remove_file(s.bundle.path().join("bundle.sig")).unwrap();
    assert_one_line_error(&s.check(&s.public("vendor")), &["bundle.sig", "no signature"]);
    let o = preflight(&[
        "run",
        s.bundle.arg(),
        "--trust",
        &s.public("vendor"),
        case("astronaut.png").to_str().unwrap(),
    ]);
    assert_one_line_error(&o, &["bundle.sig", "no signature"]);
}

#[test]
fn target_profile_trusted_keys_are_a_policy() {
    let s = Signed::new();
    assert!(preflight(&["keygen", &s.key("other")]).status.success());
    let host = std::fs::read_to_string(root().join("targets/host.toml")).unwrap();
    let profile = s.keys.path().join("device.toml");
    let other = std::fs::read_to_string(s.public("other")).unwrap();
    std::fs::write(&profile, format!("{host}trusted_keys = [{:?}]\n", other.trim())).unwrap();
    let suite = s.bundle.path().join("small.toml");
    let args = ["check", s.bundle.arg(), "--suite", suite.to_str().unwrap(), "--target"];
    let o = preflight(&[&args[..], &[profile.to_str().unwrap()]].concat());
    assert_one_line_error(&o, &["bundle.sig", "does not list"]);
    std::fs::write(&profile, format!("{host}trusted_keys = [\"ed25519:00\"]\n")).unwrap();
    let o = preflight(&[&args[..], &[profile.to_str().unwrap()]].concat());
    assert_one_line_error(&o, &["device.toml", "trusted_keys[0]"]);
}

#[test]
fn keygen_never_overwrites_a_key() {
    let s = Signed::new();
    let before = std::fs::read(s.secret("vendor")).unwrap();
    assert_one_line_error(
        &preflight(&["keygen", &s.key("vendor")]),
        &["vendor.key", "already exists"],
    );
    assert_eq!(std::fs::read(s.secret("vendor")).unwrap(), before);
}
