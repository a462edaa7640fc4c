"""Exports: a report's visuals and pages turned into files — rendered on request or as arq
jobs (``loupe worker``, or inside ``loupe serve``), kept in the blob store for a while."""
