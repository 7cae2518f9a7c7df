"""Prometheus metrics for the model server: requests by route and status, latency, predictions, and per
feature the values that arrived missing (imputed) or as a category the model never saw; for a language model,
tokens generated, answers by finish reason and the time to the first token.

Each app gets its own registry, so two servers in one process (tests) never share counts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Telemetry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "millrace_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "millrace_request_seconds",
            "request latency by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "millrace_request_errors",
            "requests answered 4xx or 5xx, by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.predictions = Counter("millrace_predictions", "records predicted", registry=self.registry)
        self.missing = Counter(
            "millrace_feature_missing",
            "values missing in predicted records, imputed with the training split's value, by feature",
            ["feature"],
            registry=self.registry,
        )
        self.unseen = Counter(
            "millrace_feature_unseen",
            "categories the model never saw in training, in predicted records, by feature",
            ["feature"],
            registry=self.registry,
        )
        self.tokens = Counter("millrace_generated_tokens", "tokens a language model generated", registry=self.registry)
        self.answers = Counter(
            "millrace_answers", "a language model's answers by finish reason", ["finish_reason"], registry=self.registry
        )
        self.first_token = Histogram(
            "millrace_first_token_seconds",
            "seconds from a request's arrival to its first generated token",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model = Gauge(
            "millrace_model_info", "the model being served (value 1)", ["version"], registry=self.registry
        )

    def count_inputs(self, counts) -> None:
        for feature, n in counts.missing.items():
            self.missing.labels(feature).inc(n)
        for feature, n in counts.unseen.items():
            self.unseen.labels(feature).inc(n)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status >= 400:
            self.errors.labels(route, str(status)).inc()
