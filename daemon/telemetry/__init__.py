"""The telemetry server (``arbord.telemetry``): sampled events, sampling, exact accounting, metrics and
their export. See ``docs/telemetry.md``."""
