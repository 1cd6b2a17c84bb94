"""Prefect flows and deployments: composition only, no data logic."""
from pipelines.settings import disable_telemetry

disable_telemetry()
