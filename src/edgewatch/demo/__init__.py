"""``edgewatch demo``: the whole system catching faults, on one machine, over real MQTT."""
