"""The device agent: MQTT readings in, scores through the shared pipeline, durable alerts out.

Modules, one idea each:

* ``config``       -- strict TOML/YAML configuration (``load_config``, ``merge_overrides``)
* ``outbox``       -- the durable SQLite outbox (alerts survive outages, restarts and ``kill -9``)
* ``loop``         -- the one scoring loop (inbox -> pipeline -> events -> outbox / MQTT)
* ``health``       -- status topic, stats, thermal guard; ``metrics`` -- optional Prometheus endpoint
* ``homeassistant`` -- opt-in MQTT discovery; ``ratelimit`` -- per-device rate limit
* ``state``        -- persisted thresholds and alert states; ``service`` -- assembly and shutdown
* ``cli``          -- ``edgewatch run`` (also ``python -m edgewatch.agent``)

Importing this package does not import paho-mqtt or a runtime; ``service`` does.
"""

from edgewatch.agent.config import AgentConfig, config_from_dict, load_config, merge_overrides
from edgewatch.agent.outbox import Outbox

__all__ = ["AgentConfig", "Outbox", "config_from_dict", "load_config", "merge_overrides"]
