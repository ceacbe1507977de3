#!/usr/bin/env python3
"""Lint and render a Helm chart with Helm's own Go library (the `helm-sdkpy` package), for machines
without a Helm binary. Used by `tests/helm.rs`; works on any chart.

    chart.py lint   CHART [-f VALUES.yaml]...   # like `helm lint --strict -f …`
    chart.py render CHART [-f VALUES.yaml]...   # like `helm template -f …`, printed as JSON

Install:  pip install --ignore-requires-python helm-sdkpy cffi pyyaml

How each maps onto Helm:

- `lint`: helm-sdkpy's `Lint` takes only a chart path, so the chart is copied to a temporary folder
  whose `values.yaml` is the chart's own values with the given files merged over them, the way Helm
  merges `-f` files (maps merged key by key, later files win, `null` removes a key). Helm then lints
  that chart: Chart.yaml, values against `values.schema.json`, every template rendered and parsed.
  Warnings fail, as with `--strict`. helm-sdkpy returns each message's severity and path but not its
  text, so on failure the chart is also rendered to print Helm's own error.
- `render`: helm-sdkpy has no `template` or dry-run call. Its `Install` renders the chart with Helm's
  engine (schema validation, templates, NOTES.txt) and sends every object to the Kubernetes API. Here
  that API is a fake one served in this process: it answers discovery and stores what Helm creates.
  The output is the rendered manifest text, the notes, and every object exactly as Helm sent it.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import shutil
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Helm's Go library reads the environment the process started with, so the script re-executes
# itself with: release records kept in memory (Helm's Secret driver would send them to the fake API
# as protobuf), and Helm's cache and configuration in a temporary folder, not the user's home.
if os.environ.get("HELM_DRIVER") != "memory" or not os.environ.get("CHART_PY_HELM_HOME"):
    _home = tempfile.mkdtemp(prefix="chart-helm-home-")
    _env = dict(os.environ, HELM_DRIVER="memory", CHART_PY_HELM_HOME=_home)
    for _variable in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        _env[_variable] = os.path.join(_home, _variable.lower())
    os.execve(sys.executable, [sys.executable, *sys.argv], _env)
HELM_HOME = os.environ["CHART_PY_HELM_HOME"]

try:
    import helm_sdkpy
    import yaml
except ImportError as error:  # pragma: no cover - reported to the caller
    sys.exit(
        f"chart.py: {error}; install with `pip install --ignore-requires-python helm-sdkpy cffi pyyaml` "
        "(scripts/install-test-deps.sh does)"
    )

SEVERITY = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}

# Resource types the fake API server advertises: group/version -> [(plural, kind, namespaced)].
RESOURCES = {
    "v1": [
        ("configmaps", "ConfigMap", True),
        ("secrets", "Secret", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
        ("persistentvolumeclaims", "PersistentVolumeClaim", True),
        ("pods", "Pod", True),
        ("namespaces", "Namespace", False),
    ],
    "apps/v1": [("statefulsets", "StatefulSet", True), ("deployments", "Deployment", True)],
    "batch/v1": [("jobs", "Job", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "rbac.authorization.k8s.io/v1": [("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
    "networking.k8s.io/v1": [("networkpolicies", "NetworkPolicy", True)],
    "monitoring.coreos.com/v1": [("servicemonitors", "ServiceMonitor", True), ("podmonitors", "PodMonitor", True)],
    "keda.sh/v1alpha1": [
        ("scaledobjects", "ScaledObject", True),
        ("triggerauthentications", "TriggerAuthentication", True),
    ],
}
KUBE_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"}


def merge(base, override):
    """Helm's merge of a values file over earlier values."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_values(files):
    values = {}
    for path in files:
        with open(path, encoding="utf-8") as handle:
            values = merge(values, yaml.safe_load(handle) or {})
    return values


class FakeKubeApi(BaseHTTPRequestHandler):
    """Just enough of the Kubernetes API for `helm install`: discovery, and objects kept in memory."""

    objects: dict = {}
    created: list = []
    lock = threading.Lock()

    def log_message(self, *args):  # quiet
        pass

    def send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self, what):
        self.send(
            404,
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": f"{what} not found", "reason": "NotFound", "code": 404},
        )

    def route(self):
        """(group_version, namespace, plural, name) of a resource path, or None."""
        path = urllib.parse.urlparse(self.path).path.strip("/").split("/")
        if path[:2] == ["api", "v1"]:
            group_version, rest = "v1", path[2:]
        elif path[:1] == ["apis"] and len(path) >= 3:
            group_version, rest = f"{path[1]}/{path[2]}", path[3:]
        else:
            return None
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            return None
        return group_version, namespace, rest[0], rest[1] if len(rest) > 1 else None

    def kind_of(self, group_version, plural):
        for name, kind, _ in RESOURCES.get(group_version, []):
            if name == plural:
                return kind
        return None

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path.rstrip("/")
        if path == "/version":
            return self.send(200, KUBE_VERSION)
        if path == "/api":
            return self.send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            groups = []
            for group_version in RESOURCES:
                if "/" not in group_version:
                    continue
                group, version = group_version.split("/")
                entry = {"groupVersion": group_version, "version": version}
                groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
            return self.send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        for group_version, resources in RESOURCES.items():
            prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            if path == prefix:
                return self.send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
                                       "resources": [{"name": plural, "singularName": kind.lower(),
                                                      "namespaced": namespaced, "kind": kind,
                                                      "verbs": ["create", "delete", "get", "list", "patch",
                                                                "update", "watch"]}
                                                     for plural, kind, namespaced in resources]})
        route = self.route()
        if route is None:
            return self.not_found(path)
        group_version, namespace, plural, name = route
        with self.lock:
            if name is None:
                items = [obj for (gv, ns, pl, _), obj in self.objects.items()
                         if gv == group_version and pl == plural and (namespace is None or ns == namespace)]
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                for selector in query.get("labelSelector", []):
                    for term in selector.split(","):
                        if "=" in term:
                            key, value = term.split("=", 1)
                            items = [o for o in items if o.get("metadata", {}).get("labels", {}).get(key) == value]
                kind = self.kind_of(group_version, plural) or "Unknown"
                return self.send(200, {"kind": f"{kind}List", "apiVersion": group_version,
                                       "metadata": {"resourceVersion": "1"}, "items": items})
            obj = self.objects.get((group_version, namespace, plural, name))
        if obj is None:
            return self.not_found(f"{plural} {name}")
        return self.send(200, obj)

    def body(self):
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length) or b"{}"
        try:
            return json.loads(data)
        except ValueError:
            return {"kind": "Unparsed", "metadata": {"name": "unparsed"}, "contentType": self.headers.get("Content-Type")}

    def store(self, code, obj, route):
        group_version, namespace, plural, _ = route
        metadata = obj.setdefault("metadata", {})
        if namespace is not None:
            metadata["namespace"] = namespace
        metadata.setdefault("uid", f"uid-{len(self.objects) + 1}")
        metadata["resourceVersion"] = str(len(self.created) + 2)
        with self.lock:
            self.objects[(group_version, namespace, plural, metadata.get("name"))] = obj
        self.send(code, obj)

    def do_POST(self):
        route = self.route()
        if route is None:
            return self.not_found(self.path)
        obj = self.body()
        with self.lock:
            self.created.append(copy.deepcopy(obj))
        self.store(201, obj, route)

    def do_PUT(self):
        route = self.route()
        if route is None:
            return self.not_found(self.path)
        self.store(200, self.body(), route)

    def do_PATCH(self):
        route = self.route()
        with self.lock:
            obj = self.objects.get(route) if route else None
        if obj is None:
            return self.not_found(self.path)
        self.send(200, obj)

    def do_DELETE(self):
        self.send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}})


def kubeconfig(port):
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "fake", "user": {"token": "fake"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "default"}}],
    })


def render(chart, values, release, namespace):
    FakeKubeApi.objects, FakeKubeApi.created = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeKubeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=kubeconfig(server.server_port))
        result = asyncio.run(helm_sdkpy.Install(config).run(release, os.path.abspath(chart), values=values,
                                                             wait=False, timeout=60))
    finally:
        server.shutdown()
    return {
        "manifest": result.get("manifest", ""),
        "notes": (result.get("info") or {}).get("notes", ""),
        "objects": FakeKubeApi.created,
    }


def lint(chart, files):
    work = tempfile.mkdtemp(prefix="chart-lint-")
    try:
        copy_path = os.path.join(work, os.path.basename(os.path.abspath(chart)))
        shutil.copytree(chart, copy_path)
        values = load_values([os.path.join(chart, "values.yaml")] + files)
        with open(os.path.join(copy_path, "values.yaml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(values, handle, sort_keys=False)
        result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration(namespace="default")).run(copy_path))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    messages = result.get("Messages") or []
    for message in messages:
        print(f"[{SEVERITY.get(message.get('Severity'), message.get('Severity'))}] {message.get('Path')}")
    failed = [m for m in messages if m.get("Severity", 0) >= 2] or result.get("Errors")
    print(f"lint: {result.get('TotalChartsLinted', 0)} chart(s) linted, {len(messages)} message(s), "
          f"{len(failed or [])} warning(s) or error(s)")
    if failed:
        # helm-sdkpy drops the messages' text: render to show Helm's own error.
        try:
            render(chart, load_values(files), "lint", "default")
        except Exception as error:  # noqa: BLE001 - any Helm error is the diagnosis
            print(f"helm: {error}")
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["lint", "render"])
    parser.add_argument("chart")
    parser.add_argument("-f", "--values", action="append", default=[], help="values file (repeatable)")
    parser.add_argument("--release", default="tokenwatch")
    parser.add_argument("--namespace", default="default")
    args = parser.parse_args()
    try:
        if args.command == "lint":
            return lint(args.chart, args.values)
        return print_render(args)
    finally:
        shutil.rmtree(HELM_HOME, ignore_errors=True)


def print_render(args):
    try:
        output = render(args.chart, load_values(args.values), args.release, args.namespace)
    except Exception as error:  # noqa: BLE001 - Helm's message is what the caller needs
        print(f"render failed: {error}", file=sys.stderr)
        return 1
    json.dump(output, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
