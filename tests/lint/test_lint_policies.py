"""lint on policy resources: the parser's problems, in the webhook's words, as lint lines."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from imageupdater.lint import lint_documents
from imageupdater.updatepolicy import parse_policy
from tests.updatepolicy.builders import full_resource


def lines(text: str) -> list[str]:
    return [str(f) for f in lint_documents(textwrap.dedent(text), source="policies.yaml")]


def test_a_correct_policy_of_each_kind_has_no_findings() -> None:
    text = yaml.safe_dump_all(
        [full_resource("ClusterImageUpdatePolicy"), full_resource("ImageUpdatePolicy")]
    )
    assert lint_documents(text, source="policies.yaml") == []


def test_policy_mistakes_are_lines_naming_the_policy_the_field_and_what_is_accepted() -> None:
    text = """\
        apiVersion: image-updater.io/v1alpha1
        kind: ClusterImageUpdatePolicy
        metadata: {name: registries}
        spec:
          rules:
            maxBump: huge
            allowedStrategies: [digest]
            updateWindows: [{schedule: "0 9 * *", duration: 8h}]
        """
    assert lines(text) == [
        "policies.yaml: ClusterImageUpdatePolicy/registries: spec.rules.maxBump: 'huge' is not "
        "accepted; accepted: patch, minor, major",
        "policies.yaml: ClusterImageUpdatePolicy/registries: spec.rules.updateWindows[0].schedule: "
        "invalid cron schedule '0 9 * *': found 4 fields; expected 5 fields 'minute hour "
        "day-of-month month day-of-week' made of numbers, names (JAN-DEC, SUN-SAT), '*', '?', "
        "lists 'a,b', ranges 'a-b' and steps '/n', or one of @yearly, @annually, @monthly, "
        "@weekly, @daily, @midnight, @hourly",
    ]


def test_lint_uses_the_same_words_as_the_parser_the_webhook_runs() -> None:
    obj = full_resource("ImageUpdatePolicy")
    obj["spec"]["match"]["namespaces"] = ["team-*"]
    obj["spec"]["rules"]["minimumAge"] = "1d"
    expected = [
        f"policies.yaml: ImageUpdatePolicy/team-a/p: {p.key}: {p.message}"
        for p in parse_policy(obj).problems
    ]
    assert len(expected) == 2
    assert lines(yaml.safe_dump(obj)) == expected


def test_warnings_are_marked_and_policy_lists_are_read() -> None:
    text = """\
        apiVersion: image-updater.io/v1alpha1
        kind: ImageUpdatePolicyList
        items:
          - apiVersion: image-updater.io/v1alpha1
            kind: ImageUpdatePolicy
            metadata: {name: empty, namespace: team-a}
            spec: {}
        """
    assert lines(text) == [
        "policies.yaml: ImageUpdatePolicy/team-a/empty: spec.rules: warning: there are no "
        "rules, so the policy restricts nothing"
    ]


def test_a_policy_without_a_name_is_labelled_unnamed() -> None:
    text = """\
        apiVersion: image-updater.io/v1alpha1
        kind: ClusterImageUpdatePolicy
        spec: {rules: {deniedTags: [latest]}}
        """
    assert lines(text) == [
        "policies.yaml: ClusterImageUpdatePolicy/<unnamed>: metadata: is missing; a policy "
        "needs metadata.name"
    ]


def test_other_groups_using_the_same_kind_names_are_ignored() -> None:
    text = """\
        apiVersion: example.com/v1
        kind: ClusterImageUpdatePolicy
        metadata: {name: x}
        spec: {bogus: true}
        """
    assert lines(text) == []


def test_the_lint_command_fails_on_a_broken_policy_file(tmp_path: Path) -> None:
    broken = full_resource()
    broken["spec"]["rules"]["allowedRegistries"] = ["ghcr.io/acme"]
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(broken))
    done = subprocess.run(
        [sys.executable, "-m", "imageupdater.cli", "lint", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "ClusterImageUpdatePolicy/p: spec.rules.allowedRegistries[0]" in done.stdout
    assert "never a path" in done.stdout
