"""HubSpot's error bodies, as the emulator answers them (reference sections 5, 6, 7 and 8).

Owns: ``ApiError`` (a whole request fails: status + body) and ``ItemError`` (one input of a batch
fails; it becomes a 207 ``errors[]`` entry or, when the batch is all-or-nothing, the answer to
the whole request), and the exact shapes of validation, conflict, not-found, scope,
authentication and rate-limit errors. Must not: decide when an error happens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

SCOPES_LINK = "https://developers.hubspot.com/scopes"


def correlation_id() -> str:
    return str(uuid.uuid4())


class ApiError(Exception):
    """The whole request fails with ``status`` and ``body``."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        super().__init__(str(body.get("message", status)))


def error_body(category: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
        **extra,
    }


def bad_request(message: str, category: str = "VALIDATION_ERROR") -> ApiError:
    return ApiError(400, error_body(category, message))


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, error_body("OBJECT_NOT_FOUND", message))


def invalid_authentication(message: str) -> ApiError:
    return ApiError(401, error_body("INVALID_AUTHENTICATION", message))


def missing_scopes(required: list[str]) -> ApiError:
    return ApiError(
        403,
        error_body(
            "MISSING_SCOPES",
            "This app hasn't been granted all required scopes to make this call. Read more about "
            f"required scopes here: {SCOPES_LINK}.",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": required},
                }
            ],
            links={"scopes": SCOPES_LINK},
        ),
    )


def rate_limited(policy: str, headers: dict[str, str]) -> ApiError:
    """HubSpot's 429 body: ``errorType`` and ``policyName``, no ``category``."""
    which = "daily" if policy == "DAILY" else "ten_secondly_rolling"
    body = {
        "status": "error",
        "message": f"You have reached your {which} limit.",
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }
    if policy != "DAILY":
        body["groupName"] = "publicapi:private-app-api-ten-secondly"
    return ApiError(429, body, headers)


@dataclass(frozen=True, slots=True)
class PropError:
    """One invalid property value."""

    name: str
    code: str
    message: str


class ItemError(Exception):
    """One batch input (or single write) fails: a validation error, a conflict, a bad reference."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
    ) -> None:
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors or []
        self.context = context or {}
        self.sub_category = sub_category
        super().__init__(message)

    def _base(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
        }
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.errors:
            body["errors"] = self.errors
        return body

    def as_api_error(self) -> ApiError:
        body = self._base()
        body["correlationId"] = correlation_id()
        if self.context:
            body["context"] = self.context
        return ApiError(self.status, body)

    def as_batch_error(self, trace_id: str | None) -> dict[str, Any]:
        """A 207 ``errors[]`` entry; ``context.objectWriteTraceId`` names the failed input."""
        body = self._base()
        context = dict(self.context)
        if trace_id is not None:
            context["objectWriteTraceId"] = [trace_id]
        body["context"] = context
        return body


def invalid_values(problems: list[PropError]) -> ItemError:
    """400 VALIDATION_ERROR with HubSpot's JSON-encoded detail inside ``message``."""
    detail = [
        {
            "isValid": False,
            "message": p.message,
            "error": p.code,
            "name": p.name,
            "localizedErrorMessage": p.message,
        }
        for p in problems
    ]
    message = "Property values were not valid: " + orjson.dumps(detail).decode()
    errors = [
        {"message": p.message, "code": p.code, "context": {"propertyName": [p.name]}}
        for p in problems
    ]
    return ItemError(400, "VALIDATION_ERROR", message, errors=errors)


def conflict(message: str) -> ItemError:
    return ItemError(409, "CONFLICT", message)
