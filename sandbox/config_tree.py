"""Config trees for tests, benchmarks and the chaos run: overrides merged into a loaded YAML tree.

Owns: the one deep merge of override dicts into a config tree (nested dicts merged key by key,
anything else replaced). Must not: validate (``consumer.config`` does) or be imported by
``consumer/``.
"""

from __future__ import annotations

import copy
from typing import Any


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``over`` merged in; ``base`` is left as it was."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
