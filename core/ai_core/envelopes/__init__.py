"""OpenTelemetry data -> Application Insights envelopes (plain dicts in wire order)."""
