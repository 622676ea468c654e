"""The MQTT rig shared by the tests, ``edgewatch bench`` and ``edgewatch demo``: a private Mosquitto broker."""
