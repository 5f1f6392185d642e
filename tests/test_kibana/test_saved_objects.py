"""The NDJSON in kibana_saved_objects/: parses, ids unique, references resolve, fields exist.

Format facts checked here (Kibana 8.x/9.x export format):
- Lens keeps one data-view reference per layer named
  `indexpattern-datasource-layer-<layerId>` and its columns under
  `state.datasourceStates.formBased.layers` (Kibana sample data,
  src/platform/plugins/shared/home/server/services/sample_data/data_sets/ecommerce/saved_objects.ts).
- A dashboard panel saved by reference has `panelRefName: "panel_<panelIndex>"`
  and the dashboard a reference named `<panelIndex>:panel_<panelIndex>` (same file).
- Dashboard attributes are limited to the keys of its saved-object schema
  (dashboard_saved_object/schema/v1/v1.ts, `unknowns: 'forbid'`); Lens attributes
  to title/description/visualizationType/state (lens content_management v1 schema).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import es_mappings
from es_mappings import DEFAULT_PREFIX, alias_name
from pipeline.kibana import dumps_object, read_objects

FOLDER = Path(__file__).resolve().parents[2] / "kibana_saved_objects"
DASHBOARD_TITLE = "movierec — MovieLens overview"

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
AGGREGATABLE = NUMERIC | {"keyword", "date", "date_nanos", "boolean"}
LENS_DATA_TYPE = {"number": NUMERIC, "string": {"keyword"}, "date": {"date", "date_nanos"}, "boolean": {"boolean"}}

# typeMigrationVersion per type: at or below what Kibana 9.5 knows (a higher one is refused on
# import); Kibana migrates lower ones forward. index-pattern: last legacy migration 8.0.0;
# lens: 8.9.0 (before its model versions); dashboard: model version 2 -> "10.2.0".
TYPE_MIGRATION_VERSION = {"index-pattern": "8.0.0", "lens": "8.9.0", "dashboard": "10.2.0"}
DASHBOARD_ATTRIBUTES = {
    "title", "description", "kibanaSavedObjectMeta", "timeRestore", "timeFrom", "timeTo", "refreshInterval",
    "controlGroupInput", "panelsJSON", "optionsJSON", "hits", "version",
}
LENS_ATTRIBUTES = {"title", "description", "visualizationType", "state", "version"}
REQUIRED_VISUALIZATIONS = {
    "movierec-rating-distribution",
    "movierec-ratings-over-time",
    "movierec-genres-by-count",
    "movierec-genres-by-mean-rating",
    "movierec-top-movies-bayes",
    "movierec-user-activity",
    "movierec-most-active-users",
    "movierec-run-metrics",
}


def _raw_lines() -> list[tuple[Path, int, str]]:
    return [
        (path, number, line)
        for path in sorted(FOLDER.glob("*.ndjson"))
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
    ]


OBJECTS = read_objects(FOLDER)
BY_KEY = {(o["type"], o["id"]): o for o in OBJECTS}
DATA_VIEWS = {o["id"]: o for o in OBJECTS if o["type"] == "index-pattern"}
LENSES = [o for o in OBJECTS if o["type"] == "lens"]
DASHBOARDS = [o for o in OBJECTS if o["type"] == "dashboard"]
KIND_OF_TITLE = {alias_name(DEFAULT_PREFIX, kind): kind for kind in es_mappings.KINDS}


def field_spec(kind: str, path: str) -> dict[str, Any] | None:
    """The mapping of a dotted field path (object properties and multi-fields), or None."""
    props = es_mappings.properties(kind)
    head, *rest = path.split(".")
    spec = props.get(head)
    for part in rest:
        if spec is None:
            return None
        spec = (spec.get("properties") or {}).get(part) or (spec.get("fields") or {}).get(part)
    return spec


def data_view_kind(data_view_id: str) -> str:
    return KIND_OF_TITLE[DATA_VIEWS[data_view_id]["attributes"]["title"]]


def lens_layers(lens: dict) -> dict[str, dict]:
    return lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]


def layer_kind(lens: dict, layer_id: str) -> str:
    name = f"indexpattern-datasource-layer-{layer_id}"
    refs = [r for r in lens["references"] if r["name"] == name]
    assert len(refs) == 1, f"{lens['id']}: one reference {name!r} expected, found {len(refs)}"
    assert refs[0]["type"] == "index-pattern"
    return data_view_kind(refs[0]["id"])


# ------------------------------------------------------------------ file format


def test_every_line_is_one_json_object_in_canonical_form():
    lines = _raw_lines()
    assert {p.name for p, _, _ in lines} == {"index-pattern.ndjson", "lens.ndjson", "dashboard.ndjson"}
    for path, number, line in lines:
        obj = json.loads(line)
        assert isinstance(obj, dict), f"{path.name}:{number}"
        # canonical form = what `scripts/kibana_objects.py export` writes, so re-exports diff cleanly
        assert line == dumps_object(obj), f"{path.name}:{number} is not in canonical form"


def test_each_file_holds_one_type_sorted_by_id():
    for path in sorted(FOLDER.glob("*.ndjson")):
        objs = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        assert {o["type"] for o in objs} == {path.stem}
        assert [o["id"] for o in objs] == sorted(o["id"] for o in objs)


def test_ids_are_unique():
    ids = [o["id"] for _, _, line in _raw_lines() for o in [json.loads(line)]]
    assert len(ids) == len(set(ids)) == 14


def test_saved_object_envelope():
    for obj in OBJECTS:
        assert obj["coreMigrationVersion"] == "8.8.0", obj["id"]
        assert obj["typeMigrationVersion"] == TYPE_MIGRATION_VERSION[obj["type"]], obj["id"]
        assert obj["managed"] is False
        assert isinstance(obj["references"], list)
        assert not {"created_at", "updated_at", "version", "namespaces"} & obj.keys(), obj["id"]


def test_every_reference_resolves_within_the_folder():
    for obj in OBJECTS:
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), f"{obj['id']}: duplicate reference names"
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in BY_KEY, f"{obj['type']} {obj['id']} -> {ref}"


# ------------------------------------------------------------------ data views


def test_data_views_cover_the_four_aliases_with_their_time_fields():
    titles = {o["attributes"]["title"]: o for o in DATA_VIEWS.values()}
    assert set(titles) == {"movierec-movies", "movierec-users", "movierec-ratings", "movierec-runs"}
    assert titles["movierec-ratings"]["attributes"]["timeFieldName"] == "rated_at"
    assert titles["movierec-runs"]["attributes"]["timeFieldName"] == "started_at"
    assert "timeFieldName" not in titles["movierec-movies"]["attributes"]
    assert "timeFieldName" not in titles["movierec-users"]["attributes"]


def test_data_view_fields_exist_in_the_mappings():
    for dv in DATA_VIEWS.values():
        kind = data_view_kind(dv["id"])
        attrs = dv["attributes"]
        if "timeFieldName" in attrs:
            spec = field_spec(kind, attrs["timeFieldName"])
            assert spec is not None and spec["type"] == "date", (dv["id"], attrs["timeFieldName"])
        named = list(json.loads(attrs["fieldFormatMap"])) + list(json.loads(attrs["fieldAttrs"]))
        named += [f["value"] for f in json.loads(attrs["sourceFilters"])]
        for name in named:
            assert field_spec(kind, name) is not None, (dv["id"], name)
        assert json.loads(attrs["fields"]) == [] and json.loads(attrs["runtimeFieldMap"]) == {}


# ------------------------------------------------------------------ lens


def test_required_visualizations_are_present():
    assert REQUIRED_VISUALIZATIONS <= {o["id"] for o in LENSES}


def test_lens_attributes_and_layer_references():
    for lens in LENSES:
        attrs = lens["attributes"]
        assert set(attrs) <= LENS_ATTRIBUTES, lens["id"]
        assert attrs["visualizationType"] in {"lnsXY", "lnsDatatable", "lnsMetric"}
        layers = lens_layers(lens)
        assert layers, lens["id"]
        layer_refs = {r["name"] for r in lens["references"]}
        assert layer_refs == {f"indexpattern-datasource-layer-{layer_id}" for layer_id in layers}, lens["id"]
        for layer_id in layers:
            layer_kind(lens, layer_id)


def test_every_lens_field_exists_with_an_aggregatable_type_matching_the_column():
    checked = 0
    for lens in LENSES:
        for layer_id, layer in lens_layers(lens).items():
            kind = layer_kind(lens, layer_id)
            for column_id, column in layer["columns"].items():
                field = column.get("sourceField")
                if field is None or field == "___records___":  # count of documents
                    continue
                spec = field_spec(kind, field)
                where = f"{lens['id']}/{column_id}: {kind}.{field}"
                assert spec is not None, f"{where} not in es_mappings"
                assert spec.get("type") in AGGREGATABLE, f"{where} has type {spec.get('type')}"
                assert spec["type"] in LENS_DATA_TYPE[column["dataType"]], f"{where} is not {column['dataType']}"
                checked += 1
    assert checked >= 20


def test_lens_queries_name_existing_fields():
    for lens in LENSES:
        query = lens["attributes"]["state"]["query"]
        assert query["language"] == "kuery"
        for layer_id in lens_layers(lens):
            kind = layer_kind(lens, layer_id)
            for field in re.findall(r"([A-Za-z_][\w.]*)\s*:", query["query"]):
                assert field_spec(kind, field) is not None, (lens["id"], field)


def test_run_panels_show_only_the_active_run():
    for lens_id in ("movierec-run-metrics", "movierec-run-ndcg"):
        assert BY_KEY[("lens", lens_id)]["attributes"]["state"]["query"]["query"] == "active : true"


def _accessors(visualization: dict) -> set[str]:
    found: set[str] = set()
    for layer in visualization.get("layers", []):
        found |= {layer["xAccessor"], *layer["accessors"]}
        found |= {y["forAccessor"] for y in layer.get("yConfig", [])}
    found |= {c["columnId"] for c in visualization.get("columns", [])}
    if "sorting" in visualization:
        found.add(visualization["sorting"]["columnId"])
    if "metricAccessor" in visualization:
        found.add(visualization["metricAccessor"])
    return found


def test_visualizations_point_at_existing_columns():
    for lens in LENSES:
        layers = lens_layers(lens)
        visualization = lens["attributes"]["state"]["visualization"]
        columns = {c for layer in layers.values() for c in layer["columns"]}
        for layer in layers.values():
            order = layer["columnOrder"]
            assert len(order) == len(set(order)) and set(order) == set(layer["columns"]), lens["id"]
            for column in layer["columns"].values():
                order_by = (column.get("params") or {}).get("orderBy") or {}
                if order_by.get("type") == "column":
                    assert order_by["columnId"] in layer["columns"], lens["id"]
        assert _accessors(visualization) <= columns, lens["id"]
        assert _accessors(visualization), lens["id"]
        for layer in visualization.get("layers", []):
            assert layer["layerId"] in layers
        if "layerId" in visualization:
            assert visualization["layerId"] in layers


# ------------------------------------------------------------------ dashboard


def test_one_dashboard_with_the_expected_title():
    assert [d["attributes"]["title"] for d in DASHBOARDS] == [DASHBOARD_TITLE]
    attrs = DASHBOARDS[0]["attributes"]
    assert set(attrs) <= DASHBOARD_ATTRIBUTES
    # MovieLens ratings start in 1995 (ml-25m) / 1996 / 1997 (ml-100k): the saved time range covers them
    assert attrs["timeRestore"] is True and attrs["timeFrom"] == "1995-01-01T00:00:00.000Z" and attrs["timeTo"] == "now"
    json.loads(attrs["optionsJSON"])
    json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_dashboard_panels_resolve_and_lay_out_every_visualization():
    dashboard = DASHBOARDS[0]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dashboard["references"]}
    shown = []
    for panel in panels:
        index = panel["panelIndex"]
        assert panel["gridData"]["i"] == index
        assert panel["panelRefName"] == f"panel_{index}"
        ref = refs[f"{index}:panel_{index}"]
        assert ref["type"] == panel["type"] == "lens"
        shown.append(ref["id"])
    assert sorted(shown) == sorted(o["id"] for o in LENSES)
    assert len(refs) == len(panels)


def test_dashboard_grid_fits_48_columns_without_overlap():
    cells: dict[tuple[int, int], str] = {}
    for panel in json.loads(DASHBOARDS[0]["attributes"]["panelsJSON"]):
        grid = panel["gridData"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 48, panel["panelIndex"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['panelIndex']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["panelIndex"]


@pytest.mark.parametrize("kind", ["movies", "users", "ratings", "runs"])
def test_field_spec_resolves_object_and_multi_fields(kind):
    """The helper the checks above rely on, on paths whose answer is known from the JSON files."""
    expected = {
        "movies": ("title.keyword", "keyword"),
        "users": ("rating_count", "integer"),
        "ratings": ("rated_at", "date"),
        "runs": ("metrics.ndcg_at_10", "float"),
    }[kind]
    assert field_spec(kind, expected[0])["type"] == expected[1]
    assert field_spec(kind, "no_such_field") is None
