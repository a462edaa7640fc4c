"""PostgreSQL, NATS (JetStream) and Redis run by Loupe itself, from pip wheels.

With no ``LOUPE_*_URL`` configured, ``loupe serve`` runs the engines as child processes under the
data directory (DESIGN.md, "Real engines, embedded by default"): the same servers as in
production, without Docker. They never use the standard ports, and they die with Loupe.
"""

from api.engines.base import Engine
from api.engines.embedded import ENGINES, EmbeddedEngines, running_urls
from api.engines.errors import EngineError
from api.engines.nats import EmbeddedNats
from api.engines.postgres import EmbeddedPostgres
from api.engines.redis import EmbeddedRedis

__all__ = [
    "ENGINES",
    "EmbeddedEngines",
    "EmbeddedNats",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "Engine",
    "EngineError",
    "running_urls",
]
