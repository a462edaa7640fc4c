"""The parts every spec shares: ``$schema``, the title block, size, background, the theme's
``config`` and ``usermeta.loupe``.

Titles follow Power BI: shown by default with an automatic text ("Sum of Sales by Region"),
``title.text`` replaces it; a subtitle carries ``subtitle.text`` and what data reduction left
out. Font sizes are points (``title.font_size``), alignment ``left``/``center``/``right``.
"""

from __future__ import annotations

from typing import Any, Final

from charts.compiler.context import Column, Context
from charts.properties import px
from charts.theme import vega_config

SCHEMA_URL: Final = "https://vega.github.io/schema/vega-lite/v6.json"
PADDING: Final = 5
ANCHORS: Final = {"left": "start", "center": "middle", "right": "end"}
#: Line height of text, as a multiple of its font size (for layout estimates).
LINE: Final = 1.25
TITLE_OFFSET: Final = 4

#: Wells whose labels make the automatic title's "values" and "categories".
_VALUE_WELLS: Final = ("y", "x", "secondary_y", "values", "color", "size", "target")
_CATEGORY_WELLS: Final = ("x", "y", "color", "details", "rows", "columns")
NO_AUTO_TITLE: Final = frozenset({"table", "matrix", "card", "multi_row_card"})


def join_words(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _unique(columns: list[Column]) -> list[str]:
    labels: list[str] = []
    for column in columns:
        if column.label not in labels:
            labels.append(column.label)
    return labels


def auto_title(context: Context) -> str | None:  # noqa: PLR0911 - one answer per kind
    """Power BI's automatic title: "<values> by <categories>"; a KPI's or gauge's value; a
    slicer's field."""
    visual_type = context.visual_type
    if visual_type in NO_AUTO_TITLE:
        return None
    if visual_type == "histogram":
        x = context.column("x")
        return None if x is None else f"Distribution of {x.label}"
    if visual_type == "slicer":
        first = context.column("values")
        return None if first is None else first.planned.field
    if visual_type in ("kpi", "gauge"):
        value = context.column("values")
        return None if value is None else value.label
    values = _unique([c for well in _VALUE_WELLS for c in context.well(well) if c.is_measure])
    categories = _unique(
        [c for well in _CATEGORY_WELLS for c in context.well(well) if not c.is_measure]
    )
    if not values and not categories:
        return None
    if not categories:
        return join_words(values)
    if not values:
        return join_words(categories)
    return f"{join_words(values)} by {join_words(categories)}"


def title_block(
    context: Context, *, notes: list[str] | None = None, reduction_note: bool = True
) -> dict[str, Any] | None:
    """The spec's ``title`` (``None`` when there is nothing to show)."""
    props = context.props
    show = props.flag("title.show", default=True)
    text = props.text("title.text") if show else None
    if show and text is None:
        text = auto_title(context)
    subtitle = _subtitle(context, notes or [], reduction_note=reduction_note)
    if not text:
        return _notes_only(context, subtitle)
    title: dict[str, Any] = {"text": text}
    if subtitle:
        title["subtitle"] = subtitle if len(subtitle) > 1 else subtitle[0]
    color = props.color("title.color")
    if color:
        title["color"] = color
    size = props.number("title.font_size")
    if size is not None and 1 <= size <= 400:  # noqa: PLR2004
        title["fontSize"] = px(size)
    alignment = props.choice("title.alignment", tuple(ANCHORS), "left")
    if alignment != "left":
        title["anchor"] = ANCHORS[alignment]
    return title


def _subtitle(context: Context, notes: list[str], *, reduction_note: bool) -> list[str]:
    """``subtitle.text``, then what was left out."""
    lines: list[str] = []
    if context.props.flag("subtitle.show", default=True):
        own = context.props.text("subtitle.text")
        if own:
            lines.append(own)
    lines += notes
    if context.reduction is not None and reduction_note:
        note = context.reduction.note()
        if note:
            lines.append(note)
    return lines


def _notes_only(context: Context, subtitle: list[str]) -> dict[str, Any] | None:
    """Vega draws no subtitle without a title: with the title hidden, the first note takes
    the title's place, in the subtitle's size and colour."""
    if not subtitle:
        return None
    title: dict[str, Any] = {
        "text": subtitle[0],
        "fontSize": px(context.theme.label.font_size),
        "color": context.theme.secondary,
    }
    if len(subtitle) > 1:
        title["subtitle"] = subtitle[1:] if len(subtitle) > 2 else subtitle[1]  # noqa: PLR2004
    return title


def title_height(context: Context, title: dict[str, Any] | None) -> float:
    """An estimate of the height the title block takes (for visuals laid out in pixels)."""
    if title is None:
        return 0.0
    height = 0.0
    if title.get("text"):
        height += float(title.get("fontSize", px(context.theme.title.font_size))) * LINE
    subtitle = title.get("subtitle")
    lines = len(subtitle) if isinstance(subtitle, list) else (1 if subtitle else 0)
    height += lines * px(context.theme.label.font_size) * LINE
    return height + TITLE_OFFSET


def background(context: Context) -> str:
    if not context.props.flag("background.show", default=True):
        return "transparent"
    return context.props.color("background.color") or context.theme.background


def usermeta(context: Context) -> dict[str, Any]:
    meta: dict[str, Any] = {"visual_type": context.visual_type}
    reduction = context.reduction
    if reduction is None:
        meta["reduced"] = False
    else:
        meta.update(
            {
                "reduced": reduction.reduced,
                "limit": reduction.limit,
                "strategy": reduction.strategy,
                "unit": reduction.unit,
                "shown": reduction.shown,
            }
        )
        if reduction.total is not None:
            meta["total"] = reduction.total
    if context.props.ignored:
        meta["ignored"] = list(context.props.ignored)
    if context.warnings:
        meta["warnings"] = list(context.warnings)
    return {"loupe": meta}


def finish(
    context: Context,
    body: dict[str, Any],
    *,
    title: dict[str, Any] | None,
    fit: bool = True,
) -> dict[str, Any]:
    """The complete spec around ``body`` (data, marks, encodings). ``fit``: the view is sized
    so that everything, axes and legend included, fits ``width`` by ``height``; otherwise
    ``body`` sets its own sizes (facets)."""
    spec: dict[str, Any] = {"$schema": SCHEMA_URL}
    if title is not None:
        spec["title"] = title
    spec.update(body)
    if fit:
        spec["width"] = context.width
        spec["height"] = context.height
        spec["autosize"] = {"type": "fit", "contains": "padding"}
    else:
        spec["autosize"] = {"type": "pad"}
    spec["padding"] = PADDING
    spec["background"] = background(context)
    spec["config"] = vega_config(context.theme)
    spec["usermeta"] = usermeta(context)
    return spec
