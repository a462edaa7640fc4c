"""Data connectors (CSV, PostgreSQL), schema inference, the query compiler and the query engine.

Arrives with the data issue; nothing in the spine depends on it yet.
"""
