"""Charts: a report's visuals compiled to Vega-Lite and rendered to SVG, PNG and PDF."""
