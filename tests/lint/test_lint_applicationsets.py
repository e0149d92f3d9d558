"""ApplicationSets are checked through their Application template; ImageUpdaters are flagged."""

from __future__ import annotations

import textwrap

import pytest

from imageupdater.annotations import PREFIX
from imageupdater.lint import LintFinding, lint_documents

SET = "guestbooks"


def appset(
    annotations: dict[str, str], *, spec: str = "", extra: str = "", namespace: str = "argocd"
) -> str:
    """An ApplicationSet whose template carries ``annotations`` (keys without PREFIX)."""
    lines = "".join(f"        {PREFIX}{k}: {v!r}\n" for k, v in annotations.items())
    text = textwrap.dedent(
        f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: ApplicationSet
        metadata:
          name: {SET}
          namespace: {namespace}
        spec:
          goTemplate: true
          generators:
          - git:
              repoURL: https://github.com/org/gitops.git
              directories: [{{path: apps/*}}]
        """
    )
    text += extra
    text += "  template:\n    metadata:\n      name: '{{ .path.basename }}'\n"
    text += "      annotations:\n" + lines if annotations else ""
    return text + textwrap.indent(spec, "    ")


def found(text: str) -> list[tuple[str, str, str]]:
    return [
        (f.severity, f.key.removeprefix(PREFIX), f.message)
        for f in lint_documents(text, source="set.yaml")
    ]


def skipped(key: str, expression: str) -> tuple[str, str, str]:
    return (
        "note",
        key,
        f"skipped: the value has the template expression {expression!r}, which lint does not "
        "evaluate",
    )


def test_the_template_annotations_are_checked_under_the_applicationsets_name() -> None:
    text = appset({"image-list": "web=nginx:1.x", "web.update-stratgy": "semver"})
    (finding,) = lint_documents(text, source="set.yaml")
    assert str(finding) == (
        f"set.yaml: argocd/{SET}: {PREFIX}web.update-stratgy: unknown annotation; did you mean "
        f"'{PREFIX}web.update-strategy'?"
    )


def test_a_correct_template_has_no_findings() -> None:
    assert lint_documents(appset({"image-list": "web=nginx:1.x"}), source="set.yaml") == []


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param("{{ .values.image }}", id="go-template"),
        pytest.param("{{values.image}}", id="fasttemplate"),
    ],
)
def test_a_templated_image_list_is_skipped_with_a_note_and_no_false_errors(
    expression: str,
) -> None:
    # The alias-keyed options still get their own checks; none may blame the missing list.
    text = appset({"image-list": f"web={expression}", "web.update-strategy": "digest"})
    assert found(text) == [skipped("image-list", expression)]


def test_plain_annotations_beside_templated_ones_are_still_checked() -> None:
    text = appset(
        {"image-list": "web=ghcr.io/org/{{ .path.basename }}:1.x", "web.force-update": "maybe"}
    )
    assert found(text) == [
        skipped("image-list", "{{ .path.basename }}"),
        (
            "error",
            "web.force-update",
            "invalid boolean 'maybe'; expected true or false (also accepted: 1, t, T, TRUE, "
            "True, 0, f, F, FALSE, False)",
        ),
    ]


def test_a_templated_strategy_does_not_make_a_constraint_wrong() -> None:
    # 'latest' is no semver constraint, but the generators may well set 'digest'.
    templated = appset({"image-list": "web=nginx:latest", "web.update-strategy": "{{ .s }}"})
    assert found(templated) == [skipped("web.update-strategy", "{{ .s }}")]
    fixed = appset({"image-list": "web=nginx:latest"})
    ((severity, key, message),) = found(fixed)
    assert (severity, key) == ("error", "image-list")
    assert "invalid semver constraint" in message


def test_a_templated_plugin_name_does_not_make_its_tag_alone() -> None:
    text = appset(
        {
            "image-list": "web=nginx:1.x",
            "web.plugin.image-tag": "IMAGE_TAG",
            "web.plugin.image-name": "{{ .env }}",
        }
    )
    assert found(text) == [skipped("web.plugin.image-name", "{{ .env }}")]


def test_a_templated_method_hides_only_what_depends_on_it() -> None:
    # With a templated method, git-branch may or may not take effect: no warning; an invalid
    # branch is wrong whatever the method is.
    text = appset(
        {"image-list": "ghcr.io/org/web", "write-back-method": "{{ .m }}", "git-branch": "a..b"}
    )
    assert [(severity, key) for severity, key, _ in found(text)] == [
        ("note", "write-back-method"),
        ("error", "git-branch"),
    ]


def test_a_templated_key_is_skipped_with_a_note() -> None:
    text = appset({"image-list": "web=nginx:1.x", "{{ .alias }}.update-strategy": "semver"})
    assert found(text) == [
        (
            "note",
            "{{ .alias }}.update-strategy",
            "skipped: the key has the template expression '{{ .alias }}', which lint does not "
            "evaluate",
        )
    ]


def test_an_unknown_key_is_an_error_whatever_its_templated_value() -> None:
    text = appset({"image-list": "web=nginx:1.x", "web.update-stratgy": "{{ .s }}"})
    ((severity, key, message),) = found(text)
    assert (severity, key) == ("error", "web.update-stratgy")
    assert message.startswith("unknown annotation")


def test_secret_references_are_scoped_to_the_applicationsets_namespace() -> None:
    annotations = {"image-list": "web=nginx:1.x", "web.pull-secret": "pullsecret:argocd/regcred"}
    assert found(appset(annotations, namespace="argocd")) == []
    ((severity, _key, message),) = found(appset(annotations, namespace="team"))
    assert severity == "error"
    assert "may only use secrets of its own namespace 'team'" in message


GIT_SPEC = """\
spec:
  project: default
  source:
    repoURL: https://github.com/org/gitops.git
    path: '{{ .path.path }}'
    targetRevision: REVISION
"""


def test_the_template_spec_gets_the_git_write_back_checks() -> None:
    text = appset(
        {"image-list": "ghcr.io/org/web:1.x", "write-back-method": "git"},
        spec=GIT_SPEC.replace("REVISION", "v1.2.3"),
    )
    ((severity, _key, message),) = found(text)
    assert severity == "warning"
    assert message.startswith("git write-back: targetRevision 'v1.2.3' looks like a tag")


def test_git_checks_of_a_templated_revision_are_skipped_with_a_note() -> None:
    text = appset(
        {"image-list": "ghcr.io/org/web:1.x", "write-back-method": "git"},
        spec=GIT_SPEC.replace("REVISION", "'{{ .rev }}'"),
    )
    assert found(text) == [
        (
            "note",
            "",
            "skipped: the git write-back checks of the template's sources, whose repoURL or "
            "targetRevision has template expressions that lint does not evaluate",
        )
    ]


def test_a_template_patch_is_noted_as_not_applied() -> None:
    text = appset(
        {"image-list": "web=nginx:1.x"},
        extra="  templatePatch: |\n    metadata:\n      annotations: {}\n",
    )
    assert found(text) == [
        (
            "note",
            "",
            "skipped: spec.templatePatch, which lint does not apply; only spec.template is checked",
        )
    ]


def test_the_applicationsets_own_annotations_are_not_image_updater_configuration() -> None:
    text = textwrap.dedent(
        f"""\
        apiVersion: argoproj.io/v1alpha1
        kind: ApplicationSet
        metadata:
          name: x
          annotations:
            {PREFIX}image-list: "=broken"
        spec:
          template: broken
        """
    )
    assert lint_documents(text, source="set.yaml") == []


IMAGE_UPDATER = textwrap.dedent(
    """\
    apiVersion: argocd-image-updater.argoproj.io/v1alpha1
    kind: ImageUpdater
    metadata:
      name: updater
      namespace: argocd
    spec:
      applicationRefs:
      - namePattern: "*"
        useAnnotations: true
    """
)


def test_a_valid_image_updater_resource_passes_as_run_acts_on_it() -> None:
    assert lint_documents(IMAGE_UPDATER, source="iu.yaml") == []


def test_an_image_updater_resource_is_checked_with_the_readers_words_and_field_paths() -> None:
    text = IMAGE_UPDATER.replace(
        "useAnnotations: true",
        "images:\n    - alias: web\n      imageName: nginx:1.x\n"
        "      commonUpdateSettings: {updateStrategy: semverr}",
    )
    found = lint_documents(text, source="iu.yaml")
    assert [f.severity for f in found] == ["error"]
    assert str(found[0]) == (
        "iu.yaml: argocd/updater: spec.applicationRefs[0].images[0].commonUpdateSettings."
        "updateStrategy: unknown update strategy 'semverr'; expected one of semver, "
        "newest-build, alphabetical, digest; did you mean 'semver'?"
    )


def test_image_updater_resources_inside_a_list_are_checked_too() -> None:
    bad = IMAGE_UPDATER.replace('namePattern: "*"', 'namePattern: "[a-"')
    body = textwrap.indent(bad, "  ").replace("  apiVersion", "- apiVersion", 1)
    text = "apiVersion: v1\nkind: List\nitems:\n" + body
    assert [f.severity for f in lint_documents(text, source="l.yaml")] == ["error"]


def test_findings_of_an_applicationset_carry_its_label() -> None:
    text = appset({"image-list": "web={{ .values.image }}"})
    (note,) = lint_documents(text, source="set.yaml")
    assert note == LintFinding(
        "set.yaml",
        "skipped: the value has the template expression '{{ .values.image }}', which lint "
        "does not evaluate",
        "note",
        app=f"argocd/{SET}",
        key=f"{PREFIX}image-list",
    )


def test_a_templated_key_may_be_the_image_list_so_its_absence_is_no_error() -> None:
    text = appset({"{{ .listKey }}": "web=nginx:1.x", "web.update-strategy": "digest"})
    assert [(severity, key) for severity, key, _ in found(text)] == [("note", "{{ .listKey }}")]
