"""Which paths lint reads: --exclude globs and Helm chart templates, as pure rules."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from imageupdater.lint import chart_template, excluded


@pytest.mark.parametrize(
    ("path", "pattern", "is_dir", "expected"),
    [
        pytest.param("charts", "charts", True, True, id="name-matches-the-directory"),
        pytest.param("a/charts/x.yaml", "charts", False, True, id="name-matches-any-component"),
        pytest.param("a/b.tmpl.yaml", "*.tmpl.yaml", False, True, id="name-glob-on-file-name"),
        pytest.param("charts2/x.yaml", "charts", False, False, id="name-is-whole-component"),
        pytest.param("Charts/x.yaml", "charts", False, False, id="case-sensitive"),
        pytest.param("envs/prod/app.yaml", "envs/prod", False, True, id="path-matches-prefix"),
        pytest.param("x/envs/prod/a.yaml", "envs/prod", False, False, id="path-is-anchored"),
        pytest.param("envs/a/secrets/s.yaml", "envs/*/secrets", False, True, id="path-glob"),
        pytest.param(
            "envs/a/b/secrets/s.yaml", "envs/*/secrets", False, True, id="star-spans-slash"
        ),
        pytest.param("charts/x.yaml", "/charts", False, True, id="leading-slash-anchors"),
        pytest.param("a/charts/x.yaml", "/charts", False, False, id="leading-slash-top-only"),
        pytest.param("charts/x.yaml", "./charts", False, True, id="leading-dot-slash"),
        pytest.param("vendor", "vendor/", True, True, id="trailing-slash-directory"),
        pytest.param("vendor", "vendor/", False, False, id="trailing-slash-not-a-file"),
        pytest.param("vendor/x.yaml", "vendor/", False, True, id="trailing-slash-below"),
        pytest.param("./a/x.yaml", "a", False, True, id="dot-components-ignored"),
        pytest.param("app.yaml", "ap?.y[am]ml", False, True, id="question-mark-and-set"),
    ],
)
def test_exclude_globs_match_components_or_anchored_paths(
    path: str, pattern: str, is_dir: bool, expected: bool
) -> None:
    assert excluded(path, [pattern], is_dir=is_dir) is expected


def test_no_patterns_exclude_nothing() -> None:
    assert not excluded("a/b.yaml", [])


def test_any_of_several_patterns_excludes() -> None:
    assert excluded("b/x.yaml", ["a", "b"])


CHARTS = {PurePosixPath("/repo/charts/web"), PurePosixPath("/repo/charts/web/charts/db")}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/repo/charts/web/templates/deploy.yaml", True, id="chart-template"),
        pytest.param("/repo/charts/web/templates/sub/cm.yaml", True, id="nested-template"),
        pytest.param("/repo/charts/web/charts/db/templates/s.yaml", True, id="subchart"),
        pytest.param("/repo/charts/web/values.yaml", False, id="chart-values"),
        pytest.param("/repo/templates/app.yaml", False, id="templates-without-chart"),
    ],
)
def test_files_below_a_charts_templates_directory_are_chart_templates(
    path: str, expected: bool
) -> None:
    assert chart_template(PurePosixPath(path), CHARTS.__contains__) is expected
