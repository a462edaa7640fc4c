"""Tests of the data connectors (CSV, PostgreSQL) and of secrets at rest."""
