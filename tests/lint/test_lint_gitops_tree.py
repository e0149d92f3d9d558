"""`image-updater lint` on a GitOps repository: charts, kustomize, ApplicationSets, excludes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from imageupdater import cli
from imageupdater.annotations import PREFIX

BAD_APP = textwrap.dedent(
    f"""\
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: guestbook
      namespace: argocd
      annotations:
        {PREFIX}image-list: web=ghcr.io/org/guestbook:1.x
        {PREFIX}web.update-stratgy: semver
    """
)

APPSET = textwrap.dedent(
    f"""\
    apiVersion: argoproj.io/v1alpha1
    kind: ApplicationSet
    metadata:
      name: teams
      namespace: argocd
    spec:
      goTemplate: true
      generators:
      - git:
          repoURL: https://github.com/org/gitops.git
          revision: main
          files: [{{path: "teams/*/config.json"}}]
      template:
        metadata:
          name: '{{{{ .team }}}}-web'
          annotations:
            {PREFIX}image-list: 'web={{{{ .values.image }}}}'
            {PREFIX}web.update-strategy: digest
            {PREFIX}web.force-update: "yes please"
        spec:
          project: default
          source:
            repoURL: https://github.com/org/gitops.git
            path: '{{{{ .path.path }}}}'
            targetRevision: main
          destination: {{server: https://kubernetes.default.svc, namespace: '{{{{ .team }}}}'}}
    """
)

FILES = {
    "apps/kustomization.yaml": "resources:\n- guestbook.yaml\n",
    "apps/guestbook.yaml": BAD_APP,
    "appsets/teams.yaml": APPSET,
    "broken/values.yaml": "image:\n  tag: [1.2\n",
    "charts/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "charts/web/values.yaml": "x: nginx\n",
    "charts/web/templates/deployment.yaml": textwrap.dedent(
        """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {{ .Release.Name }}-web
        spec:
          template:
            spec:
              containers:
              - name: web
                image: {{ .Values.x }}
        """
    ),
    # YAML as it stands, but Helm renders it: skipped for where it lives.
    "charts/web/templates/app.yaml": BAD_APP.replace("guestbook", "{{ .Release.Name }}"),
    "updaters/updater.yaml": textwrap.dedent(
        """\
        apiVersion: argocd-image-updater.argoproj.io/v1alpha1
        kind: ImageUpdater
        metadata:
          name: all
          namespace: argocd
        spec:
          applicationRefs: [{namePattern: "*", useAnnotations: true}]
        """
    ),
    "vendor/upstream/bad.yaml": BAD_APP.replace("guestbook", "vendored"),
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "gitops"
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def expected_lines(root: Path) -> list[str]:
    return [
        f"{root}/apps/guestbook.yaml: argocd/guestbook: {PREFIX}web.update-stratgy: unknown "
        f"annotation; did you mean '{PREFIX}web.update-strategy'?",
        f"{root}/appsets/teams.yaml: argocd/teams: {PREFIX}image-list: skipped: the value has "
        "the template expression '{{ .values.image }}', which lint does not evaluate",
        f"{root}/appsets/teams.yaml: argocd/teams: {PREFIX}web.force-update: invalid boolean "
        "'yes please'; expected true or false (also accepted: 1, t, T, TRUE, True, 0, f, F, "
        "FALSE, False)",
        f"{root}/broken/values.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>'",
        f"{root}/charts/web/templates/app.yaml: skipped: a Helm/Go template, not YAML until "
        "rendered",
        f"{root}/charts/web/templates/deployment.yaml: skipped: a Helm/Go template, not YAML "
        "until rendered",
    ]


def test_a_gitops_repository_is_checked_with_templates_skipped_and_vendor_excluded(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lint", "--exclude", "vendor", str(repo)]) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    assert out.splitlines() == expected_lines(repo)
    assert err == ""


def test_without_exclude_the_vendored_directory_is_checked_too(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lint", str(repo)]) == cli.EXIT_FAILED
    assert f"{repo}/vendor/upstream/bad.yaml: argocd/vendored: " in capsys.readouterr().out


def test_quiet_prints_only_the_errors(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["lint", "-q", "--exclude", "vendor/", str(repo)]) == cli.EXIT_FAILED
    assert capsys.readouterr().out.splitlines() == [
        line for index, line in enumerate(expected_lines(repo)) if index in (0, 2, 3)
    ]


def test_skipped_templates_and_notes_alone_exit_0(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = str(repo / "charts")
    assert cli.main(["lint", chart]) == cli.EXIT_OK
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_excludes_compose_anchored_paths_and_file_names(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--exclude", "/vendor", "--exclude", "apps/*", "--exclude", "updater.yaml"]
    args += ["--exclude", "broken/", "--exclude", "templates"]
    assert cli.main(["lint", *args, str(repo)]) == cli.EXIT_FAILED
    sources = {line.split(":", 1)[0] for line in capsys.readouterr().out.splitlines()}
    assert sources == {f"{repo}/appsets/teams.yaml"}


def test_a_named_file_matching_an_exclude_is_skipped(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = str(repo / "vendor/upstream/bad.yaml")
    assert cli.main(["lint", "--exclude", "vendor", bad]) == cli.EXIT_OK
    assert capsys.readouterr() == ("", "")


def test_a_chart_template_named_on_its_own_is_still_skipped(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo / "charts/web/templates")
    assert cli.main(["lint", "app.yaml"]) == cli.EXIT_OK
    assert capsys.readouterr().out == (
        "app.yaml: skipped: a Helm/Go template, not YAML until rendered\n"
    )


def test_a_directory_whose_yaml_is_all_excluded_is_an_input_error(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["lint", "--exclude", "*.yaml", str(repo)]) == cli.EXIT_INVALID
    assert capsys.readouterr().err == (
        f"image-updater lint: {repo}: no *.yaml or *.yml files found that --exclude does not skip\n"
    )


def test_an_empty_exclude_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        cli.main(["lint", "--exclude", "/", "x.yaml"])
    assert caught.value.code == cli.EXIT_INVALID
    assert "argument --exclude: '/' matches nothing" in capsys.readouterr().err


# Through the installed command, as CI runs it.

KUSTOMIZE_OUTPUT = textwrap.dedent(
    f"""\
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shop
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      namespace: shop
    spec:
      template:
        spec:
          containers:
          - image: ghcr.io/org/web:1.4.2
            name: web
    ---
    apiVersion: argoproj.io/v1alpha1
    kind: Application
    metadata:
      name: shop
      namespace: argocd
      annotations:
        {PREFIX}image-list: web=ghcr.io/org/web
        {PREFIX}web.update-strategy: latest
    """
)


def lint(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "imageupdater.cli", "lint", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kustomize_output_piped_to_lint_dash_is_checked_and_warnings_exit_0() -> None:
    done = lint("-", stdin=KUSTOMIZE_OUTPUT)
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith(
        f"<stdin>: argocd/shop: {PREFIX}web.update-strategy: warning: update strategy 'latest' "
    )
    assert done.stderr == ""


def test_an_error_on_stdin_exits_1() -> None:
    done = lint(
        "-", stdin=KUSTOMIZE_OUTPUT.replace("update-strategy: latest", "update-strategy: newest")
    )
    assert done.returncode == 1
    assert f"<stdin>: argocd/shop: {PREFIX}web.update-strategy: " in done.stdout


def test_a_rendered_helm_template_on_stdin_is_a_note_and_exits_0() -> None:
    done = lint("--quiet", "-", stdin="kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n")
    assert (done.returncode, done.stdout) == (0, "")
    done = lint("-", stdin="kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n")
    assert (done.returncode, done.stdout) == (
        0,
        "<stdin>: skipped: a Helm/Go template, not YAML until rendered\n",
    )


def test_the_command_exits_1_on_broken_yaml_and_2_on_a_missing_file(repo: Path) -> None:
    broken = lint(str(repo / "broken/values.yaml"))
    assert broken.returncode == 1
    assert broken.stdout.startswith(f"{repo}/broken/values.yaml:3: invalid YAML: ")
    missing = lint(str(repo / "nope.yaml"), str(repo / "apps"))
    assert missing.returncode == 2
    assert "nope.yaml: cannot read: No such file or directory" in missing.stderr
