"""HubSpot's answers as the daemon's error types (SPEC section 5): the translation is total."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from consumer.errors import (
    HubSpotAuthError,
    HubSpotConflictError,
    HubSpotError,
    HubSpotRateLimitError,
    HubSpotTransientError,
    HubSpotValidationError,
)
from consumer.hubspot.client import item_error, translate
from tests.factories import PROPERTY

PERMANENT_4XX = {400, 404, 405, 413, 414, 415, 422}


def expected_type(status: int) -> type[HubSpotError]:
    """The documented classification, status by status."""
    if status in (401, 403):
        return HubSpotAuthError
    if status == 429:
        return HubSpotRateLimitError
    if status == 409:
        return HubSpotConflictError
    if status in PERMANENT_4XX:
        return HubSpotValidationError
    return HubSpotTransientError  # 5xx, 408, 423, 477 and everything unexpected: retried


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
any_json = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
# HubSpot's error shape with every field of any JSON type, except that an entry's ``context`` is
# an object whose ``propertyName`` is a list (see the xfail tests below for the other cases).
error_entries = st.fixed_dictionaries(
    {},
    optional={
        "code": any_json,
        "message": any_json,
        "in": any_json,
        "context": st.none()
        | st.fixed_dictionaries({}, optional={"propertyName": st.lists(scalars, max_size=3)}),
    },
)
hubspot_bodies = st.fixed_dictionaries(
    {},
    optional={
        "status": any_json,
        "message": any_json,
        "category": any_json,
        "correlationId": any_json,
        "policyName": any_json,
        "errors": any_json | st.lists(error_entries, max_size=3),
    },
)
bodies = st.none() | any_json | hubspot_bodies
header_sets = st.fixed_dictionaries(
    {},
    optional={
        "Retry-After": st.sampled_from(["0", "1", "2.5", "10", "-4", "soon", "", " 3 "])
        | st.text(max_size=6)
    },
)
statuses = st.integers(min_value=100, max_value=599)


@given(status=statuses, body=bodies, headers=header_sets)
@example(status=400, body=None, headers={})
@example(status=503, body=[], headers={})
@example(status=429, body="Too Many Requests", headers={})
@example(status=400, body={"errors": "oops"}, headers={})
@PROPERTY
def test_every_status_and_body_becomes_a_typed_error_with_the_right_retryability(
    status: int, body: Any, headers: dict[str, str]
) -> None:
    error = translate(status, body, headers)

    assert type(error) is expected_type(status)
    assert error.retryable is (
        expected_type(status) in (HubSpotTransientError, HubSpotRateLimitError)
    )
    assert error.status == status
    assert isinstance(str(error), str)
    if isinstance(error, HubSpotTransientError) and error.retry_after_s is not None:
        assert error.retry_after_s >= 0


@given(err=hubspot_bodies, status=statuses)
@PROPERTY
def test_every_batch_error_entry_becomes_a_typed_error(err: dict[str, Any], status: int) -> None:
    error = item_error(err, status)

    assert isinstance(error, HubSpotError)
    if status < 500 and err.get("category") not in ("CONFLICT", "RATE_LIMITS", "RATE_LIMIT"):
        assert isinstance(error, HubSpotValidationError)
        assert not error.retryable


@pytest.mark.parametrize(
    "entry",
    [{"context": "objectWriteTraceId"}, {"context": [1]}, {"context": {"propertyName": 5}}],
)
def test_an_odd_error_context_still_becomes_a_typed_error(entry: dict[str, Any]) -> None:
    assert isinstance(translate(400, {"errors": [entry]}), HubSpotValidationError)
    assert isinstance(item_error(dict(entry, category="VALIDATION_ERROR")), HubSpotError)


# -- statuses, one by one -------------------------------------------------------------------------


def test_a_validation_error_names_its_code_and_properties() -> None:
    body = {
        "status": "error",
        "message": "Property values were not valid",
        "correlationId": "c-1",
        "category": "VALIDATION_ERROR",
        "errors": [
            {
                "message": "'Nonbinary' is not a valid option",
                "code": "INVALID_OPTION",
                "context": {"propertyName": ["gender"]},
            }
        ],
    }

    error = translate(400, body)

    assert isinstance(error, HubSpotValidationError)
    assert (error.code, error.property_names) == ("INVALID_OPTION", ("gender",))
    assert error.correlation_id == "c-1"
    assert str(error) == "Property values were not valid"
    assert not error.retryable


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"category": "VALIDATION_ERROR", "message": "bad"}, "VALIDATION_ERROR"),
        ({"category": "OBJECT_NOT_FOUND"}, "OBJECT_NOT_FOUND"),
        ({}, "VALIDATION_ERROR"),
        (None, "VALIDATION_ERROR"),
        ("<html>Bad Request</html>", "VALIDATION_ERROR"),
        ([{"code": "INVALID_EMAIL"}], "VALIDATION_ERROR"),
    ],
)
def test_a_400_without_details_is_still_a_validation_error(body: Any, code: str) -> None:
    error = translate(400, body)

    assert isinstance(error, HubSpotValidationError)
    assert error.code == code


def test_a_body_without_a_message_says_the_status() -> None:
    assert str(translate(502, None)) == "HTTP 502"


def test_a_long_message_is_cut() -> None:
    assert len(str(translate(500, {"message": "x" * 5000}))) == 500


@pytest.mark.parametrize(
    ("status", "category"), [(401, "INVALID_AUTHENTICATION"), (403, "MISSING_SCOPES")]
)
def test_a_refused_token_is_an_auth_error_that_says_so(status: int, category: str) -> None:
    error = translate(status, {"category": category, "message": "nope"})

    assert isinstance(error, HubSpotAuthError)
    assert not error.retryable
    assert f"{status} {category}" in str(error)


@pytest.mark.parametrize(
    ("message", "existing"),
    [
        ("Contact already exists. Existing ID: 12345", "12345"),
        ("A contact with email already exists. Existing ID:987", "987"),
        ("Conflict", None),
    ],
)
def test_a_conflict_carries_the_existing_id(message: str, existing: str | None) -> None:
    error = translate(409, {"category": "CONFLICT", "message": message})

    assert isinstance(error, HubSpotConflictError)
    assert error.existing_id == existing
    assert not error.retryable


@pytest.mark.parametrize(
    ("body", "headers", "policy", "wait"),
    [
        ({"policyName": "TEN_SECONDLY_ROLLING"}, {}, "TEN_SECONDLY_ROLLING", None),
        ({"policyName": "DAILY"}, {}, "DAILY", None),
        ({}, {"Retry-After": "3"}, "TEN_SECONDLY_ROLLING", 3.0),
        (None, {"Retry-After": "1.5"}, "TEN_SECONDLY_ROLLING", 1.5),
        ({"policyName": "SECONDLY"}, {"Retry-After": "-2"}, "SECONDLY", 0.0),
        ({}, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, "TEN_SECONDLY_ROLLING", None),
    ],
)
def test_a_429_names_its_policy_and_wait(
    body: Any, headers: dict[str, str], policy: str, wait: float | None
) -> None:
    error = translate(429, body, headers)

    assert isinstance(error, HubSpotRateLimitError)
    assert error.retryable
    assert (error.policy, error.retry_after_s) == (policy, wait)


@pytest.mark.parametrize(("header", "wait"), [(None, 2.0), ("1", 2.0), ("5", 5.0)])
def test_a_423_waits_at_least_two_seconds(header: str | None, wait: float) -> None:
    error = translate(423, {}, {} if header is None else {"Retry-After": header})

    assert isinstance(error, HubSpotTransientError)
    assert error.retryable
    assert error.retry_after_s == wait


@pytest.mark.parametrize("status", [408, 477, 500, 502, 503, 504, 599, 418, 451, 302, 100])
def test_server_errors_timeouts_and_the_unexpected_are_retried(status: int) -> None:
    error = translate(status, {"message": "later"}, {"Retry-After": "7"})

    assert type(error) is HubSpotTransientError
    assert error.retryable
    assert error.retry_after_s == 7.0


def test_a_lower_case_retry_after_header_is_honoured() -> None:
    error = translate(429, {}, {"retry-after": "3"})

    assert isinstance(error, HubSpotRateLimitError)
    assert error.retry_after_s == 3.0


@pytest.mark.parametrize("header", ["inf", "Infinity", "1e400"])
def test_an_infinite_retry_after_is_not_an_infinite_pause(header: str) -> None:
    error = translate(503, {}, {"Retry-After": header})

    assert isinstance(error, HubSpotTransientError)
    assert error.retry_after_s is None or error.retry_after_s < 86_400


# -- batch error entries --------------------------------------------------------------------------


def test_a_batch_entry_rejected_for_a_bad_value_is_permanent_for_that_input() -> None:
    entry = {
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": "Property values were not valid",
        "context": {"objectWriteTraceId": ["3"], "propertyName": ["date_of_birth"]},
    }

    error = item_error(entry)

    assert isinstance(error, HubSpotValidationError)
    assert (error.code, error.status) == ("VALIDATION_ERROR", 400)
    assert not error.retryable


def test_a_batch_entry_with_a_conflict_carries_the_existing_id() -> None:
    error = item_error({"category": "CONFLICT", "message": "exists. Existing ID: 42"})

    assert isinstance(error, HubSpotConflictError)
    assert error.existing_id == "42"


@pytest.mark.parametrize("category", ["RATE_LIMITS", "RATE_LIMIT"])
def test_a_rate_limited_batch_entry_is_retried(category: str) -> None:
    error = item_error({"category": category, "policyName": "TEN_SECONDLY_ROLLING"})

    assert isinstance(error, HubSpotRateLimitError)
    assert error.retryable


def test_a_batch_entry_of_an_unknown_category_is_retried_only_on_a_server_status() -> None:
    entry = {"category": "INTERNAL_ERROR", "message": "try later"}

    assert not item_error(entry, 400).retryable
    assert item_error(entry, 500).retryable
