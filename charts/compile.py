"""``compile_visual``: a visual and its answer → a Vega-Lite spec. The compiler itself is the
``charts.compiler`` package (one module per family of visuals); this is its front door."""

from __future__ import annotations

from charts.compiler import compile_visual

__all__ = ["compile_visual"]
