"""Helm and Go templates: skipped with a note, while broken YAML still fails with its line."""

from __future__ import annotations

import textwrap

import pytest

from imageupdater.annotations import PREFIX
from imageupdater.lint import TEMPLATE_SKIPPED, LintFinding, is_go_template, lint_documents


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\n",
            id="value-action",
        ),
        pytest.param("spec:\n  replicas: {{ .Values.replicas }}\n", id="helm-values"),
        pytest.param(
            "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\n{{- end }}\n",
            id="if-block",
        ),
        pytest.param(
            'metadata:\n  labels:\n    {{- include "web.labels" . | nindent 4 }}\n',
            id="include-nindent",
        ),
        pytest.param("items:\n- {{ .Values.first }}\n", id="sequence-item"),
        pytest.param(
            "apiVersion: v1\nkind: ConfigMap\n---\n{{ range .Values.apps }}\nname: x\n{{ end }}\n",
            id="second-document",
        ),
    ],
)
def test_a_go_template_is_skipped_with_one_note(text: str) -> None:
    assert is_go_template(text)
    assert lint_documents(text, source="deploy.yaml") == [
        LintFinding("deploy.yaml", TEMPLATE_SKIPPED, "note")
    ]
    assert [str(f) for f in lint_documents(text, source="deploy.yaml")] == [
        "deploy.yaml: skipped: a Helm/Go template, not YAML until rendered"
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("name: '{{ .path.basename }}'\n", id="single-quoted"),
        pytest.param('name: "{{path}}"\n', id="double-quoted"),
        pytest.param("name: web-{{ .x }}\n", id="inside-plain-scalar"),
        pytest.param("script: |\n  echo {{ .y }}\n", id="block-scalar"),
        pytest.param("# rendered by {{ .Chart.Name }}\na: 1\n", id="comment"),
    ],
)
def test_template_expressions_inside_yaml_strings_leave_a_file_yaml(text: str) -> None:
    assert not is_go_template(text)
    assert lint_documents(text, source="x.yaml") == []


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("a: '{{ .x }}'\nb: [1,\n", 3, id="quoted-template-then-error"),
        pytest.param("a: b\n  c: d\nname: '{{ .y }}'\n", 2, id="error-before-template"),
        pytest.param('a: "{{ x }}\n', 2, id="unclosed-quote"),
    ],
)
def test_a_yaml_file_that_does_not_parse_still_fails_with_its_line(text: str, line: int) -> None:
    (finding,) = lint_documents(text, source="f.yaml")
    assert finding.severity == "error"
    assert finding.line == line
    assert finding.message.startswith("invalid YAML: ")


def test_an_application_keeps_its_own_branch_templates_and_is_checked() -> None:
    # git-branch templates are image-updater's own, evaluated at write-back: an Application
    # (unlike an ApplicationSet template) is checked as written.
    text = textwrap.dedent(
        f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: Application
        metadata:
          name: web
          annotations:
            {PREFIX}image-list: web=nginx:1.x
            {PREFIX}write-back-method: git
            {PREFIX}git-branch: '{{{{ .SHA256 }}}}:updates'
        """
    )
    (finding,) = lint_documents(text, source="app.yaml")
    assert finding.key == f"{PREFIX}git-branch"
    assert "has a template in the base branch" in finding.message
