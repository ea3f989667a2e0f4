"""Prometheus metrics of one service, in a registry of its own.

A registry per service instance (not the process-global default) lets tests run
several services in one process without metric name clashes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests served",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "alliance_consumer_lag",
            "Records behind the high watermark, per assigned partition",
            ["service", "topic", "partition"],
            registry=self.registry,
        )
        self.events_consumed = Counter(
            "alliance_events_consumed",
            "Records consumed, by outcome (applied, ignored, dead_lettered)",
            ["service", "topic", "outcome"],
            registry=self.registry,
        )
        self.dlq_records = Counter(
            "alliance_dlq_records",
            "Records sent to a dead-letter topic",
            ["service", "topic", "reason"],
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "alliance_outbox_backlog",
            "Documents with events not yet published",
            ["service"],
            registry=self.registry,
        )
        self.audit_chain_breaks = Gauge(
            "alliance_audit_chain_breaks",
            "Breaks found by the last verification of the audit chain (0: intact)",
            ["service"],
            registry=self.registry,
        )
        self.consumer_restarts = Counter(
            "alliance_consumer_restarts",
            "Consumers that ended unexpectedly and were started again",
            ["service", "consumer"],
            registry=self.registry,
        )
        self.outbox_set_aside = Counter(
            "alliance_outbox_set_aside",
            "Journal versions whose events can never be published as they are (alert on any)",
            ["service", "reason"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "alliance_events_published",
            "Events published by the outbox relay",
            ["service", "topic"],
            registry=self.registry,
        )
