"""Great Expectations suites as code, and the gate that runs them before anything is published."""
from pipelines.core.settings import disable_telemetry

disable_telemetry()
