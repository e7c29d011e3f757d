"""Metrics, health, alerts and reports: where the figures the rollout gates on come from."""
