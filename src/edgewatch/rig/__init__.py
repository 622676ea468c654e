"""The rig that drives the whole system on one machine, shared by ``edgewatch demo``, ``edgewatch bench agent``,
``simulate --mqtt`` and the tests: a private Mosquitto broker (:mod:`~edgewatch.rig.broker`), MQTT clients
that publish and listen (:mod:`~edgewatch.rig.clients`), and the agent as a process with a configuration
written for it (:mod:`~edgewatch.rig.agent`)."""
