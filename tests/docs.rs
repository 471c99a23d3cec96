//! The docs cannot drift: every command README.md, docs/*.md and models/*/README.md show is
//! run, and what they show it printing must be what it prints.
//!
//! Fenced blocks by their info string:
//! - `console`: a session. `$ ` lines are commands (continued by a trailing `\` or a
//!   here-document), the lines after them what they print. All of a page's sessions run in
//!   order, in one bash, from a scratch directory holding links to the repository's `models`,
//!   `targets`, `tools`, `examples` and `include`, with `preflight` (and `cargo run --`) the
//!   binary under test. `/opt/` and `/tmp/` in commands land in the scratch directory.
//!   A command must exit 0 unless the next one is `echo $?`, whose output must be the code.
//!   Shown output is matched line by line, in order, skipping lines the docs leave out:
//!   numbers compare as numbers-of-any-value (timings and scores vary by machine), spacing is
//!   collapsed, and `…` stands for anything. A `minor` row shown passing may fail: minor
//!   checks inform only, and a shared CI machine can miss a boot-time budget.
//! - `console,board`: a session meant for a board (`--target rpi4`, …): run the same way, with
//!   the board's profile replaced by `host`, whose budgets are this machine's.
//! - `sh`: commands CI runs in `.ci/run` or `tools/*.sh` (builds of minutes: the firmware
//!   example, the C library, the ARM builds); each must appear there.
//! - `sh,untested`: commands for machines CI does not have (a board over ssh, cross's Docker
//!   images, systemd); listed in `UNTESTED` below so adding one is a decision.
//! - Anything else (`toml`, `rust`, `c`, `json`, `text`, …) is not a command: a `$ ` line
//!   there fails, so a session cannot hide in a `text` block.

use crate::harness::root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `sh,untested` blocks: (page, first command), and why CI cannot run it.
const UNTESTED: &[(&str, &str, &str)] = &[
    (
        "README.md",
        "cargo install --path . --root ~/.local",
        "a release build of ~8 min; tests run the same code built for them, and \
         cli::installed_binary_finds_its_default_bundle_under_share checks the share/ lookup",
    ),
    (
        "docs/boards.md",
        "cross build --release --target aarch64-unknown-linux-gnu",
        "cross needs Docker; CI builds the same targets with tools/arm-emulate.sh",
    ),
    (
        "docs/boards.md",
        "scp target/aarch64-unknown-linux-gnu/release/preflight pi@board:",
        "no board in CI",
    ),
    (
        "docs/firmware-c.md",
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc cargo rustc --release --target aarch64-unknown-linux-gnu --lib --features capi --crate-type staticlib",
        "rustup's target; CI builds the same library with Debian's toolchain in tools/arm-emulate.sh",
    ),
    (
        "docs/fleet.md",
        "sudo cp examples/systemd/*.service examples/systemd/*.timer /etc/systemd/system/",
        "installs systemd units: needs root and systemd",
    ),
];

/// Every page with commands; a page not listed here fails `docs_pages_are_all_run`.
const PAGES: &[&str] = &[
    "README.md",
    "docs/own-model.md",
    "docs/firmware-rust.md",
    "docs/firmware-c.md",
    "docs/factory.md",
    "docs/boards.md",
    "docs/updates.md",
    "docs/fleet.md",
    "docs/envelope.md",
    "docs/trust-and-limits.md",
    "docs/cli.md",
    "docs/suite.md",
    "docs/bundle.md",
    "docs/pipeline.md",
    "docs/perturbations.md",
    "docs/report.md",
    "docs/architecture.md",
    "models/blazeface/README.md",
    "models/ppocr-det/README.md",
    "models/ppocr-cls/README.md",
    "models/ppocr-rec/README.md",
    "models/ppocr/README.md",
    "models/doc-orientation/README.md",
    "models/doc-layout/README.md",
    "models/yolov8n/README.md",
];

struct Block {
    line: usize,
    info: String,
    body: Vec<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start();
        if let Some(rest) = fence.strip_prefix("```") {
            match open.take() {
                Some(b) => out.push(b),
                None => {
                    open = Some(Block { line: i + 1, info: rest.trim().to_string(), body: vec![] })
                }
            }
        } else if let Some(b) = open.as_mut() {
            b.body.push(line.to_string());
        }
    }
    assert!(open.is_none(), "unclosed code block");
    out
}

/// A session's commands with the output shown after each.
struct Step {
    command: String,
    shown: Vec<String>,
}

fn steps(body: &[String]) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut lines = body.iter();
    while let Some(line) = lines.next() {
        let Some(cmd) = line.strip_prefix("$ ") else {
            let step = out.last_mut().expect("a console block starts with a `$ ` command");
            step.shown.push(line.clone());
            continue;
        };
        let mut command = cmd.to_string();
        while command.ends_with('\\') {
            command.pop();
            command.push_str(lines.next().expect("continued line").trim_start());
        }
        if let Some(tag) = heredoc_tag(&command) {
            for l in lines.by_ref() {
                command.push('\n');
                command.push_str(l);
                if *l == tag {
                    break;
                }
            }
        }
        out.push(Step { command, shown: vec![] });
    }
    out
}

fn heredoc_tag(command: &str) -> Option<String> {
    let rest = &command[command.find("<<")? + 2..];
    let tag: String = rest
        .trim_start_matches(['\'', '"', '-'])
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!tag.is_empty()).then_some(tag)
}

/// Numbers become `#`, spacing collapses: what a line says, not what this machine measured.
fn normalise(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.trim().chars().peekable();
    let mut last_space = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars.peek().is_some_and(|d| d.is_ascii_digit() || *d == '.' || *d == 'e') {
                let d = chars.next().unwrap();
                if d == 'e' && chars.peek().is_some_and(|s| *s == '-' || *s == '+') {
                    chars.next();
                }
            }
            if out.ends_with('-') {
                out.pop();
            }
            out.push('#');
            last_space = false;
        } else if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push(c);
            last_space = false;
        }
    }
    out
}

/// `shown` matches `actual` when the parts between its `…` appear in order, the first at the
/// start and the last at the end.
fn line_matches(shown: &str, actual: &str) -> bool {
    let parts: Vec<&str> = shown.split('…').collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if actual.len() < first.len() + last.len()
        || !actual.starts_with(first)
        || !actual.ends_with(last)
    {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// A minor check's row shown passing also matches the same row failing.
fn row_matches(shown: &str, actual: &str) -> bool {
    if line_matches(shown, actual) {
        return true;
    }
    match shown.strip_prefix("✓ ") {
        Some(rest) if rest.contains(" minor ") => line_matches(&format!("✗ {rest}"), actual),
        _ => false,
    }
}

/// What a command is run as: the binary under test, paths in the scratch directory, and for a
/// board's session the host's profile.
fn rewrite(command: &str, work: &Path, board: bool) -> String {
    let mut c = command.replace("cargo run --release -- ", "preflight ");
    c = c.replace("cargo run -- ", "preflight ");
    if c == "cargo run --" || c.starts_with("cargo run -- ") {
        c = c.replacen("cargo run --", "preflight", 1);
    }
    let w = work.display();
    c = c.replace(" /opt/", &format!(" {w}/opt/")).replace(" /tmp/", &format!(" {w}/tmp/"));
    if board {
        for name in ["rpi4", "pi-zero-2w", "rpi-armv7", "jetson-orin-nano"] {
            c = c.replace(&format!("--target {name}"), "--target host");
        }
    }
    c
}

fn run_page(page: &str) {
    let text = std::fs::read_to_string(root().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
    let mut session: Vec<(usize, bool, Step)> = Vec::new();
    for b in blocks(&text) {
        let at = format!("{page}:{}", b.line);
        match b.info.as_str() {
            "console" | "console,board" => {
                let board = b.info == "console,board";
                session.extend(steps(&b.body).into_iter().map(|s| (b.line, board, s)))
            }
            "sh" => check_run_by_ci(&at, &b.body),
            "sh,untested" => {
                let first = commands(&b.body).into_iter().next().expect("an untested block");
                assert!(
                    UNTESTED.iter().any(|(p, c, _)| *p == page && *c == first),
                    "{at}: `{first}` is in an `sh,untested` block but not in UNTESTED"
                );
            }
            other => {
                assert!(
                    !matches!(other, "bash" | "shell" | "sh,no_run"),
                    "{at}: a `{other}` block: use `console` (run here) or `sh` (run by CI)"
                );
                if let Some(l) = b.body.iter().find(|l| l.starts_with("$ ")) {
                    panic!("{at}: `{l}` in a `{other}` block: show sessions as `console`");
                }
            }
        }
    }
    if session.is_empty() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().canonicalize().unwrap();
    scratch(&work);
    let mut script = String::from("exec 2>&1\ncd \"$PREFLIGHT_DOCS_WORK\"\n__rc=0\n");
    for (i, (_, board, step)) in session.iter().enumerate() {
        // `(exit $__rc)` hands the previous command's code to an `echo $?`.
        script.push_str(&format!("printf '\\n@@step {i}@@\\n'; (exit $__rc)\n"));
        script.push_str(&rewrite(&step.command, &work, *board));
        script.push_str(&format!("\n__rc=$?; printf '\\n@@rc {i} %d@@\\n' $__rc\n"));
    }
    let bin = work.join("bin");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let o = Command::new("timeout")
        .args(["900", "bash", "-c", &script])
        .current_dir(&work)
        .env("PATH", path)
        .env("HOME", work.join("home"))
        .env("PREFLIGHT_DOCS_WORK", &work)
        .env("PREFLIGHT_MODELS", preflight::model::bundle::model_cache_dir())
        .env_remove("PREFLIGHT_LOG")
        .env_remove("PREFLIGHT_BUNDLE")
        .output()
        .expect("spawn bash");
    let all = String::from_utf8_lossy(&o.stdout).replace(&format!("{}/", work.display()), "/");
    for (i, (line, _, step)) in session.iter().enumerate() {
        let start = all.find(&format!("@@step {i}@@\n")).unwrap_or_else(|| {
            panic!("{page}:{line}: `{}` never ran; the session printed:\n{all}", step.command)
        });
        let body = &all[start + format!("@@step {i}@@\n").len()..];
        let end = body
            .find(&format!("\n@@rc {i} "))
            .unwrap_or_else(|| panic!("{page}:{line}: `{}` did not finish:\n{body}", step.command));
        let printed = &body[..end];
        let rc: i32 =
            body[end + format!("\n@@rc {i} ").len()..].split("@@").next().unwrap().parse().unwrap();
        let shows_code = session.get(i + 1).is_some_and(|(_, _, s)| s.command == "echo $?");
        if step.command == "echo $?" {
            assert_eq!(
                printed.trim(),
                step.shown.join("\n").trim(),
                "{page}:{line}: the exit code the docs show"
            );
            continue;
        }
        assert!(rc == 0 || shows_code, "{page}:{line}: `{}` exited {rc}:\n{printed}", step.command);
        let actual: Vec<String> = printed.lines().map(normalise).collect();
        let mut from = 0;
        for shown in step.shown.iter().map(|l| normalise(l)) {
            if shown.is_empty() || shown == "…" {
                continue;
            }
            match actual[from..].iter().position(|a| row_matches(&shown, a)) {
                Some(k) => from += k + 1,
                None => panic!(
                    "{page}:{line}: `{}`: the docs show\n  {shown}\nwhich is not in what it printed (after line {from}):\n{printed}",
                    step.command
                ),
            }
        }
    }
}

/// The scratch directory a page's sessions run in.
fn scratch(work: &Path) {
    for dir in ["models", "targets", "tools", "examples", "include"] {
        std::os::unix::fs::symlink(root().join(dir), work.join(dir)).unwrap();
    }
    for dir in ["bin", "opt", "tmp", "home/.cache/preflight"] {
        std::fs::create_dir_all(work.join(dir)).unwrap();
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_preflight"), work.join("bin/preflight"))
        .unwrap();
    std::os::unix::fs::symlink(
        preflight::model::bundle::model_cache_dir(),
        work.join("home/.cache/preflight/models"),
    )
    .unwrap();
}

/// A block's commands, continuations joined, comments and prompts dropped.
fn commands(body: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in body {
        let line = line.strip_prefix("$ ").unwrap_or(line);
        let code = match line.find(" #") {
            Some(at) => &line[..at],
            None => line,
        };
        let code = code.trim();
        if let Some(part) = code.strip_suffix('\\') {
            current.push_str(part.trim());
            current.push(' ');
            continue;
        }
        current.push_str(code);
        if !current.trim().is_empty() {
            out.push(collapse(&current));
        }
        current.clear();
    }
    out
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// CI's scripts as the docs would write them: no `--locked`, no quotes, the default target dir.
fn ci_text() -> String {
    let mut text = String::new();
    let mut files = vec![root().join(".ci/run")];
    for e in std::fs::read_dir(root().join("tools")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sh") {
            files.push(p);
        }
    }
    for f in files {
        text.push_str(&std::fs::read_to_string(f).unwrap().replace("\\\n", " "));
        text.push('\n');
    }
    collapse(
        &text
            .replace(" --locked", "")
            .replace('"', "")
            .replace("$CARGO_TARGET_DIR/", "target/")
            .replace("$cache/", ""),
    )
}

fn check_run_by_ci(at: &str, body: &[String]) {
    let ci = ci_text();
    for c in commands(body) {
        let c = c.strip_prefix("./").unwrap_or(&c).to_string();
        assert!(
            ci.contains(&c),
            "{at}: `{c}` is shown as run by CI but .ci/run and tools/*.sh do not run it"
        );
    }
}

fn pages_with_code() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for dir in ["docs", "models"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "md") {
                pages.push(p);
            } else if p.join("README.md").is_file() {
                pages.push(p.join("README.md"));
            }
        }
    }
    pages
}

#[test]
fn docs_pages_are_all_run() {
    for p in pages_with_code() {
        let rel = p.strip_prefix(root()).unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&p).unwrap();
        if text.contains("```") {
            assert!(PAGES.contains(&rel.as_str()), "{rel} has code blocks but is not in PAGES");
        }
    }
    for (page, command, why) in UNTESTED {
        let text = std::fs::read_to_string(root().join(page)).unwrap();
        let listed = blocks(&text)
            .iter()
            .filter(|b| b.info == "sh,untested")
            .any(|b| commands(&b.body).first() == Some(&command.to_string()));
        assert!(listed, "UNTESTED lists `{command}` in {page} ({why}), which no longer shows it");
    }
}

#[test]
fn docs_matching_rules() {
    assert_eq!(
        normalise("✓ latency-p99   critical  7.222 ms  100 ms"),
        "✓ latency-p# critical # ms # ms"
    );
    assert_eq!(normalise("diff 3.5e-5, -2 and 1e+3"), "diff #, # and #");
    assert!(line_matches("direction # on … seed #", "direction # on x#_# (cpu), seed #"));
    assert!(!line_matches("verdict: PASS …", "verdict: FAIL — # passed"));
    assert!(line_matches("a…b…c", "a-b-c"));
    assert!(!line_matches("ab…ba", "aba"));
    let s = steps(&[
        "$ preflight check \\".into(),
        "    --strict".into(),
        "out".into(),
        "$ cat > f <<'EOF'".into(),
        "x = 1".into(),
        "EOF".into(),
    ]);
    assert_eq!(s[0].command, "preflight check --strict");
    assert_eq!(s[0].shown, vec!["out"]);
    assert_eq!(s[1].command, "cat > f <<'EOF'\nx = 1\nEOF");
    assert_eq!(
        rewrite("cargo run -- check --target rpi4 /opt/x", Path::new("/w"), true),
        "preflight check --target host /w/opt/x"
    );
    assert_eq!(
        rewrite("preflight check --target rpi4", Path::new("/w"), false),
        "preflight check --target rpi4"
    );
    assert!(row_matches("✓ boot-budget minor # ms", "✗ boot-budget minor # ms"));
    assert!(!row_matches("✓ latency critical # ms", "✗ latency critical # ms"));
}

macro_rules! page_tests {
    ($($name:ident => $page:expr),* $(,)?) => {
        $(#[test] fn $name() { run_page($page) })*
    };
}

page_tests! {
    docs_readme => "README.md",
    docs_own_model => "docs/own-model.md",
    docs_firmware_rust => "docs/firmware-rust.md",
    docs_firmware_c => "docs/firmware-c.md",
    docs_factory => "docs/factory.md",
    docs_boards => "docs/boards.md",
    docs_updates => "docs/updates.md",
    docs_fleet => "docs/fleet.md",
    docs_envelope => "docs/envelope.md",
    docs_trust_and_limits => "docs/trust-and-limits.md",
    docs_cli => "docs/cli.md",
    docs_suite => "docs/suite.md",
    docs_bundle => "docs/bundle.md",
    docs_pipeline => "docs/pipeline.md",
    docs_perturbations => "docs/perturbations.md",
    docs_report => "docs/report.md",
    docs_model_blazeface => "models/blazeface/README.md",
    docs_model_ppocr_det => "models/ppocr-det/README.md",
    docs_model_ppocr_cls => "models/ppocr-cls/README.md",
    docs_model_ppocr_rec => "models/ppocr-rec/README.md",
    docs_model_ppocr => "models/ppocr/README.md",
    docs_model_doc_orientation => "models/doc-orientation/README.md",
    docs_model_doc_layout => "models/doc-layout/README.md",
    docs_model_yolov8n => "models/yolov8n/README.md",
}

/// docs/cli.md names every command `preflight --help` lists and every long option each one's
/// `--help` lists: a new flag cannot ship undocumented.
#[test]
fn docs_cli_reference_is_complete() {
    let help = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_preflight")).args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let page = std::fs::read_to_string(root().join("docs/cli.md")).unwrap();
    let top = help(&["--help"]);
    let listed = &top[top.find("Commands:").unwrap()..top.find("Options:").unwrap()];
    let commands: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 10, "{listed}");
    for command in commands {
        assert!(
            page.contains(&format!("`{command} ")) || page.contains(&format!(", `{command} ")),
            "docs/cli.md does not list `{command}`"
        );
        for line in help(&[command, "--help"]).lines() {
            let Some(at) = line.find("--") else { continue };
            if !line.trim_start().starts_with('-') {
                continue;
            }
            let option: String =
                line[at..].chars().take_while(|c| *c == '-' || c.is_ascii_alphanumeric()).collect();
            if ["--help", "--verbose", "--version"].contains(&option.as_str()) {
                continue;
            }
            assert!(
                page.contains(&format!("{option} ")) || page.contains(&format!("{option}]")),
                "docs/cli.md does not document `{command} {option}`"
            );
        }
    }
}

/// docs/suite.md's suite and its example of every other check kind load together, on the
/// default bundle, and every check they name is run (some cannot hold there: no `upright`
/// cases, fewer parity cases).
#[test]
fn docs_suite_format_loads_and_runs_every_check() {
    let text = std::fs::read_to_string(root().join("docs/suite.md")).unwrap();
    let toml: Vec<String> =
        blocks(&text).into_iter().filter(|b| b.info == "toml").map(|b| b.body.join("\n")).collect();
    assert_eq!(toml.len(), 2, "the suite and the other kinds");
    let b = crate::harness::ScratchBundle::new();
    // The export its `[[datasets]]` entry names: one real frame, its face, where it was taken.
    let export = b.path().join("export");
    std::fs::create_dir_all(export.join("images")).unwrap();
    let frame = b.path().join("cases/frames/feat-0-f1-su.jpg");
    std::fs::copy(&frame, export.join("images/feat-0-f1-su.jpg")).unwrap();
    let (w, h) = image::image_dimensions(&frame).unwrap();
    let coco = format!(
        r#"{{"images": [{{"id": 1, "file_name": "feat-0-f1-su.jpg", "width": {w}, "height": {h},
            "location": "north"}}],
          "annotations": [{{"id": 1, "image_id": 1, "category_id": 1, "bbox": [110, 150, 313, 312]}}],
          "categories": [{{"id": 1, "name": "face"}}]}}"#
    );
    std::fs::write(export.join("instances.json"), coco).unwrap();
    let suite = b.path().join("doc-suite.toml");
    std::fs::write(&suite, toml.join("\n")).unwrap();
    let o = crate::harness::preflight(&["check", b.arg(), "--suite", suite.to_str().unwrap()]);
    let out = crate::harness::stdout(&o);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{out}{}", crate::harness::stderr(&o));
    for name in toml.join("\n").lines().filter_map(|l| l.strip_prefix("name = \"")) {
        let name = name.split('"').next().unwrap();
        if name != "blazeface-boot" {
            assert!(out.contains(&format!(" {name} ")), "{name} was not run:\n{out}");
        }
    }
}
