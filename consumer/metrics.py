"""Prometheus metrics of the daemon (SPEC section 8), all on an injected registry.

Owns: metric names (prefix ``classter_hubspot_``), their help text and bounded label sets. Labels
are never a student id, an e-mail or an event id. Must not: register on the global default
registry (tests build many daemons in one process).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

P = "classter_hubspot_"
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_E2E_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86_400)


class Metrics:
    """Every metric the daemon exports; construct one per daemon with its own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_consumed = Counter(
            P + "events_consumed", "Kafka records taken in, by topic", ["topic"], registry=registry
        )
        self.events_finished = Counter(
            P + "events_finished",
            "Records finished, by outcome (synced, skipped, dead_lettered)",
            ["outcome"],
            registry=registry,
        )
        self.rule_skips = Counter(
            P + "rule_skips", "Actions skipped by an integration rule", ["rule"], registry=registry
        )
        self.hubspot_requests = Counter(
            P + "hubspot_requests",
            "HubSpot HTTP requests by operation and status class",
            ["operation", "status_class"],
            registry=registry,
        )
        self.hubspot_latency = Histogram(
            P + "hubspot_request_duration_seconds",
            "HubSpot request latency by operation",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            P + "hubspot_rate_limited",
            "HubSpot 429 responses by policy",
            ["policy"],
            registry=registry,
        )
        self.retries = Counter(
            P + "retries", "Retried HubSpot operations, by cause", ["cause"], registry=registry
        )
        self.dlq_writes = Counter(
            P + "dlq_writes", "Records written to the DLQ, by reason", ["reason"], registry=registry
        )
        self.dlq_truncated = Counter(
            P + "dlq_truncated",
            "DLQ records written with the value cut short (the whole record was too large)",
            registry=registry,
        )
        self.dlq_repeats_skipped = Counter(
            P + "dlq_repeats_skipped",
            "Bad records fetched again after a restart or rebalance whose letter the DLQ held "
            "already, so not written again",
            registry=registry,
        )
        self.in_flight = Gauge(
            P + "events_in_flight", "Events being processed now", registry=registry
        )
        self.buffered = Gauge(
            P + "events_buffered", "Events consumed and not yet finished", registry=registry
        )
        self.committed_offset = Gauge(
            P + "committed_offset",
            "Last committed offset",
            ["topic", "partition"],
            registry=registry,
        )
        self.lag = Gauge(
            P + "consumer_lag",
            "High watermark minus committed offset",
            ["topic", "partition"],
            registry=registry,
        )
        self.paused_partitions = Gauge(
            P + "paused_partitions", "Partitions paused by backpressure", registry=registry
        )
        self.rebalances = Counter(
            P + "rebalances", "Partition assignments and revocations", ["kind"], registry=registry
        )
        self.commits = Counter(
            P + "commits", "Offset commits, by result", ["result"], registry=registry
        )
        self.end_to_end = Histogram(
            P + "end_to_end_latency_seconds",
            "From occurredAt to the finished HubSpot write",
            buckets=_E2E_BUCKETS,
            registry=registry,
        )
        self.budget_remaining = Gauge(
            P + "hubspot_budget_remaining",
            "HubSpot rate-limit budget left (ten_secondly, daily)",
            ["window"],
            registry=registry,
        )
        self.budget_limit = Gauge(
            P + "hubspot_budget_limit",
            "HubSpot rate-limit budget per window (ten_secondly: X-HubSpot-RateLimit-Max, "
            "daily: X-HubSpot-RateLimit-Daily)",
            ["window"],
            registry=registry,
        )
        self.last_poll = Gauge(
            P + "last_poll_timestamp_seconds", "Unix time of the last Kafka poll", registry=registry
        )
