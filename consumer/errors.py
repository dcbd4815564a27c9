"""The one exception tree of the daemon.

Whether a failure is worth retrying is a property of its type (``retryable``), decided once here
and read everywhere else; callers never inspect status codes or library exceptions. The only
modules that create these from foreign exceptions are ``hubspot/client.py`` (aiohttp, HTTP status)
and ``intake.py`` (aiokafka). Messages never contain a token or an e-mail address.
"""

from __future__ import annotations


class ClassterHubSpotError(Exception):
    """Base of every error the daemon raises on purpose."""

    retryable: bool = False


class ConfigError(ClassterHubSpotError):
    """The configuration is invalid; ``problems`` holds one readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class BadInputError(ClassterHubSpotError):
    """A Kafka record that does not satisfy the event contract (SPEC section 7).

    ``reason`` is the short code written to the DLQ header ``x-error-reason``; ``event_id`` is
    the record's ``eventId`` when it could be read (a JSON object with a string ``eventId``),
    so that logs can name the event even though it did not decode.
    """

    error_class = "bad_input"

    def __init__(self, reason: str, message: str, *, event_id: str | None = None) -> None:
        self.reason = reason
        self.event_id = event_id
        super().__init__(message)


class EventRejectedError(ClassterHubSpotError):
    """HubSpot (or our own pre-validation against HubSpot's schema) refuses this one event.

    Permanent for the event: it goes to the DLQ, the partition moves on.
    """

    error_class = "rejected"

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class EmailConflictError(EventRejectedError):
    """The student's e-mail belongs to a contact that is not this student's (SPEC section 10)."""

    error_class = "email_conflict"

    def __init__(self, message: str) -> None:
        super().__init__("email_conflict", message)


class HubSpotError(ClassterHubSpotError):
    """A HubSpot call failed; subclasses say how."""

    def __init__(
        self, message: str, *, status: int | None = None, correlation_id: str | None = None
    ) -> None:
        self.status = status
        self.correlation_id = correlation_id
        super().__init__(message)


class HubSpotAuthError(HubSpotError):
    """401 or 403: a bad token or missing scopes. Fatal: the daemon stops instead of
    dead-lettering every event."""


class HubSpotValidationError(HubSpotError):
    """400 VALIDATION_ERROR or another permanent 4xx for the request as sent."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = 400,
        correlation_id: str | None = None,
        property_names: tuple[str, ...] = (),
    ) -> None:
        self.code = code
        self.property_names = property_names
        super().__init__(message, status=status, correlation_id=correlation_id)


class HubSpotConflictError(HubSpotError):
    """409 CONFLICT; ``existing_id`` is parsed from HubSpot's message when present."""

    def __init__(
        self, message: str, *, existing_id: str | None, correlation_id: str | None = None
    ) -> None:
        self.existing_id = existing_id
        super().__init__(message, status=409, correlation_id=correlation_id)


class HubSpotTransientError(HubSpotError):
    """Worth retrying: 5xx, 423, 429, a timeout or a dropped connection.

    ``retry_after_s`` is the least wait before the next attempt, when known.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: float | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message, status=status, correlation_id=correlation_id)


class HubSpotRateLimitError(HubSpotTransientError):
    """429; ``policy`` is HubSpot's ``policyName`` (``TEN_SECONDLY_ROLLING`` or ``DAILY``)."""

    def __init__(
        self,
        message: str,
        *,
        policy: str,
        retry_after_s: float | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.policy = policy
        super().__init__(
            message, status=429, retry_after_s=retry_after_s, correlation_id=correlation_id
        )


class DailyBudgetExhaustedError(HubSpotTransientError):
    """The daily budget (less the configured reserve) is spent; wait for the reset."""


class KafkaUnavailableError(ClassterHubSpotError):
    """The broker cannot be reached or refused us (translated in ``intake.py``)."""

    retryable = True


class DeadLetterError(ClassterHubSpotError):
    """The DLQ producer could not get an acknowledgement; the offset must not pass the record."""

    retryable = True
