"""The real kubectl prints a custom resource's printer columns, as a cluster serves them:
the emulator answers ``Accept: ...;as=Table`` with a meta.k8s.io Table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from devcluster.kubeapi import KubeAPI, RunningKubeAPI, run_in_thread
from devcluster.kubeapi.tables import PrinterColumn, human_duration, table_version

from .conftest import Kubectl, application, make_kubectl

pytestmark = pytest.mark.kubectl
IU_GROUP = "argocd-image-updater.argoproj.io"
READY_B = {"type": "Ready", "status": "B"}


@pytest.fixture(scope="module")
def cluster(module_dir: Path) -> Iterator[tuple[RunningKubeAPI, Kubectl]]:
    running = run_in_thread(KubeAPI())
    try:
        yield running, make_kubectl(module_dir, running.url)
    finally:
        running.stop()


def image_updater(name: str, status: dict[str, object] | None = None) -> dict[str, object]:
    obj: dict[str, object] = {
        "apiVersion": f"{IU_GROUP}/v1alpha1",
        "kind": "ImageUpdater",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"applicationRefs": [{"namePattern": "*", "useAnnotations": True}]},
    }
    if status is not None:
        obj["status"] = status
    return obj


def test_get_imageupdaters_shows_the_crds_columns(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    running, kubectl = cluster
    checked = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    running.api.store.put(
        image_updater(
            "teams",
            {
                "applicationsMatched": 3,
                "imagesManaged": 4,
                "lastCheckedAt": checked,
                "conditions": [
                    {"type": "Reconciling", "status": "False", "reason": "Idle"},
                    {"type": "Ready", "status": "True", "reason": "ReconcileSucceeded"},
                ],
            },
        )
    )
    running.api.store.put(image_updater("fresh"))
    done = kubectl("get", "imageupdaters")
    assert done.returncode == 0, done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    assert lines[0] == ["NAME", "APPS", "IMAGES", "LAST", "CHECKED", "READY"]
    rows = {line[0]: line[1:] for line in lines[1:]}
    assert rows["teams"] == ["3", "4", "30m", "True"]
    assert rows["fresh"] == []  # no status yet: empty cells


def test_wide_output_and_all_namespaces_add_what_kubectl_adds(
    cluster: tuple[RunningKubeAPI, Kubectl],
) -> None:
    running, kubectl = cluster
    running.api.store.put(application("tabled", labels={}))
    done = kubectl("get", "applications.argoproj.io", "-A", "-o", "wide")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[0].split()
    assert header == ["NAMESPACE", "NAME", "SYNC", "STATUS", "HEALTH", "STATUS", "REVISION",
                      "PROJECT"]  # fmt: skip
    row = next(line.split() for line in done.stdout.splitlines() if " tabled " in line)
    assert row[:2] == ["argocd", "tabled"]


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        pytest.param(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
            "g=meta.k8s.io,application/json",
            "v1",
            id="kubectl",
        ),
        pytest.param("application/json", None, id="json"),
        pytest.param("application/json;as=Table;v=v2;g=meta.k8s.io", None, id="unknown-version"),
    ],
)
def test_a_table_is_served_only_when_asked_for(accept: str, version: str | None) -> None:
    assert table_version(accept) == version


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5s"), (119, "119s"), (300, "5m"), (301, "5m1s"), (3600, "60m"), (4 * 3600 + 60, "4h1m"),
     (30 * 3600, "30h"), (3 * 86400 + 3600, "3d1h"), (400 * 86400, "400d")],
)  # fmt: skip
def test_dates_are_ages_as_kubectl_shows_them(seconds: int, shown: str) -> None:
    assert human_duration(dt.timedelta(seconds=seconds)) == shown


@pytest.mark.parametrize(
    ("path", "kind", "obj", "cell"),
    [
        pytest.param(".status.n", "integer", {"status": {"n": 2}}, 2, id="integer"),
        pytest.param(".status.n", "integer", {"status": {"n": "2"}}, None, id="not-an-integer"),
        pytest.param(".status.n", "integer", {}, None, id="missing"),
        pytest.param(
            '.status.conditions[?(@.type=="Ready")].status',
            "string",
            {
                "status": {
                    "conditions": [{"type": "X", "status": "A"}, {"type": "Ready", "status": "B"}]
                }
            },
            "B",
            id="filter",
        ),
        pytest.param(".spec.items[1]", "string", {"spec": {"items": ["a", 7]}}, "7", id="index"),
    ],
)
def test_cells_are_typed_as_the_table_convertor_types_them(
    path: str, kind: str, obj: dict[str, object], cell: object
) -> None:
    column = PrinterColumn.parse({"name": "C", "type": kind, "jsonPath": path}, "test")
    assert column.cell(obj) == cell
