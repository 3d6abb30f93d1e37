"""Prometheus metrics: the standard gRPC server series and the domain counters.

The ``grpc_server_*`` names, labels and code spellings (``OK``,
``InvalidArgument``, ``Unauthenticated``) are those of go-grpc-prometheus, so
dashboards and alerts written for other gRPC stacks work unchanged. Each server
owns its :class:`Metrics` with a dedicated registry: two servers in one process
(the tests) never share a counter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from wsgiref.simple_server import WSGIServer

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from service.core.model import DiagnosticCode, RejectionReason, StandardEvent

# Custom event names come from the sender: as label values they would be
# unbounded (and could carry anything), so they are all counted as "custom".
CUSTOM_EVENT: Final = "custom"
STANDARD_EVENT_NAMES: Final = {
    StandardEvent.OUTBOUND_CLICK: "OutboundClick",
    StandardEvent.FORM_SUBMIT: "FormSubmit",
    StandardEvent.LEAD: "Lead",
    StandardEvent.COMPLETE_REGISTRATION: "CompleteRegistration",
    StandardEvent.PURCHASE: "Purchase",
}

# Latency buckets in seconds: a normalization takes well under a millisecond,
# so the low end is finer than Prometheus' defaults.
LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

_RPC_LABELS: Final = ("grpc_type", "grpc_service", "grpc_method")


def event_label(standard_event: StandardEvent) -> str:
    """The ``event`` label of a conversion: its standard event, or ``custom``."""
    return STANDARD_EVENT_NAMES.get(standard_event, CUSTOM_EVENT)


def code_label(code: grpc.StatusCode) -> str:
    """A status code as go-grpc-prometheus spells it (Go's ``codes.Code`` names)."""
    if code is grpc.StatusCode.OK:
        return "OK"
    if code is grpc.StatusCode.CANCELLED:
        return "Canceled"
    return "".join(word.capitalize() for word in code.name.split("_"))


class Metrics:
    """Every series the server exports, in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.started = Counter(
            "grpc_server_started",
            "RPCs started on the server.",
            _RPC_LABELS,
            registry=self.registry,
        )
        self.handled = Counter(
            "grpc_server_handled",
            "RPCs completed on the server, whatever their status code.",
            (*_RPC_LABELS, "grpc_code"),
            registry=self.registry,
        )
        self.handling_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its status, in seconds.",
            _RPC_LABELS,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.msg_received = Counter(
            "grpc_server_msg_received",
            "Request messages received on the server.",
            _RPC_LABELS,
            registry=self.registry,
        )
        self.msg_sent = Counter(
            "grpc_server_msg_sent",
            "Response messages sent by the server.",
            _RPC_LABELS,
            registry=self.registry,
        )
        self.normalized = Counter(
            "conversions_normalized",
            "Conversions normalized (Normalize calls and NormalizeStream items), by event.",
            ("event",),
            registry=self.registry,
        )
        self.rejected = Counter(
            "conversions_rejected",
            "Payloads rejected by Normalize and NormalizeStream, by ErrorInfo reason.",
            ("reason",),
            registry=self.registry,
        )
        self.diagnostics = Counter(
            "conversion_diagnostics",
            "Diagnostics attached to normalized conversions, by code.",
            ("code",),
            registry=self.registry,
        )
        # Every bounded label value starts at zero, so rate() and absent()
        # work from the first scrape instead of from the first occurrence;
        # the children are kept so a call pays for no label lookup.
        self.normalized_by_event = {
            event: self.normalized.labels(event)
            for event in (*STANDARD_EVENT_NAMES.values(), CUSTOM_EVENT)
        }
        self.rejected_by_reason = {
            reason: self.rejected.labels(reason.value) for reason in RejectionReason
        }
        self.diagnostics_by_code = {
            diagnostic: self.diagnostics.labels(diagnostic.name) for diagnostic in DiagnosticCode
        }

    def register_methods(self, methods: Iterable[tuple[str, str, str]]) -> None:
        """Start the per-method series of ``(grpc_type, service, method)`` at zero."""
        for labels in methods:
            self.started.labels(*labels)
            self.handled.labels(*labels, code_label(grpc.StatusCode.OK))
            self.handling_seconds.labels(*labels)
            self.msg_received.labels(*labels)
            self.msg_sent.labels(*labels)


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    """The HTTP server that exposes a registry in the Prometheus text format."""

    http: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.http.server_port)

    def close(self) -> None:
        """Stop serving and release the port."""
        self.http.shutdown()
        self.http.server_close()
        self.thread.join()


def serve_metrics(metrics: Metrics, host: str, port: int) -> MetricsEndpoint:
    """Serve ``metrics`` on ``host:port`` from a background thread.

    ``host`` is written as for gRPC: ``[::]`` binds every IPv6 (and, where the
    system allows, IPv4) address.
    """
    http, thread = start_http_server(port, addr=host.strip("[]"), registry=metrics.registry)
    return MetricsEndpoint(http, thread)
