"""Metrics, health, alerts and reports: where the figures the rollout gates on come from."""

from .alerts import Alert, WebhookDelivery
from .baseline import Assessment, Baseline, BaselineEntry
from .metrics import ComparisonMismatch, ComparisonRollup, IngestCounter, MetricRollup, MetricSample, Provider
from .probes import ProbeResult

__all__ = [
    "Alert",
    "Assessment",
    "Baseline",
    "BaselineEntry",
    "ComparisonMismatch",
    "ComparisonRollup",
    "IngestCounter",
    "MetricRollup",
    "MetricSample",
    "ProbeResult",
    "Provider",
    "WebhookDelivery",
]
