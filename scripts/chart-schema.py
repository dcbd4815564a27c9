"""Keep the chart's values.schema.json ``config`` in step with the daemon's config schema.

The chart's ``config`` value *is* the daemon's config file, so its schema is the daemon's own
(``consumer.config.json_schema()``, the one committed as schemas/config.json), inlined because
helm validates values.schema.json as one document, with the chart's own rules on top: keys the
chart sets per pod must stay unset, and a few values the chart relies on are narrowed. An unknown
or mistyped key anywhere under ``config`` then fails ``helm install`` instead of crash-looping
the pods.

    .venv/bin/python scripts/chart-schema.py          rewrite values.schema.json
    .venv/bin/python scripts/chart-schema.py --check  exit 1 when it is out of date

tests/deploy/test_chart.py runs ``--check``: after adding a config key, run this script.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from consumer.config import json_schema  # noqa: E402 - the repository root goes on the path first

VALUES_SCHEMA = ROOT / "deploy" / "helm" / "classter-hubspot" / "values.schema.json"

# Keys the chart itself sets (per pod, or from values outside `config`): null in `config`.
SET_BY_CHART = {
    ("kafka", "group_instance_id"): "Set per pod by staticMembership; a shared value would fence "
    "replicas out of the group.",
    ("kafka", "sasl_password_file"): "Set by kafka.saslPassword.mountAs=file.",
    ("hubspot", "token_file"): "Set by hubspot.token.mountAs=file.",
}
# Narrower than the daemon: the probes and the Service need a fixed port, and empty strings
# would render a config the daemon rejects at start.
NARROWED: dict[tuple[str, str], dict[str, Any]] = {
    ("kafka", "bootstrap_servers"): {"minLength": 1},
    ("kafka", "group_id"): {"minLength": 1},
    ("hubspot", "base_url"): {"pattern": "^https?://"},
    ("http", "port"): {"minimum": 1},
}
DESCRIPTION = (
    "The daemon's config file (consumer/config.py; `classter-hubspot schema config`), generated "
    "from the daemon's schema by scripts/chart-schema.py: unknown keys and wrong types fail here."
)


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with every ``$ref`` replaced by its definition and ``title`` dropped."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/$defs/")
        return _inline(defs[name], defs)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key == "properties":
            out[key] = {name: _inline(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _inline(value, defs)
    return out


def config_schema() -> dict[str, Any]:
    daemon = json_schema()
    defs = daemon.get("$defs", {})
    schema: dict[str, Any] = {
        "type": "object",
        "description": DESCRIPTION,
        "additionalProperties": False,
        "required": ["kafka", "http"],
        "properties": _inline(daemon["properties"], defs),
    }
    sections = schema["properties"]
    sections["http"]["required"] = ["port"]
    for (section, key), why in SET_BY_CHART.items():
        sections[section]["properties"][key] = {"type": "null", "description": why}
    for (section, key), extra in NARROWED.items():
        sections[section]["properties"][key].update(extra)
    return schema


def rendered() -> str:
    values = json.loads(VALUES_SCHEMA.read_text(encoding="utf-8"))
    values = copy.deepcopy(values)
    values["properties"]["config"] = config_schema()
    return json.dumps(values, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = rendered()
    if argv == ["--check"]:
        if VALUES_SCHEMA.read_text(encoding="utf-8") != text:
            sys.stderr.write(
                f"{VALUES_SCHEMA.relative_to(ROOT)} is out of date with consumer/config.py: "
                "run .venv/bin/python scripts/chart-schema.py\n"
            )
            return 1
        return 0
    if argv:
        sys.stderr.write("usage: scripts/chart-schema.py [--check]\n")
        return 2
    VALUES_SCHEMA.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
