"""A Vega-Lite spec rendered to SVG, PNG or PDF with vl-convert, on or off the event loop.

vl-convert runs Vega in an embedded JavaScript engine behind one process-wide lock, and it holds
the GIL while it works (measured: a thread spinning beside a conversion gets ~10 % of its usual
turns). Running a conversion with ``asyncio.to_thread`` therefore still stalls the event loop
for the whole conversion, 50-500 ms. The ``*_async`` functions below run conversions in a small
pool of worker *processes* instead: the API stays responsive, two conversions really run at
once on two cores, and a conversion that crashes or exhausts memory takes down a worker, not
the server. ``configure_render_workers(0)`` falls back to threads where processes are unwanted.

Every conversion goes SVG first: the SVG's size tells how large the raster will be before any
pixel is allocated (a spec asking for a 100 000 px square chart is refused, not attempted), and
a page (charts/page.py) composes visuals' SVGs before it converts. External data URLs are
refused: the compiler inlines data, so a spec that fetches anything is not ours.

Errors: a spec that Vega-Lite cannot render raises ``InvalidSpec`` (the API answers 422) with
a message a person can act on; a fault of the engine or of a worker raises ``RenderFailed``.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import logging
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Final, ParamSpec, TypeVar

import pebble
import vl_convert as vlc

from charts.fonts import register_bundled_fonts

Spec = Mapping[str, Any]
"""A Vega-Lite spec as a JSON object (data inlined)."""

MAX_SCALE: Final = 4.0
"""The largest PNG scale factor: 4x a 1280 px wide chart is already 5120 px wide."""

MAX_PIXELS: Final = 40_000_000
"""The largest PNG we draw (160 MB of RGBA while it is drawn)."""

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_T = TypeVar("_T")


class RenderError(Exception):
    """Rendering was refused or failed. ``code`` is stable; ``detail`` is for people."""

    default_code: ClassVar[str] = "render_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code: str = code or self.default_code

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross the process boundary of the render pool; keep ``code`` when pickled.
        return (type(self), (self.detail,), {"code": self.code})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, detail={self.detail!r})"


class InvalidSpec(RenderError):
    """Vega-Lite cannot render this spec (bad mark, field type, expression, not JSON ...)."""

    default_code = "invalid_spec"


class InvalidRenderOptions(RenderError):
    """The spec may be fine, but the requested scale or image size is out of bounds."""

    default_code = "invalid_render_options"


class RenderFailed(RenderError):
    """The rendering engine or its worker process failed; not the caller's fault."""

    default_code = "render_failed"


# --- Vega-Lite versions -------------------------------------------------------------------

_SCHEMA_VERSION = re.compile(r"/vega-lite/v(\d+)(?:\.(\d+))?")


@functools.cache
def _bundled_versions() -> tuple[tuple[int, int], ...]:
    """The Vega-Lite versions this vl-convert carries, as sorted (major, minor) pairs."""
    pairs = []
    for version in vlc.get_vegalite_versions():
        major, _, rest = version.partition(".")
        minor = rest.partition(".")[0]
        if major.isdigit() and minor.isdigit():
            pairs.append((int(major), int(minor)))
    return tuple(sorted(pairs))


@functools.cache
def _altair_version() -> tuple[int, int]:
    """The Vega-Lite version altair (and so the visual compiler) writes specs for."""
    import altair as alt  # noqa: PLC0415  # 0.8 s to import; only specs without $schema

    match = re.match(r"v?(\d+)\.(\d+)", alt.SCHEMA_VERSION)
    assert match is not None, alt.SCHEMA_VERSION
    return int(match.group(1)), int(match.group(2))


def vegalite_version(spec: Spec) -> str | None:
    """The ``vl_version`` to render ``spec`` with, e.g. ``"6.4"``.

    The spec's own ``$schema`` decides (``.../vega-lite/v5.json`` → the newest bundled 5.x;
    ``v6.4.1.json`` → 6.4 when bundled); a spec without one is taken to be altair's version.
    ``None`` (vl-convert's newest) when no bundled version has that major.
    """
    schema = spec.get("$schema")
    match = _SCHEMA_VERSION.search(schema) if isinstance(schema, str) else None
    if match is not None:
        major, minor = int(match.group(1)), int(match.group(2)) if match.group(2) else None
    else:
        major, minor = _altair_version()
    same_major = [pair for pair in _bundled_versions() if pair[0] == major]
    if not same_major:
        return None
    chosen = (major, minor) if (major, minor) in same_major else same_major[-1]
    return f"{chosen[0]}.{chosen[1]}"


# --- errors a person can act on -----------------------------------------------------------

_NOT_JSON = "Failed to parse vl_spec"
_MAX_DETAIL = 600


def _engine_summary(message: str) -> str:
    """vl-convert's message without its JavaScript stack trace and boilerplate."""
    lines = [line.strip() for line in message.splitlines()]
    kept = [
        line
        for line in lines
        if line and not line.startswith("at ") and not line.endswith("conversion failed:")
    ]
    summary = " ".join(kept) or message.strip()
    # "Invalid specification {...the whole spec, data and all...}": name it, don't print it.
    summary = re.sub(r"\{.{60,}\}", "{…}", summary)
    return summary.removeprefix("Error: ")


def _leaf_errors(errors: Any) -> Iterator[Any]:
    for error in errors:
        if error.context:
            yield from _leaf_errors(error.context)
        else:
            yield error


_PREFERRED_COMPLAINT: Final = {"enum": 4, "required": 3, "additionalProperties": 2, "type": 1}


@functools.cache
def _schema_validator() -> Any:
    """A JSON-schema validator for altair's Vega-Lite schema (loaded on the first failure)."""
    import jsonschema  # type: ignore[import-untyped]  # noqa: PLC0415  # failures only

    major, _ = _altair_version()
    core = importlib.import_module(f"altair.vegalite.v{major}.schema.core")
    return jsonschema.Draft7Validator(core.load_schema())


_SAMPLE_ROWS: Final = 50


def _sample_data(spec: Spec) -> dict[str, Any]:
    """``spec`` with its inline data cut to a few rows: enough to check their shape, and a
    spec with a million rows is not validated a million times."""
    sampled = dict(spec)
    data = spec.get("data")
    if isinstance(data, Mapping) and isinstance(data.get("values"), list):
        sampled["data"] = {**data, "values": data["values"][:_SAMPLE_ROWS]}
    datasets = spec.get("datasets")
    if isinstance(datasets, Mapping):
        sampled["datasets"] = {
            name: rows[:_SAMPLE_ROWS] if isinstance(rows, list) else rows
            for name, rows in datasets.items()
        }
    return sampled


def _schema_complaint(spec: Spec) -> str | None:
    """The most specific thing the Vega-Lite schema says is wrong with ``spec``, if anything.

    Vega-Lite's own errors are often JavaScript internals ("Cannot read properties of
    undefined (reading 'filled')" for an unknown mark); the schema names the place and the
    allowed values instead. The deepest error wins: it is the one inside the branch of the
    schema's unions that the spec was evidently meant to match.
    """
    try:
        leaves = list(_leaf_errors(_schema_validator().iter_errors(_sample_data(spec))))
    except Exception:  # noqa: BLE001  # explaining must never hide the original error
        return None
    if not leaves:
        return None
    best = max(
        leaves,
        key=lambda e: (len(e.absolute_path), _PREFERRED_COMPLAINT.get(e.validator, 0)),
    )
    where = ".".join(str(part) for part in best.absolute_path) or "the spec"
    return f"{where}: {best.message}"


def _invalid_spec(spec: Spec, engine_message: str) -> InvalidSpec:
    engine = _engine_summary(engine_message)
    if engine_message.startswith(_NOT_JSON):
        detail = f"the spec is not plain JSON: {engine.split(': ', 1)[-1]}"
    else:
        complaint = _schema_complaint(spec)
        detail = f"{complaint} (Vega-Lite: {engine})" if complaint else engine
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 1] + "…"
    return InvalidSpec(f"Vega-Lite cannot render this spec: {detail}")


def _is_engine_panic(error: BaseException) -> bool:
    # pyo3 turns a Rust panic into PanicException, which derives from BaseException.
    return type(error).__name__ == "PanicException"


# --- synchronous conversions --------------------------------------------------------------


def render_svg(spec: Spec) -> str:
    """The spec as an SVG document (text stays text; fonts are named, not embedded)."""
    if not isinstance(spec, Mapping):
        raise InvalidSpec(f"a Vega-Lite spec is a JSON object, got {type(spec).__name__}")
    document = dict(spec)
    try:
        return vlc.vegalite_to_svg(
            document, vl_version=vegalite_version(document), allowed_base_urls=[]
        )
    except ValueError as error:
        raise _invalid_spec(document, str(error)) from error
    except Exception as error:
        raise RenderFailed(f"the chart engine failed: {error}") from error
    except BaseException as error:
        if not _is_engine_panic(error):
            raise
        raise RenderFailed(f"the chart engine crashed: {error}") from error


def render_png(spec: Spec, *, scale: float = 1.0) -> bytes:
    """The spec as a PNG, ``scale`` times its size in CSS pixels (0 < scale <= 4)."""
    check_scale(scale)
    return svg_to_png(render_svg(spec), scale=scale)


def render_pdf(spec: Spec) -> bytes:
    """The spec as a one-page PDF the size of the chart, text selectable, fonts embedded."""
    return svg_to_pdf(render_svg(spec))


def check_scale(scale: float) -> None:
    """Raise ``InvalidRenderOptions`` unless ``0 < scale <= MAX_SCALE``."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= MAX_SCALE:
        raise InvalidRenderOptions(f"scale must be above 0 and at most {MAX_SCALE}, got {scale!r}")


_SVG_ROOT = re.compile(r"<svg\b[^>]*>")
_LENGTH = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(px)?\s*$")


def _root_attribute(root: str, name: str) -> str | None:
    match = re.search(rf'\s{name}="([^"]*)"', root)
    return match.group(1) if match else None


def svg_size(svg: str) -> tuple[float, float]:
    """The width and height of an SVG document in CSS pixels (from its root element)."""
    root = _SVG_ROOT.search(svg)
    if root is None:
        raise RenderFailed("not an SVG document")
    width, height = (
        _root_attribute(root.group(0), "width"),
        _root_attribute(root.group(0), "height"),
    )
    if width and height and (w := _LENGTH.match(width)) and (h := _LENGTH.match(height)):
        return float(w.group(1)), float(h.group(1))
    view_box = _root_attribute(root.group(0), "viewBox")
    parts = view_box.replace(",", " ").split() if view_box else []
    if len(parts) == 4:  # noqa: PLR2004  # min-x min-y width height
        return float(parts[2]), float(parts[3])
    raise RenderFailed("the SVG document has no size")


def svg_to_png(svg: str, *, scale: float = 1.0) -> bytes:
    """An SVG document drawn to PNG; refused when it would exceed ``MAX_PIXELS``."""
    check_scale(scale)
    width, height = svg_size(svg)
    pixels = round(width * scale) * round(height * scale)
    if pixels > MAX_PIXELS:
        raise InvalidRenderOptions(
            f"the image would be {round(width * scale)} x {round(height * scale)} px, "
            f"more than the {MAX_PIXELS:,} pixels allowed; lower the scale or the chart size"
        )
    return _from_svg(lambda: vlc.svg_to_png(svg, scale=scale))


def svg_to_pdf(svg: str) -> bytes:
    """An SVG document as a one-page PDF, one CSS pixel to one point."""
    return _from_svg(lambda: vlc.svg_to_pdf(svg))


def _from_svg(convert: Callable[[], bytes]) -> bytes:
    try:
        return convert()
    except Exception as error:
        raise RenderFailed(f"converting the SVG failed: {error}") from error
    except BaseException as error:
        if not _is_engine_panic(error):
            raise
        raise RenderFailed(f"the SVG converter crashed: {error}") from error


_WARM_UP_SPEC: Final = {
    "data": {"values": [{"a": "x", "b": 1}]},
    "mark": "bar",
    "encoding": {
        "x": {"field": "a", "type": "nominal"},
        "y": {"field": "b", "type": "quantitative"},
    },
}


def warm_up() -> None:
    """Load the fonts and start the JavaScript engine (about a second), so that the first
    real request does not pay for it. Never raises: a failure here shows on the real call."""
    register_bundled_fonts()
    try:
        render_png(_WARM_UP_SPEC)
    except RenderError:
        log.exception("warming up the chart renderer failed")


def _start_worker(parent: int) -> None:
    """A render worker's start: it exits by itself once the process that started it is gone
    (killed, say, with no chance to stop its pool: an orphan would wait for work forever),
    then warms up."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
    warm_up()


#: How often a render worker checks that the process that started it is still there.
_PARENT_CHECK_SECONDS: Final = 1.0


# --- off the event loop -------------------------------------------------------------------

#: How long one conversion may run in a render worker before the worker is stopped (seconds).
DEFAULT_RENDER_TIMEOUT: Final = 60.0


class RenderTimedOut(RenderError):
    """A conversion ran longer than the render time limit and was stopped (its worker was
    killed and replaced). Almost always a chart with too much to draw."""

    default_code = "render_timeout"


def default_render_workers() -> int:
    """Render worker processes unless configured: min(2, cores)."""
    return min(2, os.cpu_count() or 1)


class _RenderPool:
    """The worker processes (pebble: a conversion that overruns its time limit, or whose
    caller gives up, is stopped by killing its worker, which is then replaced), created on
    first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: pebble.ProcessPool | None = None
        self.workers = default_render_workers()
        self.timeout: float | None = DEFAULT_RENDER_TIMEOUT

    def pool(self) -> pebble.ProcessPool | None:
        """The process pool, or ``None`` when conversions run in threads (workers = 0)."""
        with self._lock:
            if self.workers == 0:
                return None
            if self._pool is None or not self._pool.active:
                self._pool = pebble.ProcessPool(
                    max_workers=self.workers,
                    initializer=_start_worker,
                    initargs=(os.getpid(),),
                    # vl-convert starts threads of its own: forking them is unsafe, spawning is not.
                    context=multiprocessing.get_context("spawn"),
                )
            return self._pool

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()  # type: ignore[no-untyped-call]  # running conversions are abandoned
            pool.join()


_pool = _RenderPool()


def configure_render_workers(
    workers: int, *, timeout: float | None = DEFAULT_RENDER_TIMEOUT
) -> None:
    """How many worker processes render off the event loop (0 renders in threads instead),
    and how long one conversion may take in a worker (``None``: no limit; threads have none).

    The default is min(2, cores). Each worker holds its own JavaScript engine (~100 MB).
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a whole number >= 0, got {workers!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
    ):
        raise ValueError(f"timeout must be a number of seconds above 0, got {timeout!r}")
    if (workers, timeout) == (_pool.workers, _pool.timeout):
        return  # as it is: workers already started keep running
    _pool.shutdown()
    _pool.workers = workers
    _pool.timeout = timeout


def shutdown_render_workers() -> None:
    """Stop the worker processes (at application shutdown; they restart on next use)."""
    _pool.shutdown()


async def run_off_loop(function: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``function(*args, **kwargs)`` in a render worker; its arguments and result are pickled.

    A call that runs longer than the time limit raises ``RenderTimedOut``; one whose worker
    dies (a crash, the OOM killer) raises ``RenderFailed``. Either way the worker is replaced
    and the next call works. Cancelling the call (a client that went away) stops its worker.
    """
    pool = _pool.pool()
    if pool is None:
        return await asyncio.to_thread(functools.partial(function, *args, **kwargs))
    limit = _pool.timeout
    future = pool.schedule(function, args=args, kwargs=kwargs, timeout=limit)
    try:
        result: _T = await asyncio.wrap_future(future)
    except TimeoutError as error:
        if error.args[:1] != ("Task timeout",):
            raise  # the function's own
        raise RenderTimedOut(
            f"drawing took longer than {limit:g} s and was stopped; show less (a filter, "
            "a Top N, a coarser date grain) or a simpler visual"
        ) from error
    except pebble.ProcessExpired as error:
        raise RenderFailed("a render worker died while rendering; try again") from error
    return result


async def render_svg_async(spec: Spec) -> str:
    """``render_svg`` in a render worker."""
    return await run_off_loop(render_svg, _plain(spec))


async def render_png_async(spec: Spec, *, scale: float = 1.0) -> bytes:
    """``render_png`` in a render worker."""
    check_scale(scale)
    return await run_off_loop(render_png, _plain(spec), scale=scale)


async def render_pdf_async(spec: Spec) -> bytes:
    """``render_pdf`` in a render worker."""
    return await run_off_loop(render_pdf, _plain(spec))


def _plain(spec: Spec) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise InvalidSpec(f"a Vega-Lite spec is a JSON object, got {type(spec).__name__}")
    return dict(spec)


register_bundled_fonts()
