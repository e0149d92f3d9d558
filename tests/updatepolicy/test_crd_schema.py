"""The CRDs in manifests/crds and the parser agree: the same field paths, the same
vocabularies, and the schema accepts what the parser accepts (the examples) and the status
the package builds. Unknown fields are refused as ``kubectl apply`` (strict field
validation) refuses them."""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from devcluster.kubeapi import KubeAPI, run_in_thread, write_kubeconfig
from devcluster.kubeapi.discovery import crd_resource_types
from devcluster.kubeapi.server import DEFAULT_CRDS
from imageupdater.strategies import Strategy
from imageupdater.updatepolicy import (
    KINDS,
    Action,
    Bump,
    Finding,
    PolicyRef,
    parse_policy,
    policy_status,
    violation_record,
)
from imageupdater.updatepolicy.fields import spec_paths
from imageupdater.updatepolicy.selectors import OPERATORS

from .builders import NOW, full_resource, resource

CRDS = Path(__file__).resolve().parents[2] / "manifests" / "crds"
FILES = {
    "ClusterImageUpdatePolicy": CRDS / "clusterimageupdatepolicies.yaml",
    "ImageUpdatePolicy": CRDS / "imageupdatepolicies.yaml",
}


@cache
def crd(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(FILES[kind].read_text())
    return loaded


def version(kind: str) -> dict[str, Any]:
    (only,) = crd(kind)["spec"]["versions"]
    result: dict[str, Any] = only
    return result


def schema(kind: str) -> dict[str, Any]:
    result: dict[str, Any] = version(kind)["schema"]["openAPIV3Schema"]
    return result


def strict(node: Any) -> Any:
    """The schema with unknown fields refused, as kubectl's strict field validation does."""
    if isinstance(node, dict):
        out = {k: strict(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [strict(item) for item in node]
    return node


def refusals(kind: str, obj: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(strict(schema(kind)))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(obj)]


def schema_paths(node: dict[str, Any], path: str) -> Iterator[str]:
    for name, child in node.get("properties", {}).items():
        here = f"{path}.{name}"
        yield here
        if child.get("type") == "array" and "properties" in child.get("items", {}):
            yield from schema_paths(child["items"], here + "[]")
        else:
            yield from schema_paths(child, here)


@pytest.mark.parametrize("kind", KINDS)
def test_the_schema_has_exactly_the_fields_the_parser_reads(kind: str) -> None:
    in_schema = set(schema_paths(schema(kind)["properties"]["spec"], "spec"))
    assert in_schema == spec_paths(kind)


def object_paths(kind: str) -> list[str]:
    """Where in a full example an object lives whose fields both sides check."""
    paths = ["spec", "spec.match", "spec.rules", "spec.rules.updateWindows[0]"]
    selectors = ["spec.match.applicationSelector"]
    if kind == "ClusterImageUpdatePolicy":
        selectors.append("spec.match.namespaceSelector")
    for selector in selectors:
        paths += [selector, f"{selector}.matchExpressions[0]"]
    return paths


def locate(obj: Any, path: str) -> dict[str, Any]:
    for part in path.replace("[", ".[").split("."):
        obj = obj[int(part[1:-1])] if part.startswith("[") else obj[part]
    assert isinstance(obj, dict)
    return obj


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_field_anywhere_is_refused_by_both(kind: str) -> None:
    for path in object_paths(kind):
        obj = full_resource(kind)
        locate(obj, path)["bogus"] = "x"
        parsed = parse_policy(obj)
        assert f"{path}.bogus" in {p.key for p in parsed.errors}, path
        assert refusals(kind, obj), path


@pytest.mark.parametrize("kind", KINDS)
def test_the_parsers_valid_examples_are_valid_for_the_schema(kind: str) -> None:
    examples = [
        full_resource(kind),
        resource({}, kind=kind),
        resource({"deniedTags": ["latest"]}, kind=kind, action="Audit"),
        resource({"updateWindows": [{"schedule": "@daily", "duration": "1h"}]}, kind=kind),
    ]
    for example in examples:
        assert parse_policy(example).errors == ()
        assert refusals(kind, example) == []


@pytest.mark.parametrize(
    ("path", "vocabulary"),
    [
        pytest.param(("spec", "action"), [a.value for a in Action], id="action"),
        pytest.param(("spec", "rules", "maxBump"), [b.value for b in Bump], id="maxBump"),
        pytest.param(
            ("spec", "rules", "allowedStrategies", "items"),
            [s.value for s in Strategy],
            id="allowedStrategies",
        ),
        pytest.param(
            (
                "spec",
                "match",
                "applicationSelector",
                "matchExpressions",
                "items",
                "operator",
            ),
            list(OPERATORS),
            id="operator",
        ),
    ],
)
def test_the_schemas_enums_are_the_parsers_vocabularies(
    path: tuple[str, ...], vocabulary: list[str]
) -> None:
    for kind in KINDS:
        node: dict[str, Any] = schema(kind)
        for part in path:
            node = node["items"] if part == "items" else node["properties"][part]
        assert node["enum"] == vocabulary


def test_a_value_outside_a_vocabulary_is_refused_by_both() -> None:
    obj = resource({"maxBump": "huge", "allowedStrategies": ["latest"]}, action="Deny")
    assert len(parse_policy(obj).errors) == 3
    assert len(refusals("ClusterImageUpdatePolicy", obj)) == 3


def test_the_two_kinds_differ_only_in_scope_names_and_namespace_criteria() -> None:
    cluster, namespaced = schema("ClusterImageUpdatePolicy"), schema("ImageUpdatePolicy")
    assert cluster["properties"]["status"] == namespaced["properties"]["status"]
    cluster_spec = copy.deepcopy(cluster["properties"]["spec"])
    namespaced_spec = copy.deepcopy(namespaced["properties"]["spec"])
    assert cluster_spec["properties"]["rules"] == namespaced_spec["properties"]["rules"]
    for field in ("namespaces", "namespaceSelector"):
        del cluster_spec["properties"]["match"]["properties"][field]
    for spec in (cluster_spec, namespaced_spec):
        del spec["properties"]["match"]["description"]
    assert cluster_spec == namespaced_spec
    assert crd("ClusterImageUpdatePolicy")["spec"]["scope"] == "Cluster"
    assert crd("ImageUpdatePolicy")["spec"]["scope"] == "Namespaced"


@pytest.mark.parametrize("kind", KINDS)
def test_printer_columns_show_action_matched_ready_and_age(kind: str) -> None:
    columns = {c["name"]: c["jsonPath"] for c in version(kind)["additionalPrinterColumns"]}
    assert columns == {
        "Action": ".spec.action",
        "Matched": ".status.matchedApplications",
        "Ready": '.status.conditions[?(@.type=="Ready")].status',
        "Age": ".metadata.creationTimestamp",
    }
    assert version(kind)["subresources"] == {"status": {}}
    (served,) = crd_resource_types(crd(kind))
    assert served.status_subresource and served.kind == kind


@pytest.mark.parametrize("valid", [True, False], ids=["ready", "invalid"])
def test_the_status_the_package_builds_is_valid_for_the_schema(valid: bool) -> None:
    obj = full_resource() if valid else resource({"deniedTags": ["[x"]})
    parsed = parse_policy(obj)
    finding = Finding(
        PolicyRef("ClusterImageUpdatePolicy", "p"),
        Action.WARN,
        "deniedTags",
        "latest",
        "image 'web' has tag 'latest'",
        "tags matching none of 'latest'",
        image="ghcr.io/acme/web",
    )
    records = [violation_record(finding, f"argocd/app-{i}", NOW) for i in range(30)]
    status = policy_status(
        parsed,
        generation=2,
        applications=[f"argocd/app-{i}" for i in range(150)],
        violations=records,
        now=NOW,
    )
    with_status = {**obj, "status": status}
    assert refusals("ClusterImageUpdatePolicy", with_status) == []


@pytest.mark.kubectl
def test_kubectl_applies_the_crds_and_a_policy_of_each_kind_into_the_emulator(
    tmp_path: Path,
) -> None:
    api = KubeAPI(crds=(DEFAULT_CRDS,))
    policies = tmp_path / "policies.yaml"
    policies.write_text(yaml.safe_dump_all([full_resource(kind) for kind in KINDS]))
    with run_in_thread(api) as running:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", running.url)

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["kubectl", "--kubeconfig", str(kubeconfig), "--validate=false", *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )

        done = kubectl("apply", "-f", str(CRDS / "clusterimageupdatepolicies.yaml"))
        assert done.returncode == 0, done.stderr
        done = kubectl("apply", "-f", str(CRDS / "imageupdatepolicies.yaml"))
        assert done.returncode == 0, done.stderr
        done = kubectl("apply", "-f", str(policies))
        assert done.returncode == 0, done.stderr
        assert "clusterimageupdatepolicy.image-updater.io/p created" in done.stdout
        assert "imageupdatepolicy.image-updater.io/p created" in done.stdout
    stored = api.store.get("image-updater.io", None, "imageupdatepolicies", "team-a", "p")
    assert stored is not None
    assert parse_policy(stored).problems == ()
