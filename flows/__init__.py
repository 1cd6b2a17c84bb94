"""Prefect flows and deployments: composition only, no data logic."""
from pipelines.core.settings import disable_telemetry

disable_telemetry()
