#!/usr/bin/env python3
"""Checks the Helm chart in helm/portcullis without a cluster or a helm binary.

Run with the ops venv (helm-python-sdk, kubernetes-validate, PyYAML):

    $HOME/.cache/portcullis/venv/bin/python tests/ops/chart_check.py

1. helm lint (Helm's own engine, from helm-python-sdk) with each value set,
   strict, for each Kubernetes version below.
2. Renders each value set, and checks that the wrong ones are refused with
   the message that says what to change.
3. kubernetes-validate --strict on every rendered manifest (and the chart's
   forward-auth example), for each Kubernetes version below. Prometheus
   Operator kinds have no schema there and get structural checks here.
4. Asserts what matters on the rendered objects: securityContext
   everywhere, PDB when more than one replica can run, no secret in a
   ConfigMap, probes, shutdown, NetworkPolicy, alerts and dashboard on
   known metrics. Upgrades render against a stand-in API server on
   loopback, so Helm's lookup sees a live Secret: the signing key is kept.
5. When promtool is at hand (PATH or $PROMTOOL; Debian's prometheus
   package): the alert rules parse, and tests/ops/chart_rules_test.yaml
   shows each fires on the series it is for and stays quiet otherwise.
6. The paths the chart sends traffic to, and the environment variables it
   sets, exist in the app's source.

Prints what it checked; exits 1 with every failure listed.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

try:
    import helm_python as helm
except ImportError:  # pragma: no cover - the message is the point
    sys.exit(
        "chart_check: helm_python is missing; run with the ops venv: "
        "$HOME/.cache/portcullis/venv/bin/python tests/ops/chart_check.py"
    )

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "portcullis"
SRC = ROOT / "src"
RELEASE = "portcullis"
NAMESPACE = "auth"
# The oldest version the chart supports (Chart.yaml kubeVersion; the
# preStop sleep action) and the newest kubernetes-validate bundles.
KUBE_VERSIONS = ["1.30.0", "1.37.0"]

# Metric names the app exports (notes/ops-plan.md), with histogram series.
HISTOGRAMS = {
    "portcullis_http_request_duration_seconds",
    "portcullis_hash_wait_seconds",
}
METRICS = {
    "portcullis_http_requests_total",
    "portcullis_sign_ins_total",
    "portcullis_sign_ups_total",
    "portcullis_refreshes_total",
    "portcullis_forward_auth_decisions_total",
    "portcullis_throttle_blocks_total",
    "portcullis_hash_queue_depth",
    "portcullis_hash_slots",
    "portcullis_hash_rejections_total",
    "portcullis_db_pool_connections",
    "portcullis_db_pool_max_connections",
    "portcullis_live_sessions",
    "portcullis_job_runs_total",
    "portcullis_ready",
    "portcullis_build_info",
    # Not exported yet (the upstream identity provider comes later).
    "portcullis_upstream_requests_total",
} | {h + s for h in HISTOGRAMS for s in ("_bucket", "_sum", "_count")}

# Alerts the issue asks for: a name fragment each.
REQUIRED_ALERTS = {
    "sign-in failure rate": "SignInFailure",
    "refresh reuse spikes": "RefreshReuse",
    "hashing saturation": "HashingSaturated",
    "5xx rate": "5xx",
    "readiness failing": "NotReady",
    "upstream identity provider": "Upstream",
}

# Names that hold secrets (the chart's own pattern, templates/_helpers.tpl).
SECRET_NAME = re.compile(
    r"(^DATABASE_URL$|SECRET|PASSWORD|PASSWD|SIGNING_KEY|PRIVATE_KEY|CLIENT_KEY|CREDENTIAL|API_KEY)"
)
# A URL with a password in it.
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.I)

POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet"}
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}

failures: list[str] = []


def fail(what: str) -> None:
    failures.append(what)
    print(f"  FAIL {what}")


def ok(what: str) -> None:
    print(f"  ok   {what}")


def check(condition: bool, what: str) -> bool:
    (ok if condition else fail)(what)
    return condition


def load_values(name: str) -> dict:
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()) or {}


def merged(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


# Value sets that must render: name -> (values, what it covers).
MINIMAL = load_values("minimal")
GOOD_SETS: dict[str, tuple[dict, str]] = {
    "defaults": (MINIMAL, "chart defaults plus the two required settings (ci/minimal-values.yaml)"),
    "postgres-ha": (load_values("postgres-ha"), "PostgreSQL, HPA, Ingress, monitoring, check-login (ci/postgres-ha-values.yaml)"),
    "sqlite": (load_values("sqlite"), "SQLite single replica, the chart's own Secret (ci/sqlite-values.yaml)"),
    "postgres-chart-secret": (
        {
            "config": {"publicUrl": "https://auth.example.net", "jwtAlgorithm": "EdDSA"},
            "database": {"url": "postgres://portcullis:s3cret-pw@db.example.net:5432/portcullis"},
            "replicaCount": 2,
            "podDisruptionBudget": {"enabled": True},
        },
        "PostgreSQL URL in values, EdDSA key made by the chart, 2 replicas",
    ),
    "single-postgres": (
        merged(MINIMAL, {"replicaCount": 1, "networkPolicy": {"enabled": False}}),
        "PostgreSQL with 1 replica (no PDB), NetworkPolicy off",
    ),
}

# Value sets that must be refused: name -> (values, text the error must contain).
BAD_SETS: dict[str, tuple[dict, str]] = {
    "bare defaults (no database URL)": ({}, "PostgreSQL needs its URL"),
    "SQLite with replicaCount=2": (
        merged(load_values("sqlite"), {"replicaCount": 2}),
        "database.type=sqlite runs one replica",
    ),
    "SQLite with an HPA": (
        merged(load_values("sqlite"), {"autoscaling": {"enabled": True}}),
        "cannot autoscale",
    ),
    "no public URL": ({"secrets": {"existingSecret": "k"}}, "config.publicUrl is required"),
    "http public URL": (merged(MINIMAL, {"config": {"publicUrl": "http://auth.example.com"}}), "publicUrl"),
    "a secret in config.extraEnv": (
        merged(MINIMAL, {"config": {"extraEnv": {"PORTCULLIS_SMTP_PASSWORD": "hunter2"}}}),
        "looks like a secret",
    ),
    "database.url beside secrets.existingSecret": (
        merged(MINIMAL, {"database": {"url": "postgres://u:p@db/x"}}),
        "database.url goes into the chart's own Secret",
    ),
    "an unknown value (typo)": (merged(MINIMAL, {"replicas": 3}), "additional properties"),
    "check-login without its password Secret": (
        merged(MINIMAL, {"checkLogin": {"enabled": True, "email": "probe@example.com"}}),
        "checkLogin.passwordSecret.name",
    ),
}


# --------------------------------------------------------------------------
# Rendering


def render(chart: helm.Chart, values: dict) -> dict[str, str]:
    return chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)


def documents(rendered: dict[str, str]) -> list[dict]:
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                doc.setdefault("__source", path)
                docs.append(doc)
    return docs


def clean(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "__source"}


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def pod_specs(doc: dict) -> list[dict]:
    """Every pod spec inside a workload object."""
    spec = doc.get("spec", {})
    kind = doc.get("kind")
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return [spec["template"]["spec"]]


def containers(pod: dict) -> list[dict]:
    return pod.get("containers", []) + pod.get("initContainers", [])


def env_of(container: dict, config_maps: dict[str, dict]) -> dict[str, object]:
    """A container's environment: envFrom ConfigMaps, then env (which wins)."""
    env: dict[str, object] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref and ref["name"] in config_maps:
            env.update(config_maps[ref["name"]].get("data", {}))
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", var.get("valueFrom"))
    return env


def selector_matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


# --------------------------------------------------------------------------
# Assertions on one rendered value set


def check_set(name: str, values: dict, docs: list[dict], chart: helm.Chart) -> None:
    effective = chart.merge_values(values)
    sqlite = effective["database"]["type"] == "sqlite"
    config_maps = {d["metadata"]["name"]: d for d in by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d for d in by_kind(docs, "Secret")}
    workloads = [d for d in docs if d.get("kind") in POD_KINDS]
    servers = [d for d in workloads if d["metadata"]["labels"].get("app.kubernetes.io/component") == "server"]

    # Workload shape.
    if sqlite:
        check(
            [d["kind"] for d in servers] == ["StatefulSet"]
            and servers[0]["spec"]["replicas"] == 1
            and servers[0]["spec"].get("volumeClaimTemplates"),
            f"{name}: SQLite runs as a 1-replica StatefulSet with a volume claim",
        )
        check(not by_kind(docs, "HorizontalPodAutoscaler"), f"{name}: no HPA with SQLite")
    else:
        check([d["kind"] for d in servers] == ["Deployment"], f"{name}: PostgreSQL runs as a Deployment")
    server = servers[0] if servers else None

    # Replicas and the PDB.
    hpas = by_kind(docs, "HorizontalPodAutoscaler")
    if hpas:
        min_replicas = hpas[0]["spec"]["minReplicas"]
        check("replicas" not in server["spec"], f"{name}: the HPA owns the replica count (Deployment sets none)")
        check(
            hpas[0]["spec"]["scaleTargetRef"]["name"] == server["metadata"]["name"],
            f"{name}: the HPA scales the server",
        )
    else:
        min_replicas = server["spec"].get("replicas", 1)
    if values.get("replicaCount") is None and not hpas and not sqlite:
        check(min_replicas == 3, f"{name}: 3 replicas by default on PostgreSQL")
    pdbs = by_kind(docs, "PodDisruptionBudget")
    server_labels = server["spec"]["template"]["metadata"]["labels"]
    if min_replicas > 1:
        check(
            len(pdbs) == 1 and selector_matches(pdbs[0]["spec"]["selector"], server_labels),
            f"{name}: a PDB covers the server ({min_replicas} replicas at least)",
        )
    else:
        check(not pdbs, f"{name}: no PDB with a single replica")

    # Every pod: non-root, read-only root, drop ALL, seccomp, no token, /tmp.
    for workload in workloads:
        label = f"{name}: {workload['kind']} {workload['metadata']['name']}"
        for pod in pod_specs(workload):
            psc = pod.get("securityContext", {})
            problems = []
            if pod.get("automountServiceAccountToken") is not False:
                problems.append("automountServiceAccountToken is not false")
            if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append("pod seccompProfile is not RuntimeDefault")
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for c in containers(pod):
                sc = c.get("securityContext", {})
                who = f"container {c['name']}"
                if not (sc.get("runAsNonRoot") or (psc.get("runAsNonRoot") and "runAsNonRoot" not in sc)):
                    problems.append(f"{who} may run as root")
                if (sc.get("runAsUser", psc.get("runAsUser")) or 0) == 0:
                    problems.append(f"{who} has no non-zero runAsUser")
                if sc.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{who} root filesystem is writable")
                if sc.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{who} allows privilege escalation")
                if sc.get("privileged"):
                    problems.append(f"{who} is privileged")
                if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                    problems.append(f"{who} does not drop ALL capabilities")
                if sc.get("capabilities", {}).get("add"):
                    problems.append(f"{who} adds capabilities")
                if sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type") != "RuntimeDefault":
                    problems.append(f"{who} seccompProfile is not RuntimeDefault")
                tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
                if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
                    problems.append(f"{who} has no emptyDir on /tmp")
            if problems:
                fail(f"{label}: " + "; ".join(problems))
            else:
                ok(f"{label}: non-root, read-only root, drop ALL, seccomp RuntimeDefault, no token, /tmp emptyDir")
    for sa in by_kind(docs, "ServiceAccount"):
        check(
            sa.get("automountServiceAccountToken") is False,
            f"{name}: ServiceAccount {sa['metadata']['name']} mounts no token",
        )

    # The server's container: probes, ports, shutdown, spread.
    pod = server["spec"]["template"]["spec"]
    app = pod["containers"][0]
    env = env_of(app, config_maps)
    ports = {p["name"]: p["containerPort"] for p in app.get("ports", [])}
    listen = str(env.get("PORTCULLIS_LISTEN_ADDR", ""))
    metrics_addr = str(env.get("PORTCULLIS_METRICS_ADDR", ""))
    check(
        listen.endswith(f":{ports.get('http')}") and metrics_addr.endswith(f":{ports.get('metrics')}")
        and ports.get("http") != ports.get("metrics"),
        f"{name}: the http ({listen}) and metrics ({metrics_addr}) listeners match the container ports",
    )

    def probe(kind: str) -> tuple:
        get = app.get(kind, {}).get("httpGet", {})
        return get.get("path"), get.get("port")

    check(
        probe("startupProbe") == ("/ready", "http")
        and probe("readinessProbe") == ("/ready", "http")
        and probe("livenessProbe") == ("/health", "http"),
        f"{name}: startup and readiness GET /ready, liveness GET /health, on the http port",
    )
    sleep = app.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(
        sleep is not None and 0 < sleep <= 15 and grace >= sleep + 30,
        f"{name}: short preStop sleep ({sleep} s) and room to drain 30 s after it (grace {grace} s)",
    )
    check(bool(app.get("resources", {}).get("requests")) and bool(app.get("resources", {}).get("limits")), f"{name}: resources set")
    spread = pod.get("topologySpreadConstraints", [])
    check(
        {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        and all(selector_matches(c["labelSelector"], server_labels) for c in spread),
        f"{name}: replicas spread over zones and nodes",
    )
    check(pod.get("enableServiceLinks") is False, f"{name}: no service-link variables in the server's environment")

    # Configuration: plain settings in the ConfigMap, secrets only in Secrets.
    check(env.get("PORTCULLIS_ENV") == "production", f"{name}: PORTCULLIS_ENV=production")
    check(str(env.get("PORTCULLIS_PUBLIC_URL", "")).startswith("https://"), f"{name}: https public URL")
    expected_proxies = ",".join(effective["config"]["trustedProxies"] or [effective["cluster"]["podCIDR"]])
    check(
        env.get("PORTCULLIS_TRUSTED_PROXIES") == expected_proxies,
        f"{name}: PORTCULLIS_TRUSTED_PROXIES={expected_proxies}"
        + ("" if effective["config"]["trustedProxies"] else " (the pod range, by default)"),
    )
    secret_values = set()
    for s in secrets.values():
        for v in (s.get("data") or {}).values():
            secret_values.add(base64.b64decode(v).decode())
        secret_values.update((s.get("stringData") or {}).values())
    if effective["database"].get("url"):
        secret_values.add(effective["database"]["url"])
    leaks = []
    for cm in config_maps.values():
        for key, value in (cm.get("data") or {}).items():
            if SECRET_NAME.search(key.upper()):
                leaks.append(f"{cm['metadata']['name']}.{key} (a secret's name)")
            if URL_WITH_PASSWORD.search(str(value)):
                leaks.append(f"{cm['metadata']['name']}.{key} (a URL with a password)")
            if any(len(s) >= 8 and s in str(value) for s in secret_values):
                leaks.append(f"{cm['metadata']['name']}.{key} (a Secret's value)")
    check(not leaks, f"{name}: no secret in any ConfigMap ({len(config_maps)} checked)" + (f": {leaks}" if leaks else ""))
    for var in ("DATABASE_URL", "PORTCULLIS_JWT_SECRET", "PORTCULLIS_JWT_SIGNING_KEY", "PORTCULLIS_JWT_ACCEPTED_SECRETS"):
        if var not in env:
            continue
        value = env[var]
        fine = isinstance(value, dict) and "secretKeyRef" in value
        if var == "DATABASE_URL" and sqlite:
            fine = isinstance(value, str) and value.startswith("sqlite:///")
        check(fine, f"{name}: {var} comes from a Secret" + (" (SQLite: the file's path)" if sqlite and var == "DATABASE_URL" else ""))
    signing = "PORTCULLIS_JWT_SIGNING_KEY" if effective["config"]["jwtAlgorithm"] == "EdDSA" else "PORTCULLIS_JWT_SECRET"
    other = "PORTCULLIS_JWT_SECRET" if signing == "PORTCULLIS_JWT_SIGNING_KEY" else "PORTCULLIS_JWT_SIGNING_KEY"
    check(signing in env and other not in env, f"{name}: {signing} set, {other} not (the server refuses both)")
    if not sqlite:
        check("DATABASE_URL" in env, f"{name}: DATABASE_URL set")

    # The chart's own Secret.
    own = secrets.get(server["metadata"]["name"])
    if effective["secrets"]["existingSecret"]:
        check(own is None, f"{name}: secrets.existingSecret set, so the chart makes no Secret")
    else:
        check(own is not None, f"{name}: the chart makes its Secret")
        if own:
            check(
                own["metadata"].get("annotations", {}).get("helm.sh/resource-policy") == "keep",
                f"{name}: its Secret is kept by uninstall and upgrade (helm.sh/resource-policy: keep)",
            )
            key = base64.b64decode(own["data"][signing]).decode()
            if signing == "PORTCULLIS_JWT_SECRET":
                good = len(key) == 64 and key.isalnum()
            else:
                raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
                good = len(raw) == 32 and "=" not in key and "+" not in key and "/" not in key
            check(good, f"{name}: its {signing} is well formed ({'64 random characters' if signing.endswith('SECRET') else '32 bytes, base64url'})")

    # Services, metrics, monitoring.
    services = {d["metadata"]["name"]: d for d in by_kind(docs, "Service")}
    public = [s for s in services.values() if any(p["name"] == "http" for p in s["spec"]["ports"])]
    metrics = [s for s in services.values() if any(p["name"] == "metrics" for p in s["spec"]["ports"])]
    check(
        len(public) == 1 and len(metrics) == 1 and public[0] is not metrics[0]
        and all(p["name"] != "metrics" for p in public[0]["spec"]["ports"]),
        f"{name}: metrics on a Service of their own, never on the public one",
    )
    for ingress in by_kind(docs, "Ingress"):
        backends = {
            (p["backend"]["service"]["name"], p["backend"]["service"]["port"].get("name"))
            for r in ingress["spec"]["rules"] for p in r["http"]["paths"]
        }
        check(
            backends == {(public[0]["metadata"]["name"], "http")},
            f"{name}: Ingress {ingress['metadata']['name']} routes only to the public Service's http port",
        )
    ingresses = by_kind(docs, "Ingress")
    if effective["ingress"]["enabled"]:
        paths = {p["path"] for i in ingresses for r in i["spec"]["rules"] for p in r["http"]["paths"]}
        check(paths == {"/", "/api/authz"} and len(ingresses) == 2, f"{name}: an Ingress refuses /api/authz on the public host")
        main = [i for i in ingresses if any(p["path"] == "/" for r in i["spec"]["rules"] for p in r["http"]["paths"])][0]
        check(bool(main["spec"].get("tls")), f"{name}: the Ingress serves TLS")
        blocker = [i for i in ingresses if i is not main][0]
        check(
            "cert-manager.io/cluster-issuer" not in blocker["metadata"].get("annotations", {}),
            f"{name}: only one Ingress asks cert-manager for the certificate",
        )

    check_network_policy(name, effective, docs, server_labels, sqlite)
    check_monitoring(name, effective, docs, metrics[0] if metrics else None)
    check_cronjob(name, effective, docs)


def check_network_policy(name: str, effective: dict, docs: list[dict], server_labels: dict, sqlite: bool) -> None:
    policies = by_kind(docs, "NetworkPolicy")
    if not effective["networkPolicy"]["enabled"]:
        check(not policies, f"{name}: NetworkPolicy off when disabled")
        return
    if not check(len(policies) == 1, f"{name}: a NetworkPolicy"):
        return
    spec = policies[0]["spec"]
    check(
        selector_matches(spec["podSelector"], server_labels) and set(spec["policyTypes"]) == {"Ingress", "Egress"},
        f"{name}: the NetworkPolicy governs the server's traffic both ways",
    )
    in_ports = {p["port"] for rule in spec.get("ingress", []) for p in rule.get("ports", [])}
    open_rules = [r for r in spec.get("ingress", []) if not r.get("from") or not r.get("ports")]
    check(
        in_ports == {"http", "metrics"} and not open_rules,
        f"{name}: ingress only to http and metrics, each from named peers",
    )
    egress_ports = {p["port"] for rule in spec.get("egress", []) for p in rule.get("ports", [])}
    wanted = {53, 587, 443} | (set() if sqlite else {effective["networkPolicy"]["egress"]["postgres"]["port"]})
    check(
        egress_ports >= wanted and all(r.get("ports") for r in spec.get("egress", [])),
        f"{name}: egress to DNS, {'' if sqlite else 'PostgreSQL, '}SMTP and the identity provider, by port ({sorted(egress_ports)})",
    )


def metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bportcullis_[a-z0-9_]+", text))


def check_monitoring(name: str, effective: dict, docs: list[dict], metrics_service: dict | None) -> None:
    monitors = by_kind(docs, "ServiceMonitor")
    rules = by_kind(docs, "PrometheusRule")
    check(bool(monitors) == effective["serviceMonitor"]["enabled"], f"{name}: ServiceMonitor only when enabled")
    check(bool(rules) == effective["prometheusRule"]["enabled"], f"{name}: PrometheusRule only when enabled")
    for sm in monitors:
        spec = sm["spec"]
        structure = (
            sm["apiVersion"] == "monitoring.coreos.com/v1"
            and metrics_service is not None
            and selector_matches(spec["selector"], metrics_service["metadata"]["labels"])
            and spec["namespaceSelector"]["matchNames"] == [NAMESPACE]
            and [e["port"] for e in spec["endpoints"]] == ["metrics"]
            and all(e["path"] == "/metrics" for e in spec["endpoints"])
        )
        check(structure, f"{name}: ServiceMonitor scrapes /metrics on the metrics Service's 'metrics' port")
    for pr in rules:
        groups = pr["spec"]["groups"]
        alerts = [r for g in groups for r in g["rules"] if "alert" in r]
        shape = pr["apiVersion"] == "monitoring.coreos.com/v1" and all(
            isinstance(r.get("expr"), str) and r["labels"].get("severity") in {"warning", "critical"}
            and r.get("annotations", {}).get("summary") and r.get("annotations", {}).get("description")
            for r in alerts
        )
        check(shape, f"{name}: PrometheusRule: {len(alerts)} alerts, each with expr, severity, summary, description")
        names = " ".join(r["alert"] for r in alerts)
        missing = [what for what, fragment in REQUIRED_ALERTS.items() if fragment not in names]
        check(not missing, f"{name}: alerts cover {', '.join(REQUIRED_ALERTS)}" + (f"; missing {missing}" if missing else ""))
        used = metric_names(" ".join(r["expr"] for r in alerts))
        check(used <= METRICS, f"{name}: alert expressions use known metric names only" + (f"; unknown {sorted(used - METRICS)}" if used - METRICS else ""))
        unbalanced = [r["alert"] for r in alerts if r["expr"].count("(") != r["expr"].count(")") or r["expr"].count("{") != r["expr"].count("}")]
        check(not unbalanced, f"{name}: alert expressions have balanced brackets" + (f"; not {unbalanced}" if unbalanced else ""))
        templated = [r["alert"] for r in alerts if "{{" in json.dumps(r["annotations"]) and "$labels" not in json.dumps(r["annotations"]) and "$value" not in json.dumps(r["annotations"])]
        check(not templated, f"{name}: alert annotations keep only Prometheus's own templates")


def check_cronjob(name: str, effective: dict, docs: list[dict]) -> None:
    jobs = by_kind(docs, "CronJob")
    if not effective["checkLogin"]["enabled"]:
        check(not jobs, f"{name}: no check-login CronJob unless enabled")
        return
    if not check(len(jobs) == 1, f"{name}: a check-login CronJob"):
        return
    pod = jobs[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    cmd = c.get("command", []) + c.get("args", [])
    flags = {cmd[i]: cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i].startswith("--")}
    password_file = flags.get("--password-file", "")
    mounts = [m for m in c.get("volumeMounts", []) if password_file.startswith(m["mountPath"].rstrip("/") + "/")]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    from_secret = bool(mounts) and volumes.get(mounts[0]["name"], {}).get("secret", {}).get("secretName") == effective["checkLogin"]["passwordSecret"]["name"]
    check(
        "check-login" in cmd and flags.get("--url", "").startswith("https://") and flags.get("--email") == effective["checkLogin"]["email"],
        f"{name}: CronJob runs `portcullis check-login --url {flags.get('--url')} --email {flags.get('--email')} --password-file …`",
    )
    check(from_secret and not any("PASSWORD" in e["name"].upper() for e in c.get("env", [])),
          f"{name}: the probe's password is a file from a Secret, not an environment variable")
    check(jobs[0]["spec"].get("concurrencyPolicy") == "Forbid", f"{name}: probes never overlap")


# --------------------------------------------------------------------------
# Upgrades, against a stand-in API server: Helm's lookup sees live Secrets.


class FakeApiServer:
    """Answers the few Kubernetes API calls Helm's lookup makes (discovery
    of v1, GET of a Secret) from a dict, on a loopback port."""

    def __init__(self) -> None:
        self.secrets: dict[str, dict] = {}
        secrets = self.secrets

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                code, body = 200, None
                if path == "/api":
                    body = {"kind": "APIVersions", "versions": ["v1"]}
                elif path == "/apis":
                    body = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
                elif path == "/api/v1":
                    body = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                        {"name": "secrets", "singularName": "secret", "namespaced": True, "kind": "Secret", "verbs": ["get"]}]}
                else:
                    match = re.fullmatch(rf"/api/v1/namespaces/{NAMESPACE}/secrets/([^/]+)", path)
                    body = secrets.get(match.group(1)) if match else None
                if body is None:
                    code, body = 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def put_secret(self, name: str, data: dict[str, str]) -> None:
        self.secrets[name] = {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }

    def __enter__(self) -> "FakeApiServer":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def check_upgrades(chart: helm.Chart) -> None:
    def secret_data(cfg: helm.Config, values: dict) -> dict[str, str]:
        out = cfg.render(chart, values, name=RELEASE, namespace=NAMESPACE, is_upgrade=True)
        secret = yaml.safe_load(out[f"{RELEASE}/templates/secret.yaml"])
        return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    live_key = "Qm7vT2xLp9Rz4Kc8Nw1Hy6Fd3Sb5Jg0AeUoXiZtCqVrWsYnMkPlOhGjEfDuBaIc"
    pg = GOOD_SETS["postgres-chart-secret"][0]
    with FakeApiServer() as api, helm.Config(kube_apiserver=api.url, namespace=NAMESPACE) as cfg:
        # HS256, SQLite: the live key and a key added by hand survive an upgrade.
        api.put_secret(RELEASE, {"PORTCULLIS_JWT_SECRET": live_key, "PORTCULLIS_JWT_ACCEPTED_SECRETS": "an-older-secret"})
        data = secret_data(cfg, GOOD_SETS["sqlite"][0])
        check(
            data == {"PORTCULLIS_JWT_SECRET": live_key, "PORTCULLIS_JWT_ACCEPTED_SECRETS": "an-older-secret"},
            "upgrade: the chart's Secret keeps its live signing key and the keys added by hand",
        )
        # EdDSA from values with a live Secret: the live EdDSA key stays, the URL follows the values.
        api.put_secret(RELEASE, {"PORTCULLIS_JWT_SIGNING_KEY": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
                                 "DATABASE_URL": "postgres://old@db/old"})
        data = secret_data(cfg, pg)
        check(
            data.get("PORTCULLIS_JWT_SIGNING_KEY") == "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
            and data.get("DATABASE_URL") == pg["database"]["url"],
            "upgrade: the live EdDSA key stays; DATABASE_URL follows database.url",
        )
        # secrets.existingSecret that lacks a key is refused at install time.
        api.put_secret("portcullis-keys", {"DATABASE_URL": "postgres://u:p@db/x"})
        try:
            cfg.render(chart, MINIMAL, name=RELEASE, namespace=NAMESPACE, is_install=True)
            fail("install: secrets.existingSecret without PORTCULLIS_JWT_SECRET rendered, but must be refused")
        except helm.HelmError as e:
            check("has no PORTCULLIS_JWT_SECRET key" in str(e), f"install: secrets.existingSecret without its signing key is refused ({str(e).splitlines()[-1].strip()[-70:]})")
        api.put_secret("portcullis-keys", {"DATABASE_URL": "postgres://u:p@db/x", "PORTCULLIS_JWT_SECRET": live_key})
        try:
            cfg.render(chart, MINIMAL, name=RELEASE, namespace=NAMESPACE, is_install=True)
            ok("install: secrets.existingSecret with its keys renders")
        except helm.HelmError as e:
            fail(f"install: secrets.existingSecret with its keys is refused: {e}")


# --------------------------------------------------------------------------
# kubernetes-validate


def kube_validate(files: list[Path]) -> None:
    binary = Path(sys.executable).with_name("kubernetes-validate")
    cmd = [str(binary), "--strict", "--quiet"]
    for version in KUBE_VERSIONS:
        cmd += ["-k", version]
    started = time.monotonic()
    result = subprocess.run(cmd + [str(f) for f in files], capture_output=True, text=True)
    lines = [l for l in (result.stdout + result.stderr).splitlines() if l.strip()]
    errors = [l for l in lines if not l.startswith("WARN")]
    # Only the Prometheus Operator's kinds may lack a schema (checked above instead).
    warns = [l for l in lines if l.startswith("WARN") and not re.search(r"kind (ServiceMonitor|PrometheusRule) ", l)]
    for line in errors + warns:
        fail(f"kubernetes-validate: {line}")
    objects = sum(len([d for d in yaml.safe_load_all(f.read_text()) if d]) for f in files)
    check(
        result.returncode == 0 and not errors and not warns,
        f"kubernetes-validate --strict: {objects} objects in {len(files)} files valid for Kubernetes "
        f"{' and '.join(KUBE_VERSIONS)} ({time.monotonic() - started:.1f} s; Prometheus Operator kinds checked structurally)",
    )


# --------------------------------------------------------------------------
# promtool: the alert rules parse, and fire when they should. `make test`
# names it in $PROMTOOL (scripts/setup.sh unpacks it), so there it must run;
# run by hand without it, the check says it skipped.


def promtool_rules(rule_doc: dict, tmp: Path) -> None:
    named = os.environ.get("PROMTOOL")
    promtool = named or shutil.which("promtool")
    if named and not os.access(named, os.X_OK):
        check(False, f"promtool: PROMTOOL={named} is not an executable file")
        return
    if not promtool:
        print("  skip promtool check/test rules: promtool not on PATH (Debian package prometheus; or set PROMTOOL)")
        return
    rules = tmp / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule_doc["spec"]["groups"]}, sort_keys=False))
    shutil.copy(Path(__file__).with_name("chart_rules_test.yaml"), tmp / "rules_test.yaml")
    for what, args in (("check rules", [str(rules)]), ("test rules", [str(tmp / "rules_test.yaml")])):
        result = subprocess.run([promtool, *what.split(), *args], capture_output=True, text=True, cwd=tmp)
        output = (result.stdout + result.stderr).strip()
        check(result.returncode == 0, f"promtool {what}: " + (output.splitlines()[-1].strip() if result.returncode == 0 else output))


# --------------------------------------------------------------------------
# The app: routes the chart probes and scrapes, variables it sets.


def rust_sources() -> str:
    return "\n".join(p.read_text() for p in sorted(SRC.rglob("*.rs")))


def check_app(source: str, env_names: set[str], example: dict) -> None:
    routes = set(re.findall(r'\.route\(\s*"([^"]+)"', source))
    for path, why in (("/ready", "startup and readiness probes"), ("/health", "liveness probe"),
                      ("/metrics", "ServiceMonitor"), ("/api/authz/auth-request", "forward-auth example and NOTES")):
        if path in routes:
            ok(f"app: route {path} exists ({why})")
        elif f'"{path}"' in source:
            ok(f"app: path {path} is named in the source ({why}; not as a literal .route(), e.g. a constant)")
        else:
            fail(f"app: route {path} exists ({why}): not found under src/, neither .route(\"{path}\", …) nor the string \"{path}\"")
    check("/login" in source, "app: /login exists (auth-signin)")
    missing = sorted(n for n in env_names if f'"{n}"' not in source)
    check(not missing, f"app: the {len(env_names)} environment variables the chart sets are read by the app" + (f"; not found under src/: {missing}" if missing else ""))

    # The example's headers are the ones forward-auth answers with.
    gateway = (ROOT / "docs" / "gateway" / "README.md").read_text()
    annotations = example["metadata"]["annotations"]
    headers = annotations["nginx.ingress.kubernetes.io/auth-response-headers"].split(",")
    check(all(f"`{h}`" in gateway for h in headers), f"example: auth-response-headers are the ones docs/gateway/README.md documents ({len(headers)})")
    check(
        annotations["nginx.ingress.kubernetes.io/auth-url"].split("?")[0].endswith(":3000/api/authz/auth-request")
        and annotations["nginx.ingress.kubernetes.io/auth-signin"].endswith("/login"),
        "example: auth-url is the Service's /api/authz/auth-request on port 3000, auth-signin is /login",
    )


# --------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    helm.disable_logging()
    print(f"Chart {CHART.relative_to(ROOT)} with Helm {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__})")
    chart = helm.Chart.load(CHART)

    print("\nhelm lint --strict")
    for set_name, (values, _) in GOOD_SETS.items():
        for version in KUBE_VERSIONS:
            report = helm.lint(CHART, values, strict=True, kube_version=f"v{version}")
            problems = [m for m in report["messages"] if m["severity"] >= 2] + [{"error": e} for e in report["errors"]]
            infos = sorted({m["error"] for m in report["messages"] if m["severity"] < 2})
            check(not problems, f"lint {set_name} on {version}" + (f": {problems}" if problems else "") + (f" (info: {'; '.join(infos)})" if infos else ""))

    print("\nRefused value sets")
    for what, (values, message) in BAD_SETS.items():
        try:
            render(chart, values)
            fail(f"{what}: rendered, but must be refused")
        except helm.HelmError as e:
            text = str(e)
            check(message in text, f"{what}: refused" + (f" ({text.splitlines()[-1].strip()[:150]})" if message in text else f", but the message lacks '{message}': {text[:300]}"))

    print("\nRendered value sets")
    env_names: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="portcullis-chart-") as tmp:
        files = []
        for set_name, (values, what) in GOOD_SETS.items():
            print(f"- {set_name}: {what}")
            try:
                docs = documents(render(chart, values))
            except helm.HelmError as e:
                fail(f"{set_name}: does not render: {e}")
                continue
            kinds = sorted({d["kind"] for d in docs})
            ok(f"{set_name}: {len(docs)} objects: {', '.join(kinds)}")
            check_set(set_name, values, docs, chart)
            path = Path(tmp) / f"{set_name}.yaml"
            path.write_text(yaml.safe_dump_all([clean(d) for d in docs], sort_keys=False))
            files.append(path)
            # Names the chart itself sets (not the value set's own extras).
            extras = set(values.get("config", {}).get("extraEnv", {})) | {e["name"] for e in values.get("extraEnvVars", [])}
            for cm in by_kind(docs, "ConfigMap"):
                if cm["metadata"]["name"] == RELEASE:
                    env_names |= set(cm["data"]) - extras
            for workload in docs:
                if workload.get("kind") in POD_KINDS:
                    for pod in pod_specs(workload):
                        for c in containers(pod):
                            env_names |= {e["name"] for e in c.get("env", [])} - extras

        # The Secret is random at each offline render, i.e. made, not fixed in the chart.
        sqlite_values = GOOD_SETS["sqlite"][0]
        keys = []
        for _ in range(2):
            secret = [d for d in documents(render(chart, sqlite_values)) if d.get("kind") == "Secret"][0]
            keys.append(secret["data"]["PORTCULLIS_JWT_SECRET"])
        check(keys[0] != keys[1], "the generated signing key is random (two offline renders differ)")

        print("\nUpgrades (Helm's lookup against a stand-in API server)")
        check_upgrades(chart)

        print("\nDashboard and example")
        dashboard = json.loads((CHART / "dashboards" / "portcullis.json").read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        used = metric_names(" ".join(exprs))
        check(len(exprs) > 10 and used <= METRICS, f"dashboard: {len(exprs)} queries on {len(used)} known metrics" + (f"; unknown {sorted(used - METRICS)}" if used - METRICS else ""))
        check(dashboard.get("uid") == "portcullis" and dashboard.get("title"), "dashboard: has a uid and a title")
        example_path = CHART / "examples" / "protected-app-ingress.yaml"
        example = yaml.safe_load(example_path.read_text())
        files.append(example_path)

        print("\nkubernetes-validate")
        kube_validate(files)

        print("\nAlert rules")
        ha = documents(render(chart, GOOD_SETS["postgres-ha"][0]))
        promtool_rules(by_kind(ha, "PrometheusRule")[0], Path(tmp))

    print("\nThe app (static)")
    check_app(rust_sources(), env_names, example)

    elapsed = time.monotonic() - started
    if failures:
        print(f"\nchart_check: {len(failures)} failure(s) in {elapsed:.1f} s:")
        for f in failures:
            print(f"  - {f}")
        return 1
    print(f"\nchart_check: all passed in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
