"""HTTP access to HubSpot's CRM API (SPEC section 5); the one place knowing aiohttp and statuses.

Owns: URLs for the configured API version, the Authorization header, pacing every request through
the limiter, metrics per request, and the total translation of HTTP outcomes into
``consumer.errors`` types. Batch calls return per-input results; reconciling a 207 or a 2xx that
omits an input happens here. Must not: retry (the pipeline's policy), split batches (``batching``),
or log the token or property values.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from consumer.errors import (
    HubSpotAuthError,
    HubSpotConflictError,
    HubSpotError,
    HubSpotRateLimitError,
    HubSpotTransientError,
    HubSpotValidationError,
)
from consumer.hubspot.ratelimit import RateLimiter
from consumer.metrics import Metrics

DEAL_TO_CONTACT = 3
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


@dataclass(frozen=True, slots=True)
class HubObject:
    id: str
    properties: dict[str, str | None] = field(default_factory=dict)


def _reason_of(code: str) -> str:
    return code.lower() if code else "validation_error"


def translate(status: int, body: Any, headers: dict[str, str] | None = None) -> HubSpotError:
    """Turn a non-2xx HubSpot response into the daemon's error type (total over status codes)."""
    headers = headers or {}
    data = body if isinstance(body, dict) else {}
    message = str(data.get("message") or f"HTTP {status}")[:500]
    correlation = data.get("correlationId")
    retry_after = _retry_after(
        next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    )
    if status in (401, 403):
        category = data.get("category", "")
        return HubSpotAuthError(
            f"HubSpot refused the token ({status} {category}): {message}",
            status=status,
            correlation_id=correlation,
        )
    if status == 429:
        policy = str(data.get("policyName") or "TEN_SECONDLY_ROLLING")
        return HubSpotRateLimitError(
            message, policy=policy, retry_after_s=retry_after, correlation_id=correlation
        )
    if status == 423:
        return HubSpotTransientError(
            message,
            status=423,
            retry_after_s=max(2.0, retry_after or 0),
            correlation_id=correlation,
        )
    if status == 477:
        return HubSpotTransientError(
            message, status=477, retry_after_s=retry_after, correlation_id=correlation
        )
    if status == 409:
        match = _EXISTING_ID.search(message)
        return HubSpotConflictError(
            message, existing_id=match.group(1) if match else None, correlation_id=correlation
        )
    if status in (400, 404, 405, 413, 414, 415, 422):
        code, props = _detail(data)
        return HubSpotValidationError(
            message, code=code, status=status, correlation_id=correlation, property_names=props
        )
    return HubSpotTransientError(
        message, status=status, retry_after_s=retry_after, correlation_id=correlation
    )


_MAX_RETRY_AFTER_S = 3600.0  # a longer announced wait is re-checked after an hour


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), _MAX_RETRY_AFTER_S)


def _detail(data: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    errors = data.get("errors") or []
    codes: list[str] = []
    props: list[str] = []
    for err in errors if isinstance(errors, list) else []:
        if isinstance(err, dict):
            if err.get("code"):
                codes.append(str(err["code"]))
            context = err.get("context")
            names = context.get("propertyName") if isinstance(context, dict) else None
            if isinstance(names, list):
                props.extend(str(n) for n in names)
            elif isinstance(names, str):
                props.append(names)
    code = codes[0] if codes else str(data.get("category") or "VALIDATION_ERROR")
    return code, tuple(props)


def item_error(err: dict[str, Any], status: int = 400) -> HubSpotError:
    """An error entry of a 207 batch response as a per-input error."""
    category = str(err.get("category") or "")
    if category == "CONFLICT":
        return translate(409, err)
    if category in ("RATE_LIMITS", "RATE_LIMIT"):
        return translate(429, err)
    if category in ("VALIDATION_ERROR", "OBJECT_NOT_FOUND", "INVALID_PARAMS", "") or status < 500:
        code, props = _detail(err)
        return HubSpotValidationError(
            str(err.get("message") or category)[:500],
            code=code if code != category or not category else category,
            status=status,
            property_names=props,
        )
    return translate(500, err)


class HubSpotClient:
    """One method per HubSpot call the daemon makes; all values travel as strings."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        *,
        limiter: RateLimiter,
        metrics: Metrics,
        api_version: str = "2026-03",
        request_timeout_s: float = 30.0,
        max_concurrent_requests: int = 8,
    ) -> None:
        self._session = session
        self._base = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._limiter = limiter
        self._metrics = metrics
        self._version = api_version
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._slots = asyncio.Semaphore(max_concurrent_requests)

    # -- paths ----------------------------------------------------------------------------
    def _objects(self, object_type: str) -> str:
        if self._version == "v3":
            return f"/crm/v3/objects/{object_type}"
        return f"/crm/objects/{self._version}/{object_type}"

    def _associations(self, from_type: str, to_type: str) -> str:
        if self._version == "v3":
            return f"/crm/v4/associations/{from_type}/{to_type}"
        return f"/crm/associations/{self._version}/{from_type}/{to_type}"

    def _schema(self, kind: str, object_type: str) -> str:
        if self._version == "v3":
            return f"/crm/v3/{kind}/{object_type}"
        return f"/crm/{kind}/{self._version}/{object_type}"

    # -- transport ------------------------------------------------------------------------
    def reserved(self) -> contextlib.AbstractAsyncContextManager[None]:
        """One request of the 10-second budget, waited for before the request is built."""
        return self._limiter.reserved()

    async def request(
        self,
        operation: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        ten_secondly: bool = True,
        is_retry: bool = False,
    ) -> tuple[int, Any]:
        """Send one request; return (status, parsed body) for 2xx, raise a typed error otherwise."""
        await self._limiter.acquire(ten_secondly=ten_secondly, is_retry=is_retry)
        data = None if body is None else orjson.dumps(body)
        started = time.monotonic()
        status_class = "error"
        try:
            async with (
                self._slots,
                self._session.request(
                    method, self._base + path, data=data, headers=self._auth, timeout=self._timeout
                ) as resp,
            ):
                raw = await resp.read()
                headers = {
                    k: v
                    for k, v in resp.headers.items()
                    if k.lower().startswith(("x-hubspot-ratelimit", "retry-after"))
                }
                self._limiter.observe(headers)
                status_class = f"{resp.status // 100}xx"
                try:
                    parsed: Any = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    parsed = None
                if resp.status >= 300:
                    error = translate(resp.status, parsed, headers)
                    if isinstance(error, HubSpotRateLimitError):
                        self._metrics.rate_limited.labels(policy=error.policy).inc()
                        self._limiter.on_rate_limited(error.policy, error.retry_after_s)
                    elif resp.status == 423:
                        self._limiter.on_locked(
                            error.retry_after_s
                            if isinstance(error, HubSpotTransientError) and error.retry_after_s
                            else 2.0
                        )
                    raise error
                return resp.status, parsed
        except TimeoutError:
            raise HubSpotTransientError(f"{operation}: timed out") from None
        except aiohttp.ClientError as exc:
            # the exception text may carry the URL but never the headers; keep it short
            raise HubSpotTransientError(f"{operation}: {type(exc).__name__}") from None
        finally:
            self._metrics.hubspot_requests.labels(
                operation=operation, status_class=status_class
            ).inc()
            self._metrics.hubspot_latency.labels(operation=operation).observe(
                time.monotonic() - started
            )

    # -- objects --------------------------------------------------------------------------
    async def batch_read(
        self,
        object_type: str,
        id_property: str | None,
        ids: Sequence[str],
        properties: Sequence[str],
    ) -> dict[str, HubObject]:
        """Read by id or by a unique property; the result maps each found input id to its object."""
        body: dict[str, Any] = {
            "inputs": [{"id": i} for i in ids],
            "properties": list(properties),
            "propertiesWithHistory": [],
        }
        if id_property:
            body["idProperty"] = id_property
        _, data = await self.request(
            f"{object_type}.read", "POST", self._objects(object_type) + "/batch/read", body
        )
        found: dict[str, HubObject] = {}
        wanted = {self._match_key(i, id_property): i for i in ids}
        for result in (data or {}).get("results", []):
            obj = HubObject(str(result["id"]), dict(result.get("properties") or {}))
            value = obj.id if not id_property else obj.properties.get(id_property)
            key = self._match_key(str(value), id_property) if value is not None else None
            if key in wanted:
                found[wanted[key]] = obj
        return found

    @staticmethod
    def _match_key(value: str, id_property: str | None) -> str:
        return value.strip().lower() if id_property == "email" else value

    async def batch_create(
        self, object_type: str, inputs: Sequence[dict[str, Any]], key_property: str
    ) -> list[HubObject | HubSpotError]:
        """Create records; results are matched to inputs by ``key_property`` (a unique property),
        failures by ``objectWriteTraceId``. A missing result is a failure for that input."""
        body = {"inputs": [dict(inp, objectWriteTraceId=str(n)) for n, inp in enumerate(inputs)]}
        status, data = await self.request(
            f"{object_type}.create", "POST", self._objects(object_type) + "/batch/create", body
        )
        by_key: dict[str, HubObject] = {}
        for result in (data or {}).get("results", []):
            obj = HubObject(str(result["id"]), dict(result.get("properties") or {}))
            key = obj.properties.get(key_property)
            if key is not None:
                by_key[self._match_key(key, key_property)] = obj
        errors = self._errors_by_trace(data, status)
        out: list[HubObject | HubSpotError] = []
        for n, inp in enumerate(inputs):
            key = str(inp["properties"].get(key_property, ""))
            found = by_key.get(self._match_key(key, key_property))
            out.append(
                found
                or errors.get(str(n))
                or HubSpotTransientError(f"{object_type}.create: HubSpot's answer omitted an input")
            )
        return out

    async def batch_update(
        self, object_type: str, inputs: Sequence[dict[str, Any]]
    ) -> list[HubObject | HubSpotError]:
        """Update records by id (``{"id", "properties"}``); results matched by id."""
        body = {"inputs": [dict(inp, objectWriteTraceId=str(n)) for n, inp in enumerate(inputs)]}
        status, data = await self.request(
            f"{object_type}.update", "POST", self._objects(object_type) + "/batch/update", body
        )
        by_id = {
            str(r["id"]): HubObject(str(r["id"]), dict(r.get("properties") or {}))
            for r in (data or {}).get("results", [])
        }
        errors = self._errors_by_trace(data, status)
        missing = {
            str(i)
            for e in (data or {}).get("errors", [])
            for i in ((e.get("context") or {}).get("ids") or [])
        }
        out: list[HubObject | HubSpotError] = []
        for n, inp in enumerate(inputs):
            rid = str(inp["id"])
            if rid in by_id:
                out.append(by_id[rid])
            elif str(n) in errors:
                out.append(errors[str(n)])
            elif rid in missing:
                out.append(
                    HubSpotValidationError(
                        f"{object_type} {rid} not found", code="OBJECT_NOT_FOUND", status=404
                    )
                )
            else:
                out.append(
                    HubSpotTransientError(
                        f"{object_type}.update: HubSpot's answer omitted an input"
                    )
                )
        return out

    @staticmethod
    def _errors_by_trace(data: Any, status: int) -> dict[str, HubSpotError]:
        out: dict[str, HubSpotError] = {}
        for err in (data or {}).get("errors", []) if isinstance(data, dict) else []:
            traces = (err.get("context") or {}).get("objectWriteTraceId") or []
            for trace in traces:
                out[str(trace)] = item_error(err, 400 if status == 207 else status)
        return out

    async def associate_deals_to_contacts(
        self, pairs: Sequence[tuple[str, str]]
    ) -> list[HubSpotError | None]:
        """Associate each (deal id, contact id) with type 3; None where it succeeded."""
        body = {
            "inputs": [
                {
                    "from": {"id": d},
                    "to": {"id": c},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": DEAL_TO_CONTACT,
                        }
                    ],
                }
                for d, c in pairs
            ]
        }
        status, data = await self.request(
            "associations.create",
            "POST",
            self._associations("deals", "contacts") + "/batch/create",
            body,
            ten_secondly=False,
        )
        failed: dict[str, HubSpotError] = {}
        for err in (data or {}).get("errors", []) if status == 207 else []:
            for i in (err.get("context") or {}).get("ids") or []:
                failed[str(i)] = item_error(err)
        return [failed.get(d) or failed.get(c) for d, c in pairs]

    # -- schema and token -----------------------------------------------------------------
    async def get_properties(self, object_type: str) -> list[dict[str, Any]]:
        _, data = await self.request(
            "properties.read", "GET", self._schema("properties", object_type)
        )
        return list((data or {}).get("results", []))

    async def create_property(self, object_type: str, definition: dict[str, Any]) -> None:
        await self.request(
            "properties.create", "POST", self._schema("properties", object_type), definition
        )

    async def create_property_group(self, object_type: str, group: dict[str, Any]) -> None:
        try:
            await self.request(
                "properties.create",
                "POST",
                self._schema("properties", object_type) + "/groups",
                group,
            )
        except HubSpotConflictError:
            return

    async def get_pipelines(self, object_type: str = "deals") -> list[dict[str, Any]]:
        _, data = await self.request(
            "pipelines.read", "GET", self._schema("pipelines", object_type)
        )
        return list((data or {}).get("results", []))

    async def token_info(self, token: str) -> dict[str, Any]:
        _, data = await self.request(
            "token.info",
            "POST",
            "/oauth/v2/private-apps/get/access-token-info",
            {"tokenKey": token},
            ten_secondly=False,
        )
        return dict(data or {})
