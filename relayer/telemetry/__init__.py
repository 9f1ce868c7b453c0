"""Telemetry: structured logs, Prometheus metrics, health endpoints."""
