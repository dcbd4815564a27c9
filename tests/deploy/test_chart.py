"""The Helm chart, rendered by the real helm: what the Deployment promises the daemon.

helm comes from ``scripts/check-deploy.sh install helm`` (pinned, into .cache/tools/); the rest of
the deploy checks (kubeconform-style schemas, promtool, hadolint) live in that script.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "classter-hubspot"
FULL_VALUES = CHART / "ci" / "full-values.yaml"
HELM = ROOT / ".cache" / "tools" / "bin" / "helm"

Docs = list[dict[str, Any]]
Render = Callable[..., Docs]


class RenderError(Exception):
    """helm template failed; the message is helm's stderr."""


@pytest.fixture(scope="session")
def helm_home() -> Iterator[Path]:
    """helm's HOME for the session: a scratch directory, never the real one."""
    with tempfile.TemporaryDirectory(prefix="helm-home-") as home:
        yield Path(home)


@pytest.fixture(scope="session")
def render(helm_home: Path) -> Render:
    """``render(*values_files, set_=[...])``: the chart's objects, or ``RenderError``."""
    install = subprocess.run(
        [str(ROOT / "scripts" / "check-deploy.sh"), "install", "helm"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if install.returncode != 0:
        pytest.fail(f"scripts/check-deploy.sh install helm failed:\n{install.stderr}")
    env = {
        **os.environ,
        "HOME": str(helm_home),
        "XDG_CONFIG_HOME": str(helm_home / "config"),
        "XDG_CACHE_HOME": str(helm_home / "cache"),
        "XDG_DATA_HOME": str(helm_home / "data"),
    }

    def run(*values: Path, set_: tuple[str, ...] = ()) -> Docs:
        cmd = [str(HELM), "template", "sync", str(CHART), "--namespace", "classter"]
        for file in values:
            cmd += ["-f", str(file)]
        for assignment in set_:
            cmd += ["--set", assignment]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, timeout=60)
        if done.returncode != 0:
            raise RenderError(done.stderr)
        return [d for d in yaml.safe_load_all(done.stdout) if d]

    return run


def one(docs: Docs, kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(docs: Docs) -> dict[str, Any]:
    containers: list[dict[str, Any]] = one(docs, "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]
    assert len(containers) == 1
    return containers[0]


def env_of(docs: Docs) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(docs)["env"]}


def config_text(docs: Docs) -> str:
    cms = [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d["data"]]
    assert len(cms) == 1
    text: str = cms[0]["data"]["config.yaml"]
    return text


def daemon_settings(docs: Docs, tmp_path: Path) -> Settings:
    """The config as the daemon in the pod loads it: the ConfigMap file plus the pod's env."""
    path = tmp_path / "config.yaml"
    path.write_text(config_text(docs), encoding="utf-8")
    env = {
        name: "sync-classter-hubspot-5d9c7-abcde"
        if "fieldRef" in str(e.get("valueFrom"))
        else e.get("value", "from-a-secret")
        for name, e in env_of(docs).items()
        if name.startswith("CLASSTER_HUBSPOT__")
    }
    return load_settings(path, env=env)


@pytest.mark.parametrize("values", [(), (FULL_VALUES,)], ids=["default", "full"])
def test_pod_runs_non_root_read_only_without_capabilities(
    render: Render, values: tuple[Path, ...]
) -> None:
    docs = render(*values)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    sc = container(docs)["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsUser"] == 10001


def test_chart_user_is_the_images_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users == ["10001:10001"]


@pytest.mark.parametrize("values", [(), (FULL_VALUES,)], ids=["default", "full"])
def test_group_instance_id_is_the_pod_name(render: Render, values: tuple[Path, ...]) -> None:
    var = env_of(render(*values))["CLASSTER_HUBSPOT__KAFKA__GROUP_INSTANCE_ID"]
    assert var["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_static_membership_can_be_switched_off(render: Render) -> None:
    assert "CLASSTER_HUBSPOT__KAFKA__GROUP_INSTANCE_ID" not in env_of(
        render(set_=("staticMembership=false",))
    )


def test_a_shared_group_instance_id_is_refused(render: Render) -> None:
    with pytest.raises(RenderError, match="group_instance_id"):
        render(set_=("config.kafka.group_instance_id=shared",))


@pytest.mark.parametrize("values", [(), (FULL_VALUES,)], ids=["default", "full"])
def test_grace_period_outlasts_the_drain_deadline(
    render: Render, values: tuple[Path, ...], tmp_path: Path
) -> None:
    docs = render(*values)
    grace = one(docs, "Deployment")["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= daemon_settings(docs, tmp_path).kafka.drain_timeout_s + 5


@pytest.mark.parametrize(("grace", "drain"), [(20, None), (24, None), (30, 30)])
def test_grace_period_at_or_below_drain_plus_margin_fails(
    render: Render, grace: int, drain: int | None
) -> None:
    sets = [f"terminationGracePeriodSeconds={grace}"]
    if drain is not None:
        sets.append(f"config.kafka.drain_timeout_s={drain}")
    with pytest.raises(RenderError, match="terminationGracePeriodSeconds"):
        render(set_=tuple(sets))


def test_grace_period_just_above_drain_plus_margin_renders(render: Render) -> None:
    render(set_=("terminationGracePeriodSeconds=25",))


def test_values_schema_rejects_a_string_replica_count(render: Render, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('replicaCount: "two"\n', encoding="utf-8")
    with pytest.raises(RenderError, match="replicaCount"):
        render(bad)


@pytest.mark.parametrize("values", [(), (FULL_VALUES,)], ids=["default", "full"])
def test_rendered_config_is_valid_for_the_daemon(
    render: Render, values: tuple[Path, ...], tmp_path: Path
) -> None:
    settings = daemon_settings(render(*values), tmp_path)
    assert settings.kafka.group_instance_id == "sync-classter-hubspot-5d9c7-abcde"


@pytest.mark.parametrize("values", [(), (FULL_VALUES,)], ids=["default", "full"])
def test_probes_service_and_daemon_share_the_config_port(
    render: Render, values: tuple[Path, ...], tmp_path: Path
) -> None:
    docs = render(*values)
    port = daemon_settings(docs, tmp_path).http.port
    c = container(docs)
    assert c["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert one(docs, "Service")["spec"]["ports"][0]["port"] == port


def test_default_in_cluster_port_is_8080(render: Render, tmp_path: Path) -> None:
    assert daemon_settings(render(), tmp_path).http.port == 8080


def test_checksum_annotation_follows_the_config(render: Render) -> None:
    def checksum(docs: Docs) -> str:
        value: str = one(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"
        ]
        return value

    base = render()
    assert checksum(base) == hashlib.sha256(config_text(base).rstrip("\n").encode()).hexdigest()
    assert checksum(render()) == checksum(base)
    assert checksum(render(set_=("config.logging.level=DEBUG",))) != checksum(base)
    assert checksum(render(set_=("terminationGracePeriodSeconds=90",))) == checksum(base)
    # the replicas' budget share is part of the config: scaling rolls the pods to take it
    assert checksum(render(set_=("replicaCount=3",))) != checksum(base)


def test_token_comes_from_the_existing_secret_as_env(render: Render) -> None:
    docs = render()
    assert env_of(docs)["HUBSPOT_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "classter-hubspot", "key": "token"}
    }
    assert not [d for d in docs if d["kind"] == "Secret"]
    assert "KAFKA_SASL_PASSWORD" not in env_of(docs)


def test_token_as_a_mounted_file_is_where_the_daemon_reads_it(
    render: Render, tmp_path: Path
) -> None:
    docs = render(FULL_VALUES)
    assert "HUBSPOT_TOKEN" not in env_of(docs)
    token_file = daemon_settings(docs, tmp_path).hubspot.token_file
    assert token_file is not None
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    mounts = {m["name"]: m for m in container(docs)["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    mount = mounts["hubspot-token"]
    assert mount["readOnly"] is True
    assert token_file.parent == Path(mount["mountPath"])
    secret = volumes["hubspot-token"]["secret"]
    assert secret["secretName"] == "classter-hubspot-hubspot"
    assert secret["items"] == [{"key": "private-app-token", "path": token_file.name}]
    assert env_of(docs)["KAFKA_SASL_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "classter-hubspot-kafka", "key": "sasl-password"}
    }


def test_kafka_tls_files_are_mounted_where_the_config_points(
    render: Render, tmp_path: Path
) -> None:
    docs = render(FULL_VALUES)
    kafka = daemon_settings(docs, tmp_path).kafka
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    mount = {m["name"]: m for m in container(docs)["volumeMounts"]}["kafka-tls"]
    volume = {v["name"]: v for v in pod["volumes"]}["kafka-tls"]
    where = Path(mount["mountPath"])

    assert mount["readOnly"] is True
    assert (kafka.ssl_cafile, kafka.ssl_certfile, kafka.ssl_keyfile) == (
        where / "ca.crt",
        where / "tls.crt",
        where / "tls.key",
    )
    assert volume["secret"]["secretName"] == "classter-hubspot-kafka-tls"
    assert volume["secret"]["items"] == [
        {"key": name, "path": name} for name in ("ca.crt", "tls.crt", "tls.key")
    ]
    # the pod's other mounts must not shadow the directory the config points into
    assert [m["mountPath"] for m in container(docs)["volumeMounts"]].count(str(where)) == 1


def test_a_ca_only_tls_secret_mounts_the_ca_and_sets_only_ssl_cafile(
    render: Render, tmp_path: Path
) -> None:
    docs = render(
        set_=(
            "config.kafka.security_protocol=SSL",
            "kafka.tls.existingSecret=kafka-ca",
            "kafka.tls.caKey=bundle.pem",
        )
    )
    kafka = daemon_settings(docs, tmp_path).kafka
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volume = {v["name"]: v for v in pod["volumes"]}["kafka-tls"]

    assert kafka.ssl_cafile == Path("/var/run/secrets/classter-hubspot/kafka-tls/bundle.pem")
    assert (kafka.ssl_certfile, kafka.ssl_keyfile) == (None, None)
    assert volume["secret"]["items"] == [{"key": "bundle.pem", "path": "bundle.pem"}]


def test_an_ssl_path_set_in_config_wins_over_the_mounted_secret(
    render: Render, tmp_path: Path
) -> None:
    docs = render(FULL_VALUES, set_=("config.kafka.ssl_cafile=/etc/ssl/certs/ca.pem",))
    kafka = daemon_settings(docs, tmp_path).kafka

    assert kafka.ssl_cafile == Path("/etc/ssl/certs/ca.pem")
    assert kafka.ssl_certfile == Path("/var/run/secrets/classter-hubspot/kafka-tls/tls.crt")


def test_no_tls_secret_means_no_tls_volume_and_no_ssl_paths(render: Render, tmp_path: Path) -> None:
    docs = render()
    kafka = daemon_settings(docs, tmp_path).kafka
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]

    assert "kafka-tls" not in {v["name"] for v in pod["volumes"]}
    assert "ssl_" not in config_text(docs)
    assert (kafka.ssl_cafile, kafka.ssl_certfile, kafka.ssl_keyfile) == (None, None, None)


@pytest.mark.parametrize(
    ("sets", "named"),
    [
        (("kafka.tls.existingSecret=kafka-ca",), "security_protocol is PLAINTEXT"),
        (
            (
                "config.kafka.security_protocol=SSL",
                "kafka.tls.existingSecret=kafka-tls",
                "kafka.tls.keyKey=tls.key",
            ),
            "kafka.tls.keyKey needs kafka.tls.certKey",
        ),
        (
            (
                "config.kafka.security_protocol=SSL",
                "kafka.tls.existingSecret=kafka-tls",
                "kafka.tls.caKey=",
            ),
            "none of kafka.tls.caKey, kafka.tls.certKey",
        ),
        (("kafka.tls.caKey=certs/ca.pem",), "caKey"),
    ],
    ids=["plaintext", "key-without-cert", "no-keys", "key-with-slash"],
)
def test_a_kafka_tls_secret_the_daemon_could_not_use_fails_at_render_time(
    render: Render, sets: tuple[str, ...], named: str
) -> None:
    with pytest.raises(RenderError, match=named):
        render(set_=sets)


def test_config_is_mounted_where_the_image_command_reads_it(render: Render) -> None:
    docs = render()
    mounts = {m["name"]: m for m in container(docs)["volumeMounts"]}
    assert mounts["config"]["mountPath"] == "/etc/classter-hubspot"
    assert container(docs)["args"] == ["run", "--config", "/etc/classter-hubspot/config.yaml"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert 'CMD ["run", "--config", "/etc/classter-hubspot/config.yaml"]' in dockerfile
    assert 'ENTRYPOINT ["classter-hubspot"]' in dockerfile


def test_optional_objects_are_off_by_default_and_on_in_full_values(render: Render) -> None:
    kinds = {d["kind"] for d in render()}
    assert kinds == {"Deployment", "ConfigMap", "Service", "PodDisruptionBudget"}
    full = render(FULL_VALUES)
    assert {"ServiceMonitor", "PrometheusRule"} <= {d["kind"] for d in full}


def test_prometheus_rule_ships_the_alerts_file(render: Render) -> None:
    rule = one(render(FULL_VALUES), "PrometheusRule")
    alerts = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yaml").read_text("utf-8"))
    assert rule["spec"]["groups"] == alerts["groups"]


def test_dashboard_configmap_carries_the_sidecar_label_and_the_dashboard(render: Render) -> None:
    docs = render(FULL_VALUES)
    (cm,) = [
        d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")
    ]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(cm["data"]["classter-hubspot.json"])
    source = json.loads((ROOT / "deploy" / "grafana" / "dashboard.json").read_text("utf-8"))
    assert shipped == source


def test_values_schema_names_only_config_keys_the_daemon_knows() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text("utf-8"))
    config = schema["properties"]["config"]["properties"]
    assert set(config) <= set(Settings.model_fields)
    for section, sub in config.items():
        if "properties" in sub:
            model = Settings.model_fields[section].annotation
            assert isinstance(model, type)
            fields = set(getattr(model, "model_fields", {}))
            assert set(sub["properties"]) <= fields, section


def test_values_schema_config_is_generated_from_the_daemons_config_schema() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chart-schema.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ("config:\n  kafka:\n    bootstrap_server: kafka:9092\n", "bootstrap_server"),
        ("config:\n  logging:\n    level: LOUD\n", "level"),
        ("config:\n  actions:\n    CreateContact: {model_mapping: yes-please}\n", "model_mapping"),
    ],
    ids=["unknown-key", "bad-enum", "wrong-type"],
)
def test_a_config_the_daemon_would_reject_fails_at_render_time(
    render: Render, tmp_path: Path, values: str, named: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(values, encoding="utf-8")
    with pytest.raises(RenderError, match=named):
        render(bad)


@pytest.mark.parametrize(("replicas", "share"), [(1, 1.0), (2, 0.5), (4, 0.25), (0, 1.0)])
def test_unset_budget_share_splits_the_budget_between_the_replicas(
    render: Render, tmp_path: Path, replicas: int, share: float
) -> None:
    docs = render(set_=(f"replicaCount={replicas}",))
    assert daemon_settings(docs, tmp_path).hubspot.budget_share == pytest.approx(share)


def test_a_budget_share_set_in_config_wins(render: Render, tmp_path: Path) -> None:
    values = tmp_path / "share.yaml"
    values.write_text("replicaCount: 4\nconfig:\n  hubspot:\n    budget_share: 0.1\n")
    docs = render(values)
    assert daemon_settings(docs, tmp_path).hubspot.budget_share == pytest.approx(0.1)
