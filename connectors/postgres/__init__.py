"""The PostgreSQL connector (entry point ``postgres``): live sources queried in place."""

from connectors.postgres.config import PostgresConfig
from connectors.postgres.connector import PostgresConnector

__all__ = ["PostgresConfig", "PostgresConnector"]
