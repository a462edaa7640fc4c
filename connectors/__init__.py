"""The data side: the connector plugin interface and Loupe's own connectors (CSV, PostgreSQL),
the blob store, the query compiler and measure language, and the query engine with its cache.
docs/data.md is the map."""
