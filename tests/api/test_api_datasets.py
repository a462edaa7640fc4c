"""Datasets through the API: upload a CSV, shape it, define a measure, query it."""

from __future__ import annotations

import asyncio
import collections
import csv
import io
import socket
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pyarrow as pa
import redis.asyncio as aioredis
from vega_datasets import local_data

from connectors.query_cache import QueryCache
from tests.apiclient import assert_problem, create_workspace

WEATHER = Path(local_data.seattle_weather.filepath)


def _weather_rows() -> list[dict[str, str]]:
    with WEATHER.open(newline="") as file:
        return list(csv.DictReader(file))


async def upload(
    client: httpx.AsyncClient,
    workspace_id: str,
    content: bytes,
    *,
    name: str | None = "Seattle weather",
    filename: str = "data.csv",
) -> httpx.Response:
    form = {"name": name} if name is not None else {}
    return await client.post(
        f"/workspaces/{workspace_id}/datasets",
        files={"file": (filename, content, "text/csv")},
        data=form,
    )


async def weather_dataset(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    workspace = await create_workspace(client)
    response = await upload(client, workspace["id"], WEATHER.read_bytes())
    assert response.status_code == 201, response.text
    return workspace["id"], response.json()


async def query(client: httpx.AsyncClient, dataset_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/datasets/{dataset_id}/query", json=spec)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_an_uploaded_csv_becomes_a_dataset_with_typed_fields(loupe):
    async with loupe.client() as client:
        workspace_id, dataset = await weather_dataset(client)
        listed = (await client.get(f"/workspaces/{workspace_id}/datasets")).json()
        fetched = (await client.get(f"/datasets/{dataset['id']}")).json()
    assert dataset["rows"] == len(_weather_rows()) == 1461
    types = {f["name"]: (f["type"], f["role"]) for f in dataset["fields"]}
    assert types == {
        "date": ("date", "dimension"),
        "precipitation": ("decimal", "measure"),
        "temp_max": ("decimal", "measure"),
        "temp_min": ("decimal", "measure"),
        "wind": ("decimal", "measure"),
        "weather": ("text", "dimension"),
    }
    assert [d["id"] for d in listed["datasets"]] == [dataset["id"]]
    assert fetched == dataset


async def test_a_small_aggregate_answers_and_is_then_served_from_the_cache(loupe):
    expected = collections.Counter(row["weather"] for row in _weather_rows())
    spec = {
        "dimensions": ["weather"],
        "measures": [{"field": "date", "agg": "count", "as": "days"}],
        "sort": [{"by": "weather", "desc": False}],
    }
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        first = await query(client, dataset["id"], spec)
        second = await query(client, dataset["id"], spec)
    assert first["cached"] is False
    assert second["cached"] is True
    assert first["rows"] == second["rows"] == [[w, expected[w]] for w in sorted(expected)]
    assert [c["name"] for c in first["columns"]] == ["weather", "days"]


async def test_arrow_answers_carry_the_same_rows(loupe):
    spec = {"dimensions": ["weather"], "measures": [{"field": "precipitation", "agg": "sum"}]}
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        as_json = await query(client, dataset["id"], spec)
        response = await client.post(
            f"/datasets/{dataset['id']}/query",
            json=spec,
            headers={"Accept": "application/vnd.apache.arrow.stream"},
        )
    assert response.headers["content-type"].startswith("application/vnd.apache.arrow.stream")
    table = pa.ipc.open_stream(response.content).read_all()
    assert [list(row.values()) for row in table.to_pylist()] == as_json["rows"]


async def test_a_defined_measure_answers_per_group(loupe):
    rows = _weather_rows()
    by_weather: dict[str, list[float]] = collections.defaultdict(list)
    for row in rows:
        by_weather[row["weather"]].append(float(row["temp_max"]))
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        response = await client.post(
            f"/datasets/{dataset['id']}/measures",
            json={"name": "Warmest", "expression": "MAX([temp_max])"},
        )
        assert response.status_code == 201, response.text
        assert [m["name"] for m in response.json()["measures"]] == ["Warmest"]
        answer = await query(
            client, dataset["id"], {"dimensions": ["weather"], "measures": [{"measure": "Warmest"}]}
        )
    assert {row[0]: row[1] for row in answer["rows"]} == {
        weather: max(values) for weather, values in by_weather.items()
    }


async def test_a_measure_with_a_syntax_error_is_refused_with_its_position(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        response = await client.post(
            f"/datasets/{dataset['id']}/measures",
            json={"name": "Broken", "expression": "SUM([temp_max]"},
        )
        body = assert_problem(response, 400)
        after = (await client.get(f"/datasets/{dataset['id']}")).json()
    assert "line 1" in body["detail"]
    assert after["measures"] == []
    assert after["version"] == dataset["version"]


async def test_a_renamed_field_is_queried_by_its_new_name_and_answers_to_its_old_one(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        response = await client.patch(
            f"/datasets/{dataset['id']}/fields/weather", json={"name": "Sky"}
        )
        assert response.status_code == 200, response.text
        answer = await query(
            client,
            dataset["id"],
            {"dimensions": ["Sky"], "measures": [{"field": "wind", "agg": "max"}]},
        )
        old = await query(client, dataset["id"], {"dimensions": ["weather"], "measures": []})
        # Once another field takes the old name, the old name means that field.
        taken = await client.patch(
            f"/datasets/{dataset['id']}/fields/date", json={"name": "weather"}
        )
        assert taken.status_code == 200, taken.text
        now = await query(client, dataset["id"], {"dimensions": ["weather"], "measures": []})
    assert answer["columns"][0]["name"] == "Sky"
    assert len(answer["rows"]) == 5
    assert [c["name"] for c in old["columns"]] == ["Sky"]
    assert sorted(row[0] for row in old["rows"]) == sorted(row[0] for row in answer["rows"])
    assert now["columns"] == [{"name": "weather", "type": "date"}]
    assert len(now["rows"]) == 1461


async def test_a_reupload_is_a_new_data_version_and_old_answers_are_never_served(loupe):
    spec = {"dimensions": [], "measures": [{"field": "date", "agg": "count"}]}
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        before = await query(client, dataset["id"], spec)
        await query(client, dataset["id"], spec)  # now cached
        text = WEATHER.read_text()
        fewer = "".join(io.StringIO(text).readlines()[:11])  # the header and 10 days
        response = await client.put(
            f"/datasets/{dataset['id']}/data", files={"file": ("w.csv", fewer.encode(), "text/csv")}
        )
        assert response.status_code == 200, response.text
        after = await query(client, dataset["id"], spec)
    assert before["rows"] == [[1461]]
    assert response.json()["data_version"] > dataset["data_version"]
    assert after == {"cached": False, "columns": before["columns"], "rows": [[10]]}


async def test_a_ragged_csv_is_refused_naming_the_line_and_nothing_is_stored(loupe):
    content = b"a,b,c\n1,2,3\n4,5\n"
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        response = await upload(client, workspace["id"], content)
        body = assert_problem(response, 422)
        listed = (await client.get(f"/workspaces/{workspace['id']}/datasets")).json()
    assert "line 3" in body["detail"]
    assert listed["datasets"] == []
    blobs = loupe.services.settings.data_dir / "blobs"
    assert not any(path.is_file() for path in blobs.rglob("*")) if blobs.exists() else True


async def test_empty_and_binary_files_are_refused(loupe):
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        empty = await upload(client, workspace["id"], b"")
        binary = await upload(client, workspace["id"], bytes(range(256)) * 40)
    assert "empty" in assert_problem(empty, 422)["detail"]
    assert_problem(binary, 422)


async def test_injection_through_a_field_name_is_a_clear_400(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        response = await client.post(
            f"/datasets/{dataset['id']}/query",
            json={"dimensions": ['weather"; DROP TABLE x; --'], "measures": []},
        )
    body = assert_problem(response, 400)
    assert "weather" in body["detail"]


async def test_an_unknown_dataset_is_a_404(loupe):
    async with loupe.client() as client:
        response = await client.get("/datasets/00000000-0000-0000-0000-000000000000")
    assert_problem(response, 404, code="dataset_not_found")


async def test_a_non_member_cannot_see_or_query_a_dataset(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
    async with loupe.client(user="eve@example.com") as eve:
        seen = await eve.get(f"/datasets/{dataset['id']}")
        queried = await eve.post(
            f"/datasets/{dataset['id']}/query", json={"dimensions": ["weather"]}
        )
    assert_problem(seen, 404)
    assert_problem(queried, 404)


async def test_the_installed_connectors_are_listed_with_their_config_schemas(loupe):
    async with loupe.client() as client:
        connectors = (await client.get("/connectors")).json()["connectors"]
    by_name = {c["name"]: c for c in connectors}
    assert {"csv", "postgres"} <= set(by_name)
    assert by_name["postgres"]["dialect"] == "postgres"
    assert "password" in by_name["postgres"]["secret_fields"]


async def test_without_redis_queries_answer_uncached_and_health_says_degraded(loupe):
    spec = {"dimensions": ["weather"], "measures": [{"field": "wind", "agg": "avg"}]}
    services = loupe.services
    engine = services.data.engine
    with socket.socket() as sock:  # a port nobody answers on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    dead = aioredis.Redis(host="127.0.0.1", port=dead_port, socket_connect_timeout=0.2)
    cache, redis = engine.cache, services.redis
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        healthy = await query(client, dataset["id"], spec)
        engine.cache, services.redis = QueryCache(dead, services.settings.redis_prefix), dead
        try:
            first = await query(client, dataset["id"], spec)
            second = await query(client, dataset["id"], spec)
            health = await client.get("/health")
        finally:
            engine.cache, services.redis = cache, redis
            await dead.aclose()
        recovered = await query(client, dataset["id"], spec)
    assert first["rows"] == second["rows"] == healthy["rows"]
    assert first["cached"] is second["cached"] is False
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "degraded"
    assert body["components"]["redis"].startswith("degraded (queries answer uncached)")
    assert body["components"]["postgres"] == "ok"
    assert recovered["cached"] is True


async def test_the_audit_log_tells_a_datasets_story(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        defined = await client.post(
            f"/datasets/{dataset['id']}/measures",
            json={"name": "Windiest", "expression": "MAX([wind])"},
        )
        position = defined.json()["position"]
        audit = await client.get(
            "/audit", params={"object": dataset["id"], "min_position": position}
        )
    summaries = [entry["summary"] for entry in audit.json()["entries"]]
    assert summaries == [
        "ana@example.com uploaded the dataset 'Seattle weather'",
        (
            "ana@example.com read 6 columns of 'Seattle weather' (1,461 rows): 'date', "
            "'precipitation', 'temp_max', 'temp_min', 'wind' and 1 more"
        ),
        "ana@example.com stored the data of 'Seattle weather' (1,461 rows)",
        "ana@example.com defined the measure 'Windiest' on 'Seattle weather': MAX([wind])",
    ]


async def test_the_preview_pages_through_rows_with_a_total(loupe):
    rows = _weather_rows()
    rainy = sorted(
        (r["date"].replace("/", "-"), float(r["precipitation"]))
        for r in rows
        if r["weather"] == "rain"
    )
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        pages = []
        for offset in (0, 50):
            response = await client.post(
                f"/datasets/{dataset['id']}/rows",
                json={
                    "columns": ["date", "precipitation"],
                    "filters": [{"field": "weather", "op": "in", "values": ["rain"]}],
                    "sort": [{"by": "date"}],
                    "offset": offset,
                    "limit": 50,
                },
            )
            assert response.status_code == 200, response.text
            pages.append(response.json())
        too_big = await client.post(f"/datasets/{dataset['id']}/rows", json={"limit": 10_001})
    assert [p["total"] for p in pages] == [len(rainy), len(rainy)]
    assert [c["name"] for c in pages[0]["columns"]] == ["date", "precipitation"]
    got = [tuple(r) for p in pages for r in p["rows"]]
    assert got == rainy[:100]
    assert (pages[1]["offset"], pages[1]["limit"]) == (50, 50)
    assert_problem(too_big, 400)


async def test_an_upload_over_the_limit_is_refused_whole(loupe):
    services = loupe.services
    limit = 10_000
    data = services.data
    data.settings = msgspec.structs.replace(data.settings, upload_max_bytes=limit)
    big = b"a,b\n" + b"1,2\n" * 5000
    async with loupe.client() as client:
        workspace = await create_workspace(client)
        response = await upload(client, workspace["id"], big)
        listed = (await client.get(f"/workspaces/{workspace['id']}/datasets")).json()
    body = assert_problem(response, 413)
    assert "limit" in body["detail"]
    assert listed["datasets"] == []
    assert not any(path.is_file() for path in data.work_dir.rglob("*"))


async def test_injection_through_values_and_measures_stays_data(loupe):
    hostile = "rain'); DROP TABLE events; --"
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        by_value = await query(
            client,
            dataset["id"],
            {
                "dimensions": ["weather"],
                "measures": [{"field": "wind", "agg": "count"}],
                "filters": [{"field": "weather", "op": "in", "values": [hostile]}],
            },
        )
        in_measure = await client.post(
            f"/datasets/{dataset['id']}/measures",
            json={"name": "Evil", "expression": "SUM([wind]); DROP TABLE events; --"},
        )
        quoted = await client.post(
            f"/datasets/{dataset['id']}/measures",
            json={
                "name": "Quoted",
                "expression": f'CALCULATE(COUNTROWS(), [weather] = "{hostile}")',
            },
        )
        answer = await query(client, dataset["id"], {"measures": [{"measure": "Quoted"}]})
        still = await query(
            client, dataset["id"], {"measures": [{"field": "date", "agg": "count"}]}
        )
    assert by_value["rows"] == []
    assert_problem(in_measure, 400)
    assert quoted.status_code == 201, quoted.text
    assert answer["rows"] == [[None]]  # DAX: a count of nothing is blank
    assert still["rows"] == [[1461]]


async def test_a_retyped_field_is_cast_in_queries(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        response = await client.patch(
            f"/datasets/{dataset['id']}/fields/wind", json={"type": "integer", "role": "dimension"}
        )
        assert response.status_code == 200, response.text
        field = next(f for f in response.json()["fields"] if f["name"] == "wind")
        answer = await query(client, dataset["id"], {"measures": [{"field": "wind", "agg": "max"}]})
    assert (field["type"], field["source_type"], field["role"]) == (
        "integer",
        "decimal",
        "dimension",
    )
    assert answer["columns"] == [{"name": "wind (max)", "type": "integer"}]
    assert answer["rows"] == [[round(max(float(r["wind"]) for r in _weather_rows()))]]


async def test_replaced_and_deleted_data_is_removed_once_queries_are_done_with_it(loupe):
    data = loupe.services.data
    data.retire_after = 0
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        first = data.blobs.cache_path(dataset["config"]["blob"])
        assert first.is_file()
        again = await client.put(
            f"/datasets/{dataset['id']}/data",
            files={"file": ("w.csv", WEATHER.read_bytes(), "text/csv")},
        )
        assert again.status_code == 200, again.text
        await asyncio.gather(*data.retiring)
        current = await client.get(f"/datasets/{dataset['id']}")
        answer = await query(
            client, dataset["id"], {"measures": [{"field": "date", "agg": "count"}]}
        )
        deleted = await client.delete(f"/datasets/{dataset['id']}")
        await asyncio.gather(*data.retiring)
    assert not first.exists()
    assert answer["rows"] == [[1461]]
    assert deleted.status_code == 204
    assert not any(
        path.is_file() for path in (data.blobs.local_directory or first.parent).rglob("*")
    )
    assert current.status_code == 200


async def test_answers_differing_only_in_column_names_are_not_mixed_up(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        plain = await query(client, dataset["id"], {"measures": [{"field": "wind", "agg": "max"}]})
        named = await query(
            client, dataset["id"], {"measures": [{"field": "wind", "agg": "max", "as": "Gust"}]}
        )
    assert plain["columns"] == [{"name": "wind (max)", "type": "decimal"}]
    assert named["columns"] == [{"name": "Gust", "type": "decimal"}]
    assert named["rows"] == plain["rows"]


async def test_renaming_rewrites_the_expressions_that_refer_to_it_in_one_change(loupe):
    async with loupe.client() as client:
        _, dataset = await weather_dataset(client)
        base = f"/datasets/{dataset['id']}"
        for path, body in (
            ("measures", {"name": "Windiest", "expression": "MAX([wind]) // [wind] in knots"}),
            (
                "measures",
                {"name": "Gusty", "expression": 'CALCULATE([Windiest], [weather] = "[wind]")'},
            ),
            ("calculated-columns", {"name": "Breeze", "expression": "[wind] / 2"}),
        ):
            response = await client.post(f"{base}/{path}", json=body)
            assert response.status_code == 201, response.text
        renamed = await client.patch(f"{base}/fields/wind", json={"name": "Wind speed"})
        assert renamed.status_code == 200, renamed.text
        moved = await client.put(
            f"{base}/measures/Windiest",
            json={"name": "Peak wind", "expression": "MAX([Wind speed]) // [wind] in knots"},
        )
        assert moved.status_code == 200, moved.text
        answer = await query(client, dataset["id"], {"measures": [{"measure": "Gusty"}]})
        audit = await client.get(
            "/audit", params={"object": dataset["id"], "min_position": moved.json()["position"]}
        )
    after = moved.json()
    expressions = {m["name"]: m["expression"] for m in after["measures"]}
    expressions |= {c["name"]: c["expression"] for c in after["calculated_columns"]}
    assert expressions == {
        # Comments and strings keep their words; references follow the renames.
        "Peak wind": "MAX([Wind speed]) // [wind] in knots",
        "Gusty": 'CALCULATE([Peak wind], [weather] = "[wind]")',
        "Breeze": "[Wind speed] / 2",
    }
    assert after["version"] == dataset["version"] + 3 + 3 + 2  # each rename and its rewrites
    assert answer["columns"] == [{"name": "Gusty", "type": "decimal"}]
    summaries = [entry["summary"] for entry in audit.json()["entries"]][-5:]
    on = "ana@example.com changed the"
    dataset_name = "on 'Seattle weather'"
    assert summaries == [
        "ana@example.com renamed the field 'wind' of 'Seattle weather' to 'Wind speed'",
        f"{on} measure 'Windiest' {dataset_name}: MAX([Wind speed]) // [wind] in knots",
        f"{on} calculated column 'Breeze' {dataset_name}: [Wind speed] / 2",
        (
            f"{on} measure 'Windiest' {dataset_name} and renamed it to 'Peak wind': "
            "MAX([Wind speed]) // [wind] in knots"
        ),
        f"""{on} measure 'Gusty' {dataset_name}: CALCULATE([Peak wind], [weather] = "[wind]")""",
    ]
