"""Charts and exports, each figure beside its baseline measured in the same run.

* compile: every visual vector (tests/vectors/visuals: every visual type, real answers) through
  ``compile_visual`` — the spec from the visual and its answer, the query excluded (target p50
  < 5 ms). Baseline: altair building a plain bar chart of the same size (``Chart.to_dict``),
  the obvious way to write a chart compiler in Python.
* png: a column chart of 50 bars drawn as PNG through the API (``GET
  /reports/{id}/visuals/{v}.png``: the answer from the cache, the spec compiled, drawn in a
  render worker, sent over HTTP) against calling vl-convert directly on the same spec in this
  process (target ≤ 1.2×).
* page: a page of 6 visuals (column, line, pie, scatter, table, card over Seattle weather) to
  PDF through the API, warm (target < 1.5 s). Baseline: vl-convert directly, each visual's
  spec to SVG one after the other and the page SVG to PDF.

Starts ``loupe serve`` on this machine's PostgreSQL, NATS and Redis (its own schema, stream
and key prefix; removed at the end).

    .venv/bin/python bench/charts.py [--only compile png page] [--runs 30]
"""

# ruff: noqa: E402, RUF001, RUF002, RUF003 - E402: the import path is set first. RUF00x: × and ≤ meant.

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import Any

import altair as alt
import httpx
import vl_convert as vlc

from api.settings import Settings
from bench._common import add_engine_arguments
from bench.data import USER, Row, Server, clean_run, render
from charts.compile import compile_visual
from charts.page import Paper
from charts.render import vegalite_version
from tests.api.charts_support import weather_report
from tests.vectors.visuals.run import plan_of

VECTORS = ROOT / "tests" / "vectors" / "visuals"
COMPILE_TARGET_MS = 5.0
PNG_TARGET = 1.2
PAGE_TARGET_MS = 1500.0


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def bench_compile(args: argparse.Namespace) -> list[Row]:
    vectors = [json.loads(path.read_text()) for path in sorted(VECTORS.glob("*.json"))]
    cases = []
    for vector in vectors:
        plan = plan_of(vector)
        totals = [t["result"] for t in vector.get("totals", [])]
        cases.append((vector, plan, vector["size"], totals))
    row = Row(
        "compile: visual → Vega-Lite spec, every vector (query excluded)",
        baseline="altair: a bar chart, Chart.to_dict()",
        target=f"p50 < {COMPILE_TARGET_MS:.0f} ms",
        check=lambda p50, _ratio: p50 < COMPILE_TARGET_MS,
    )
    bars = [{"category": f"c{i}", "value": i} for i in range(50)]
    for _ in range(args.runs):
        for vector, plan, size, totals in cases:
            started = time.perf_counter()
            compile_visual(
                vector["visual"],
                vector.get("result"),
                plan=plan,
                theme=vector.get("theme"),
                width=size["width"],
                height=size["height"],
                totals=totals,
            )
            row.loupe_ms.append(_ms(started))
        started = time.perf_counter()
        alt.Chart(alt.Data(values=bars)).mark_bar().encode(x="category:N", y="value:Q").properties(
            width=400, height=300
        ).to_dict()
        row.baseline_ms.append(_ms(started))
    print(f"  compile: {len(cases)} vectors × {args.runs}", flush=True)
    return [row]


async def _fifty_bars(http: httpx.AsyncClient, workspace: str, work: Path) -> tuple[str, str]:
    csv = work / "products.csv"
    lines = ["product,amount"] + [f"Product {i:02d},{(i * 7919) % 1000 + i}" for i in range(50)]
    csv.write_text("\n".join(lines) + "\n")
    upload = await http.post(
        f"/workspaces/{workspace}/datasets",
        files={"file": ("products.csv", csv.read_bytes(), "text/csv")},
        data={"name": "Products"},
    )
    dataset = upload.json()["id"]
    report = (
        await http.post(
            f"/workspaces/{workspace}/reports", json={"name": "Bars", "dataset_id": dataset}
        )
    ).json()["id"]
    page, visual = str(uuid.uuid4()), str(uuid.uuid4())
    answer = await http.post(
        f"/reports/{report}/commands",
        json={
            "command_id": str(uuid.uuid4()),
            "client_id": "bench",
            "commands": [
                {"type": "AddPage", "page_id": page, "name": "Bars"},
                {
                    "type": "AddVisual",
                    "visual_id": visual,
                    "page_id": page,
                    "visual_type": "column",
                    "x": 0,
                    "y": 0,
                    "w": 16,
                    "h": 20,
                },
                {"type": "BindField", "visual_id": visual, "well": "x", "field": "product"},
                {
                    "type": "BindField",
                    "visual_id": visual,
                    "well": "y",
                    "field": "amount",
                    "aggregation": "sum",
                },
            ],
        },
    )
    await http.get(f"/reports/{report}", params={"min_position": answer.json()["position"]})
    return report, visual


async def bench_png(
    http: httpx.AsyncClient, workspace: str, work: Path, args: argparse.Namespace
) -> list[Row]:
    report, visual = await _fifty_bars(http, workspace, work)
    spec = (await http.get(f"/reports/{report}/visuals/{visual}/spec")).json()
    bars = sum(len(layer.get("data", {}).get("values", [])) for layer in [spec])
    version = vegalite_version(spec)
    row = Row(
        "png: a 50-bar column chart through the API",
        baseline="vl-convert vegalite_to_png, same spec, in process",
        target=f"≤ {PNG_TARGET}×",
        check=lambda _p50, ratio: ratio is not None and ratio <= PNG_TARGET,
    )
    for _ in range(3):  # warm: render workers started, answer cached
        await http.get(f"/reports/{report}/visuals/{visual}.png")
        vlc.vegalite_to_png(spec, vl_version=version)
    for _ in range(args.runs):
        started = time.perf_counter()
        response = await http.get(f"/reports/{report}/visuals/{visual}.png")
        row.loupe_ms.append(_ms(started))
        assert response.status_code == 200, response.text
        started = time.perf_counter()
        vlc.vegalite_to_png(spec, vl_version=version)
        row.baseline_ms.append(_ms(started))
    print(f"  png: {bars} bars × {args.runs}", flush=True)
    return [row]


async def bench_page(http: httpx.AsyncClient, args: argparse.Namespace) -> list[Row]:
    report = await weather_report(http)
    url = f"/reports/{report.report_id}/pages/{report.page_id}.pdf"
    specs = [
        (await http.get(f"/reports/{report.report_id}/visuals/{v}/spec")).json()
        for v in report.visuals.values()
    ]
    paper = Paper()
    row = Row(
        "page: 6 visuals to PDF through the API, warm",
        baseline="vl-convert: 6 specs to SVG + a page SVG to PDF, in process",
        target=f"< {PAGE_TARGET_MS / 1000:.1f} s",
        check=lambda p50, _ratio: p50 < PAGE_TARGET_MS,
    )

    def direct() -> None:
        svgs = [vlc.vegalite_to_svg(spec, vl_version=vegalite_version(spec)) for spec in specs]
        width, height = paper.points
        page = (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
            + "".join(svg.replace("<svg", "<svg x='0' y='0'", 1) for svg in svgs)
            + "</svg>"
        )
        vlc.svg_to_pdf(page)

    for _ in range(2):
        await http.get(url)
        direct()
    for _ in range(max(5, args.runs // 3)):
        started = time.perf_counter()
        response = await http.get(url)
        row.loupe_ms.append(_ms(started))
        assert response.status_code == 200, response.text
        started = time.perf_counter()
        direct()
        row.baseline_ms.append(_ms(started))
    print(f"  page: {len(row.loupe_ms)} runs", flush=True)
    return [row]


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    only = set(args.only or ["compile", "png", "page"])
    rows: list[Row] = []
    if "compile" in only:
        rows += bench_compile(args)
    if only & {"png", "page"}:
        token = secrets.token_hex(4)
        settings = Settings(
            database_url=args.database_url,
            nats_url=args.nats_url,
            redis_url=args.redis_url,
            database_schema=f"bench_{token}_charts",
            nats_stream=f"BENCH_{token}_CHARTS",
            nats_subject_prefix=f"bench_{token}_charts",
            redis_prefix=f"bench:{token}:",
            dev_auth=True,
        )
        work = Path(tempfile.mkdtemp(prefix="bench-charts-"))
        server = Server(settings, work)
        try:
            await server.start()
            async with httpx.AsyncClient(base_url=server.url, headers=USER, timeout=120) as http:
                workspace = (await http.post("/workspaces", json={"name": "Bench"})).json()["id"]
                if "png" in only:
                    rows += await bench_png(http, workspace, work, args)
                if "page" in only:
                    rows += await bench_page(http, args)
        finally:
            server.stop()
            await clean_run(settings)
            shutil.rmtree(work, ignore_errors=True)
    return [row.summary() for row in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_engine_arguments(parser)
    parser.add_argument("--only", nargs="*", choices=["compile", "png", "page"])
    parser.add_argument("--runs", type=int, default=30, help="samples per scenario (default 30)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print(
        f"bench/charts.py on {platform.node()} ({os.cpu_count()} CPUs),"
        f" {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    rows = asyncio.run(run(args))
    print(render(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
