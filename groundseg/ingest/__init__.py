"""The ingest service: MQTT telemetry frames into the time-series database, losing nothing."""
