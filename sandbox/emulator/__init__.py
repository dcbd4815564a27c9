"""HubSpot sandbox emulator (SPEC section 9): an in-memory, stateful stand-in for HubSpot's CRM
API that serves the daemon's requests in tests, the demo and benchmarks.

Modules: ``app`` (aiohttp app, gateway, ``Emulator``), ``routes`` (API paths), ``control``
(``/_emulator/``), ``writes`` and ``associations`` (batch semantics), ``store`` (records),
``catalog`` (properties, pipelines), ``checks`` and ``values`` (value rules), ``budget``,
``faults``, ``stats``, ``config``, ``state``, ``errors``, ``defaults``.
"""

from __future__ import annotations

from sandbox.emulator.app import Emulator, make_app
from sandbox.emulator.config import DEFAULT_TOKEN, EmulatorConfig, TokenGrant

__all__ = ["DEFAULT_TOKEN", "Emulator", "EmulatorConfig", "TokenGrant", "make_app"]
