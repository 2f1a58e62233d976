//! The layers import downward only: `module-cycles.py` (in the shared
//! tools beside the repository) finds no import cycle among src/'s layers
//! (its top-level modules), nor among its files (a mod.rs and its
//! children, siblings in a folder). It also runs before every commit
//! (.githooks/pre-commit).

use std::path::Path;

/// Runs the tool on src/ with `extra` arguments; panics on a cycle.
fn check_cycles(extra: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tool = root.join("../shared/tools/module-cycles.py");
    if !tool.exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{} is missing",
            tool.display()
        );
        crate::common::skipped(&format!("{} not found", tool.display()));
        return;
    }
    let out = std::process::Command::new("python3")
        .arg(&tool)
        .args(extra)
        .arg(root.join("src"))
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("cycles: 0"),
        "import cycles ({extra:?}):\n{text}"
    );
}

#[test]
fn no_import_cycles_between_layers() {
    check_cycles(&[]);
}

#[test]
fn no_import_cycles_between_files() {
    check_cycles(&["--files"]);
}
