"""MQTT: the topic scheme, connections, the telemetry publisher."""
