"""`image-updater lint`: output lines, exit codes, stdin, directories and unreadable files."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

from imageupdater import cli
from imageupdater.annotations import PREFIX

MIXED = textwrap.dedent(
    f"""\
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: good
      namespace: argocd
      annotations:
        {PREFIX}image-list: web=nginx:1.x
        {PREFIX}web.force-update: "true"
    ---
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: bad
      annotations:
        {PREFIX}image-list: web=nginx:1.x, api=redis
        {PREFIX}web.update-stratgy: semver
        {PREFIX}api.update-strategy: name
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: not-an-app
      annotations:
        {PREFIX}image-list: "=x"
    ---
    apiVersion: v1
    kind: List
    items:
    - apiVersion: argoproj.io/v1alpha1
      kind: Application
      metadata:
        name: listed
        namespace: team
        annotations:
          {PREFIX}image-list: nginx
          {PREFIX}write-back-method: git:secret:other/creds
    """
)

GOOD = textwrap.dedent(
    f"""\
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: good
      annotations:
        {PREFIX}image-list: nginx
    """
)

WARN_ONLY = GOOD.replace(
    "image-list: nginx", "image-list: nginx\n    " + PREFIX + "update-strategy: latest"
)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_multi_document_file_reports_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "apps.yaml", MIXED)
    assert cli.main(["lint", path]) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{path}: default/bad: {PREFIX}api.update-strategy: warning: update strategy 'name' "
        "is a deprecated name for 'alphabetical'; write 'alphabetical' instead",
        f"{path}: default/bad: {PREFIX}web.update-stratgy: unknown annotation; did you mean "
        f"'{PREFIX}web.update-strategy'?",
        f"{path}: team/listed: {PREFIX}write-back-method: git credentials "
        "'git:secret:other/creds' read a secret in namespace 'other', but an Application may "
        "only use secrets of its own namespace 'team'",
    ]
    assert err == ""


def test_a_clean_file_prints_nothing_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lint", write(tmp_path, "ok.yaml", GOOD)]) == cli.EXIT_OK
    assert capsys.readouterr() == ("", "")


def test_warnings_alone_exit_0_and_quiet_hides_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "warn.yaml", WARN_ONLY)
    assert cli.main(["lint", path]) == cli.EXIT_OK
    deprecated, rate_limit = capsys.readouterr().out.splitlines()
    assert deprecated.startswith(f"{path}: default/good: {PREFIX}update-strategy: warning: ")
    # The check the webhook makes on a valid configuration: lint says it too.
    assert rate_limit == (
        f"{path}: default/good: warning: image 'nginx': newest-build reads a manifest per tag, "
        "which counts against Docker Hub's pull rate limit; prefer semver or alphabetical there"
    )
    assert cli.main(["lint", "--quiet", path]) == cli.EXIT_OK
    assert capsys.readouterr().out == ""


def test_standard_input_is_read_for_a_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD.replace("nginx", "'=nginx'")))
    assert cli.main(["lint", "-"]) == cli.EXIT_FAILED
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"<stdin>: default/good: {PREFIX}image-list: entry '=nginx' ")


def test_a_yaml_syntax_error_is_one_line_with_its_position_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "broken.yaml", "kind: Application\nmetadata: {name: x\n")
    assert cli.main(["lint", path]) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"{path}:3: invalid YAML: expected ',' or '}}', but got '<stream end>'"
    ]
    assert "Traceback" not in err


def test_an_unreadable_file_is_reported_on_stderr_and_exits_2_after_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "ok.yaml", GOOD)
    missing = str(tmp_path / "missing.yaml")
    assert cli.main(["lint", missing, good]) == cli.EXIT_INVALID
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"image-updater lint: {missing}: cannot read: No such file or directory\n"


def test_a_file_that_is_not_utf8_is_unreadable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    assert cli.main(["lint", str(path)]) == cli.EXIT_INVALID
    assert capsys.readouterr().err.startswith(f"image-updater lint: {path}: cannot read: ")


def test_a_directory_is_searched_recursively_for_yaml_files_in_name_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = GOOD.replace("image-list: nginx", "image-list: '=x'")
    second = write(tmp_path, "b/nested/two.yml", bad)
    first = write(tmp_path, "a.yaml", bad)
    write(tmp_path, "notes.txt", bad)
    assert cli.main(["lint", str(tmp_path)]) == cli.EXIT_FAILED
    sources = [line.split(":", 1)[0] for line in capsys.readouterr().out.splitlines()]
    assert sources == [first, second]


def test_a_directory_without_yaml_files_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lint", str(tmp_path)]) == cli.EXIT_INVALID
    assert capsys.readouterr().err == (
        f"image-updater lint: {tmp_path}: no *.yaml or *.yml files found\n"
    )


def test_lint_without_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["lint"])
    assert caught.value.code == cli.EXIT_INVALID
    assert "the following arguments are required: FILE" in capsys.readouterr().err


def test_help_documents_the_output_format_and_exit_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["lint", "--help"])
    text = capsys.readouterr().out
    assert "<file>: <namespace>/<name>: <annotation key>: <message>" in text
    assert "searched recursively for *.yaml and *.yml" in text
    assert "Exit status: 0 no errors" in text


@pytest.mark.parametrize(
    "status",
    ["status: broken", "status:\n  summary: [1]", "status:\n  summary:\n    images: [7, {}]"],
)
def test_a_status_of_any_shape_is_read_as_no_live_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    path = write(tmp_path, "odd.yaml", GOOD.rstrip("\n") + "\n" + status + "\n")
    assert cli.main(["lint", path]) == cli.EXIT_OK
    assert capsys.readouterr().out == ""
