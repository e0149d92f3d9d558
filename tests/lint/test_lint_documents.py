"""lint_documents: which documents are checked and how findings read."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.annotations import PREFIX
from imageupdater.lint import LintFinding, lint_documents


def app(name: str, annotations: dict[str, str], *, namespace: str | None = None) -> str:
    lines = [
        "apiVersion: argoproj.io/v1alpha1",
        "kind: Application",
        "metadata:",
        f"  name: {name}",
    ]
    if namespace is not None:
        lines.append(f"  namespace: {namespace}")
    if annotations:
        lines.append("  annotations:")
        lines.extend(f"    {PREFIX}{k}: {v!r}" for k, v in annotations.items())
    return "\n".join(lines) + "\n"


def lines(text: str) -> list[str]:
    return [str(f) for f in lint_documents(text, source="apps.yaml")]


def test_a_correct_application_has_no_findings() -> None:
    assert lint_documents(app("ok", {"image-list": "web=nginx:1.x"}), source="a.yaml") == []


def test_an_application_without_image_updater_annotations_has_no_findings() -> None:
    assert lines(app("plain", {})) == []


def test_findings_name_file_application_key_and_message() -> None:
    text = app("web", {"image-list": "nginx", "force-update": "maybe"}, namespace="team")
    assert lines(text) == [
        f"apps.yaml: team/web: {PREFIX}force-update: invalid boolean 'maybe'; expected true or "
        "false (also accepted: 1, t, T, TRUE, True, 0, f, F, FALSE, False)"
    ]


def test_warnings_are_marked_and_the_namespace_defaults_to_default() -> None:
    text = app("web", {"image-list": "web=nginx", "web.update-strategy": "name"})
    assert lines(text) == [
        f"apps.yaml: default/web: {PREFIX}web.update-strategy: warning: update strategy 'name' "
        "is a deprecated name for 'alphabetical'; write 'alphabetical' instead"
    ]
    (finding,) = lint_documents(text, source="apps.yaml")
    assert finding.severity == "warning"


def test_the_manifest_namespace_is_used_for_secret_checks() -> None:
    annotations = {"image-list": "web=nginx", "web.pull-secret": "pullsecret:argocd/regcred"}
    assert lines(app("web", annotations, namespace="argocd")) == []
    (line,) = lines(app("web", annotations, namespace="team"))
    assert "may only use secrets of its own namespace 'team'" in line


@pytest.mark.parametrize(
    ("kind", "api_version"),
    [
        pytest.param("ConfigMap", "v1", id="configmap"),
        pytest.param("ImageUpdater", "example.com/v1", id="other-group-imageupdater"),
        pytest.param("Application", "example.com/v1", id="other-group-application"),
    ],
)
def test_other_kinds_are_ignored(kind: str, api_version: str) -> None:
    text = textwrap.dedent(
        f"""\
        apiVersion: {api_version}
        kind: {kind}
        metadata:
          name: x
          annotations:
            {PREFIX}image-list: "=broken"
        """
    )
    assert lint_documents(text, source="x.yaml") == []


def test_applications_inside_lists_are_checked() -> None:
    text = textwrap.dedent(
        f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: ApplicationList
        items:
        - apiVersion: argoproj.io/v1alpha1
          kind: Application
          metadata:
            name: inner
            annotations:
              {PREFIX}image-list: "=broken"
        """
    )
    (line,) = lines(text)
    assert line.startswith(f"apps.yaml: default/inner: {PREFIX}image-list: entry '=broken'")


def test_unquoted_non_string_annotation_values_are_errors() -> None:
    text = textwrap.dedent(
        f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata:
          name: web
          annotations:
            {PREFIX}image-list: web=nginx
            {PREFIX}web.force-update: true
        """
    )
    assert lines(text) == [
        f"apps.yaml: default/web: {PREFIX}web.force-update: annotation values must be strings, "
        "but YAML read this one as the boolean true; put the value in quotes"
    ]


def test_annotations_that_are_not_a_mapping_are_an_error() -> None:
    text = (
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\n"
        "metadata:\n  name: a\n  annotations: [x]\n"
    )
    assert lines(text) == [
        "apps.yaml: default/a: metadata.annotations must be a mapping of strings to strings"
    ]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        pytest.param(
            "a: [1, 2\n", 2, "expected ',' or ']', but got '<stream end>'", id="unclosed-flow"
        ),
        pytest.param("a: b\n  c: d\n", 2, "mapping values are not allowed here", id="bad-indent"),
        pytest.param(
            "a: 1\nb: 2\na: 3\n",
            3,
            "found duplicate key 'a'; YAML would keep only the last value",
            id="duplicate-key",
        ),
    ],
)
def test_unreadable_yaml_is_one_finding_with_its_line(text: str, line: int, reason: str) -> None:
    (finding,) = lint_documents(text, source="f.yaml")
    assert finding == LintFinding("f.yaml", f"invalid YAML: {reason}", line=line)
    assert str(finding) == f"f.yaml:{line}: invalid YAML: {reason}"


def test_documents_before_a_yaml_error_are_still_checked() -> None:
    text = app("first", {"image-list": "=x"}) + "---\na: [\n"
    found = lint_documents(text, source="f.yaml")
    assert [f.app for f in found] == ["default/first", ""]
    assert found[1].message.startswith("invalid YAML: ")


def test_empty_and_scalar_documents_are_ignored() -> None:
    assert lint_documents("---\n---\njust text\n---\n- 1\n", source="f.yaml") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "a: 1\nb: 2\x00\n",
            "f.yaml:2: invalid YAML: unacceptable character #x0000: special characters are not "
            "allowed",
            id="nul-character",
        ),
        pytest.param(
            "[" * 5000, "f.yaml: invalid YAML: nested too deeply to read", id="deep-nesting"
        ),
        pytest.param(
            "!!python/object:os.system x\n",
            "f.yaml:1: invalid YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object:os.system'",
            id="python-tag-refused",
        ),
    ],
)
def test_hostile_yaml_is_a_finding_not_a_crash(text: str, expected: str) -> None:
    assert [str(f) for f in lint_documents(text, source="f.yaml")] == [expected]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab: -[]{},\n'\"&*!#?|>x0\t\x00"), max_size=60))
def test_lint_never_raises_on_arbitrary_text(text: str) -> None:
    for finding in lint_documents(text, source="f.yaml"):
        assert finding.source == "f.yaml"
        assert "\n" not in str(finding)


_annotation_values = st.text(max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["image-list", "web.force-update", "x", "git-branch"]),
        _annotation_values,
        max_size=4,
    )
)
def test_every_lint_line_names_the_application_and_a_key(values: dict[str, str]) -> None:
    text = yaml.safe_dump(
        {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": {"name": "a", "annotations": {PREFIX + k: v for k, v in values.items()}},
        }
    )
    for line in lines(text):
        assert line.startswith(f"apps.yaml: default/a: {PREFIX}")
