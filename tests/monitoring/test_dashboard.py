"""The Grafana dashboard: a well-formed model whose every query is valid PromQL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.monitoring import (
    CONFIGMAP,
    DASHBOARD,
    dashboard,
    dashboard_panels,
    dashboard_queries,
    grafana_to_promql,
    installed,
    load_yaml,
    metric_names,
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def test_the_dashboard_is_a_grafana_model_with_a_datasource_variable() -> None:
    model = dashboard()
    assert model["uid"] == "image-updater"
    assert 36 <= model["schemaVersion"] <= 41
    variables = {v["name"]: v for v in model["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["namespace"]["datasource"] == DATASOURCE
    assert variables["namespace"]["includeAll"] and variables["namespace"]["allValue"] == ".*"


def test_every_panel_queries_the_selected_datasource_and_namespace() -> None:
    panels = [p for p in dashboard_panels() if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel.get("description"), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert 'namespace=~"$namespace"' in target["expr"], (panel["title"], target["expr"])
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = dashboard_panels()
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    taken: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & taken, f"{panel['title']!r} overlaps another panel"
        taken |= cells


def test_the_panels_cover_admission_cycles_updates_registries_git_and_leader() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    for metric in (
        "image_updater_admission_duration_seconds_count",
        "image_updater_admission_duration_seconds_bucket",
        "image_updater_admission_denials_total",
        "image_updater_cycle_duration_seconds_count",
        "image_updater_cycle_duration_seconds_bucket",
        "argocd_image_updater_images_updated_total",
        "argocd_image_updater_images_errors_total",
        "image_updater_registry_requests_total",
        "image_updater_git_commits_total",
        "image_updater_git_pushes_total",
        "image_updater_git_conflicts_total",
        "image_updater_git_operation_duration_seconds_bucket",
        "image_updater_leader",
    ):
        assert metric in used, metric


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses rule expressions: hand it every query as a recording rule.
    queries = dashboard_queries()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": grafana_to_promql(expr)}
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run(
        [installed("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout


def test_the_configmap_carries_the_dashboard_for_grafanas_sidecar() -> None:
    configmap = load_yaml(CONFIGMAP)
    assert configmap["apiVersion"] == "v1" and configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"] == {"image-updater.json": DASHBOARD.read_text()}
