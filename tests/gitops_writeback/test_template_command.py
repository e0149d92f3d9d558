"""``image-updater template [PATH]`` as upstream users run it, and the commit messages and
branch names the writer renders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from imageupdater.errors import InvalidInput, TemplateError
from imageupdater.gitops.messages import (
    CommitChange,
    change_set_sha256,
    combined_commit_message,
    commit_message,
    load_commit_template,
    pull_request_branch,
    pull_request_text,
    render_branch,
    sample_changes,
    target_key,
)
from imageupdater.gitops.template import Template

BINARY = Path(sys.executable).with_name("image-updater")

UPSTREAM_SAMPLE = (
    "build: automatic update of example-app\n\n"
    "updates image example/example tag '1.0.0' to '1.0.1'\n"
    "updates image example/updater tag "
    "'sha256:01d09d19c2139a46aebfb577780d123d7396e97201bc7ead210a2ebff8239dee' to "
    "'sha256:7aa7a5359173d05b63cfd682e3c38487f3cb4f7f1d60659fe59fab1505977d4c'\n"
)


def template_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BINARY), "template", *args], capture_output=True, text=True, check=False, timeout=30
    )


def test_template_without_a_path_renders_upstreams_default_with_the_sample_changes() -> None:
    done = template_cmd()
    assert done.returncode == 0, done.stderr
    assert done.stdout == UPSTREAM_SAMPLE


def test_template_renders_a_users_template(tmp_path: Path) -> None:
    path = tmp_path / "commit.template"
    path.write_text(
        "chore({{ .AppName }}): bump\n"
        "{{ range .AppChanges }}- {{ .Image }}: {{ .NewTag }}\n{{ end }}"
    )
    done = template_cmd(str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["chore(example-app): bump", "- example/example: 1.0.1"]


def test_a_template_that_does_not_parse_names_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "commit.template"
    path.write_text("line one\nupdate {{ .AppName }\n")
    done = template_cmd(str(path))
    assert done.returncode == 2
    assert f"{path}:2:" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_template_given_explicitly_is_an_error() -> None:
    done = template_cmd("/nonexistent/commit.template")
    assert done.returncode == 2
    assert "does not exist" in done.stderr


def test_a_missing_template_at_the_default_path_means_the_default(tmp_path: Path) -> None:
    template = load_commit_template(tmp_path / "absent", explicit=False)
    assert commit_message(template, "example-app", sample_changes()).text == UPSTREAM_SAMPLE


def test_a_template_that_fails_while_rendering_falls_back_to_upstreams_line() -> None:
    template = Template.parse("{{ index .AppChanges 5 }}", name="commit-message")
    rendered = commit_message(template, "web", sample_changes())
    assert rendered.text == "build: update of application web"
    assert rendered.problem is not None


def test_labels_reach_the_template() -> None:
    template = Template.parse(
        '{{ range .AppChanges }}{{ index .Labels "org.opencontainers.image.revision" }}{{ end }}'
    )
    change = CommitChange("a/b", "1", "2", labels={"org.opencontainers.image.revision": "abc123"})
    assert commit_message(template, "x", [change]).text == "abc123"


def test_one_commit_for_several_applications_lists_each() -> None:
    text = combined_commit_message([("a", "msg a\n"), ("b", "msg b\n")])
    assert text == "build: automatic update of 2 applications (a, b)\n\nmsg a\n\nmsg b\n"
    assert combined_commit_message([("a", "only a\n")]) == "only a\n"


def test_the_change_set_hash_and_target_key_follow_upstreams_formulas() -> None:
    import hashlib

    changes = [CommitChange("example/app", "1.0.0", "1.0.1"), CommitChange("x/y", "a", "b")]
    expected = hashlib.sha256(b"example/app-1.0.0-1.0.1,x/y-a-b,").hexdigest()
    assert change_set_sha256(changes) == expected
    key = target_key("https://github.com/org/repo.git", "main", "overlays/dev/values.yaml")
    assert (
        key
        == hashlib.sha256(
            b"https://github.com/org/repo.git|main|overlays/dev/values.yaml"
        ).hexdigest()[:8]
    )
    assert pull_request_branch(key, changes) == f"image-updater-{key}-{expected}"


def test_branch_templates_render_with_upstreams_fields_and_are_capped_at_255() -> None:
    changes = [CommitChange("example/app", "1.0.0", "1.0.1", alias="app")]
    name = render_branch(
        "image-updater/{{ .AppNamespace }}/{{ .AppName }}/{{ (index .Images 0).NewTag }}",
        changes=changes,
        app_name="web",
        app_namespace="team",
    )
    assert name == "image-updater/team/web/1.0.1"
    assert (
        len(render_branch("x{{ range .Images }}" + "y" * 300 + "{{ end }}", changes=changes)) == 255
    )
    with pytest.raises(TemplateError):
        render_branch("{{ .Nope.Deeper }}", changes=changes)
    with pytest.raises(InvalidInput):
        render_branch("{{ if }}", changes=changes)


def test_pull_request_text_is_the_first_line_and_the_rest() -> None:
    assert pull_request_text("title\n\nbody\n", namespace="ns", app_name="a") == ("title", "body")
    title, body = pull_request_text("", namespace="ns", app_name="a")
    assert title == "chore: update images for ns/a"
    assert body == (
        "This pull request was created automatically by argocd-image-updater for application ns/a."
    )


def test_a_misspelt_field_fails_as_upstreams_struct_fields_do(tmp_path: Path) -> None:
    template = Template.parse("build: {{ .AppNmae }}")
    rendered = commit_message(template, "web", sample_changes())
    assert rendered.text == "build: update of application web"
    assert rendered.problem is not None
    assert "can't evaluate field AppNmae" in rendered.problem
    path = tmp_path / "typo.template"
    path.write_text("{{ range .AppChanges }}{{ .Tag }}{{ end }}")
    done = template_cmd(str(path))
    assert done.returncode == 2
    assert "can't evaluate field Tag" in done.stderr
