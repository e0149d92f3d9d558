"""The PrometheusRule, its plain-Prometheus twin and their promtool unit tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.monitoring import (
    CONFIGMAP,
    DASHBOARD,
    KIT,
    KUSTOMIZATION,
    PROMETHEUS_RULE,
    RULES_FILE,
    RULES_TEST,
    alert_rules,
    installed,
    load_render,
    load_yaml,
)

SEVERITIES = {"critical", "warning", "info"}
_DURATION = re.compile(r"^(\d+[smhdwy])+$")


def _promtool(*args: str, cwd: Path = KIT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [installed("promtool"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_prometheus_rule_is_a_valid_object() -> None:
    rule = load_yaml(PROMETHEUS_RULE)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["kind"] == "PrometheusRule"
    assert rule["metadata"]["name"] == "image-updater"
    assert rule["metadata"]["labels"]["app.kubernetes.io/name"] == "image-updater"
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(rule["spec"]) == {"groups"}
    groups = rule["spec"]["groups"]
    names = [group["name"] for group in groups]
    assert len(names) == len(set(names)), names
    for group in groups:
        assert set(group) <= {"name", "interval", "rules", "limit"}, group["name"]
        assert group["rules"], group["name"]
        for item in group["rules"]:
            assert set(item) <= {"alert", "record", "expr", "for", "labels", "annotations"}
            assert isinstance(item["expr"], str) and item["expr"].strip()


def test_every_alert_has_a_severity_a_summary_a_description_and_a_for() -> None:
    alerts = alert_rules()
    names = [a["alert"] for a in alerts]
    assert len(names) == len(set(names)), names
    for alert in alerts:
        name = alert["alert"]
        assert re.fullmatch(r"ImageUpdater[A-Z][A-Za-z]+", name), name
        assert alert["labels"]["severity"] in SEVERITIES, name
        assert set(alert["annotations"]) == {"summary", "description"}, name
        assert all(text.strip() for text in alert["annotations"].values()), name
        assert _DURATION.match(alert["for"]), (name, alert["for"])


def test_the_alerts_cover_what_operators_asked_for() -> None:
    exprs = {a["alert"]: a["expr"] for a in alert_rules()}
    wanted = {
        "ImageUpdaterAdmissionLatencyHigh": "image_updater_admission_duration_seconds_bucket",
        "ImageUpdaterAdmissionResolutionFailures": "image_updater_admission_image_resolutions",
        "ImageUpdaterAdmissionReviewsFailing": "image_updater_admission_malformed_requests",
        "ImageUpdaterAdmissionDenialSpike": "image_updater_admission_denials_total",
        "ImageUpdaterRegistryRequestFailures": "image_updater_registry_requests_total",
        "ImageUpdaterReconcileStalled": "image_updater_cycle_duration_seconds_count",
        "ImageUpdaterNoLeader": "image_updater_leader",
        "ImageUpdaterMultipleLeaders": "image_updater_leader",
        "ImageUpdaterGitPushFailures": "image_updater_git_pushes_total",
        "ImageUpdaterReconcilerMetricsAbsent": "absent(image_updater_leader)",
    }
    for alert, fragment in wanted.items():
        assert fragment in exprs[alert], alert


def test_the_promtool_rules_file_holds_the_same_groups_as_the_prometheus_rule() -> None:
    spec_groups = load_yaml(PROMETHEUS_RULE)["spec"]["groups"]
    rules_file = load_yaml(RULES_FILE)
    assert set(rules_file) == {"groups"}
    assert rules_file["groups"] == spec_groups


def test_the_generated_files_are_up_to_date() -> None:
    render = load_render()
    outputs: dict[Path, str] = render.outputs()
    assert set(outputs) == {RULES_FILE, DASHBOARD, CONFIGMAP}
    for path, text in outputs.items():
        assert path.read_text() == text, (
            f"{path.relative_to(KIT)} is stale: run python manifests/monitoring/render.py"
        )


def test_the_kustomization_applies_the_rule_and_the_dashboard() -> None:
    kustomization = load_yaml(KUSTOMIZATION)
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert resources == ["prometheusrule.yaml", "grafana-dashboard-configmap.yaml"]
    assert all((KIT / name).is_file() for name in resources)


@pytest.mark.kubectl
def test_kubectl_kustomize_builds_the_kit() -> None:
    built = subprocess.run(
        [installed("kubectl"), "kustomize", str(KIT)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    documents: list[dict[str, Any]] = list(yaml.safe_load_all(built))
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in documents)
    assert kinds == [
        ("ConfigMap", "image-updater-grafana-dashboard"),
        ("PrometheusRule", "image-updater"),
    ]
    for document in documents:
        assert document["metadata"]["namespace"] == "argocd"
        assert document["metadata"]["labels"]["app.kubernetes.io/part-of"] == "image-updater"
    configmap = next(d for d in documents if d["kind"] == "ConfigMap")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"]["image-updater.json"] == DASHBOARD.read_text()


def test_promtool_checks_the_rules() -> None:
    done = _promtool("check", "rules", str(RULES_FILE))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def test_the_promtool_unit_tests_pass() -> None:
    done = _promtool("test", "rules", str(RULES_TEST))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def _fires_and_silent() -> tuple[set[str], set[str]]:
    """Alerts the unit tests prove firing, and alerts they prove silent at some time."""
    fires: set[str] = set()
    silent: set[str] = set()
    for group in load_yaml(RULES_TEST)["tests"]:
        for case in group.get("alert_rule_test", []):
            (fires if case["exp_alerts"] else silent).add(case["alertname"])
        for case in group.get("promql_expr_test", []):
            match = re.fullmatch(
                r'ALERTS\{alertname="(\w+)", alertstate="firing"\}', case["expr"].strip()
            )
            assert match, f"unexpected promql_expr_test {case['expr']!r}"
            if case["exp_samples"]:
                fires.add(match.group(1))
                # The expected samples are all that fire; each names its own alert.
                for sample in case["exp_samples"]:
                    assert f'alertname="{match.group(1)}"' in sample["labels"]
            else:
                silent.add(match.group(1))
    return fires, silent


def test_the_unit_tests_make_every_alert_fire_and_stay_silent() -> None:
    names = {a["alert"] for a in alert_rules()}
    fires, silent = _fires_and_silent()
    assert names - fires == set(), "alerts no unit test makes fire"
    assert names - silent == set(), "alerts no unit test proves silent"
    assert fires | silent <= names, "unit tests for alerts that do not exist"


def test_the_unit_tests_read_the_generated_rules_file() -> None:
    test = load_yaml(RULES_TEST)
    assert [(KIT / f).resolve() for f in test["rule_files"]] == [RULES_FILE.resolve()]
