"""`image-updater test --output json` for every strategy, against the real registry."""

from __future__ import annotations

from typing import Any

import pytest

from devcluster.registry import LocalRegistry

from .conftest import Seed, seed, write_conf

ARM = ("linux/arm64/v8",)
BOTH = ("linux/amd64", "linux/arm64/v8")


@pytest.fixture(scope="module")
def app(registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One repository seeded once for the module; the tests only read it."""
    repository = "cli-test/strategies"
    digests = seed(
        registry.url,
        repository,
        [
            Seed("1.0.0", days=1),
            Seed("1.2.0", days=2, media="oci"),
            Seed("1.10.0", days=3, platforms=BOTH),
            Seed("2.0.0-rc.1", days=4, platforms=BOTH, media="oci"),
            Seed("v1.9", days=5),
            Seed("latest", days=6, platforms=BOTH),
            Seed("arm-only", days=7, platforms=ARM),
        ],
    )
    conf = write_conf(tmp_path_factory.mktemp("conf") / "registries.conf", registry.url)
    return {
        "image": f"{registry.host}/{repository}",
        "conf": str(conf),
        "digests": digests,
    }


@pytest.mark.parametrize(
    ("args", "tag", "candidates"),
    [
        pytest.param([], "1.10.0", {"1.0.0", "1.2.0", "1.10.0", "v1.9"}, id="no-constraint"),
        pytest.param(["--semver-constraint", "~1.2"], "1.2.0", {"1.2.0"}, id="tilde"),
        pytest.param(
            ["--semver-constraint", "<1.10"],
            "v1.9",
            {"1.0.0", "1.2.0", "v1.9"},
            id="v-prefix-compares-as-semver",
        ),
        pytest.param(
            ["--semver-constraint", ">=2.0.0-0"],
            "2.0.0-rc.1",
            {"2.0.0-rc.1"},
            id="prerelease-only-when-asked",
        ),
        pytest.param(
            ["--ignore-tags", "1.1*"], "v1.9", {"1.0.0", "1.2.0", "v1.9"}, id="ignore-tags"
        ),
        pytest.param(
            ["--allow-tags", "regexp:^1\\.[02]"], "1.2.0", {"1.0.0", "1.2.0"}, id="allow-tags"
        ),
        pytest.param(["--semver-constraint", "3.x"], None, set(), id="nothing-qualifies"),
    ],
)
def test_semver_picks_the_highest_allowed_version(
    app: dict[str, Any], run_cli: Any, args: list[str], tag: str | None, candidates: set[str]
) -> None:
    outcome = run_cli(
        app["image"], "--registries-conf-path", app["conf"], "--output", "json", *args
    )
    assert outcome.code == 0, outcome.err
    document = outcome.json
    assert set(document) == {"image", "strategy", "constraint", "tag", "digest", "candidates"}
    assert document["image"] == app["image"]
    assert document["strategy"] == "semver"
    assert document["tag"] == tag
    assert document["digest"] is None
    assert set(document["candidates"]) == candidates


def test_the_image_tag_is_the_constraint_when_no_flag_gives_one(
    app: dict[str, Any], run_cli: Any
) -> None:
    outcome = run_cli(
        f"{app['image']}:1.0", "--registries-conf-path", app["conf"], "--output", "json"
    )
    assert outcome.code == 0, outcome.err
    assert (outcome.json["constraint"], outcome.json["tag"]) == ("1.0", "1.0.0")


@pytest.mark.parametrize(
    ("platforms", "tag"),
    [
        pytest.param("linux/amd64", "latest", id="amd64"),
        pytest.param("linux/arm64", "arm-only", id="arm64-takes-the-v8-variant"),
        pytest.param("linux/s390x", None, id="no-image-for-the-platform"),
    ],
)
def test_newest_build_picks_the_newest_image_for_the_platforms(
    app: dict[str, Any], run_cli: Any, platforms: str, tag: str | None
) -> None:
    outcome = run_cli(
        app["image"],
        "--registries-conf-path",
        app["conf"],
        "--output",
        "json",
        "--update-strategy",
        "newest-build",
        "--platforms",
        platforms,
    )
    assert outcome.code == 0, outcome.err
    document = outcome.json
    assert document["strategy"] == "newest-build"
    assert document["tag"] == tag
    assert document["digest"] == (app["digests"][tag] if tag else None)
    assert len(document["candidates"]) == 7


def test_the_deprecated_latest_alias_means_newest_build(app: dict[str, Any], run_cli: Any) -> None:
    outcome = run_cli(
        app["image"],
        "--registries-conf-path",
        app["conf"],
        "--output",
        "json",
        "--update-strategy",
        "latest",
        "--platforms",
        "linux/amd64,linux/arm64",
    )
    assert outcome.code == 0, outcome.err
    assert (outcome.json["strategy"], outcome.json["tag"]) == ("newest-build", "arm-only")
    assert "deprecated" in outcome.err


def test_alphabetical_picks_the_lexically_greatest_tag(app: dict[str, Any], run_cli: Any) -> None:
    outcome = run_cli(
        app["image"],
        "--registries-conf-path",
        app["conf"],
        "--output",
        "json",
        "--update-strategy",
        "alphabetical",
        "--ignore-tags",
        "v*",
    )
    assert outcome.code == 0, outcome.err
    assert (outcome.json["strategy"], outcome.json["tag"]) == ("alphabetical", "latest")
    assert "v1.9" not in outcome.json["candidates"]


@pytest.mark.parametrize(
    "argv_tail",
    [
        pytest.param([":latest"], id="tag-from-image"),
        pytest.param(["", "--semver-constraint", "latest"], id="tag-from-flag"),
    ],
)
def test_digest_follows_a_tag_and_reports_the_index_digest(
    app: dict[str, Any], run_cli: Any, argv_tail: list[str]
) -> None:
    image = app["image"] + argv_tail[0]
    outcome = run_cli(
        image,
        *argv_tail[1:],
        "--registries-conf-path",
        app["conf"],
        "--output",
        "json",
        "--update-strategy",
        "digest",
    )
    assert outcome.code == 0, outcome.err
    document = outcome.json
    assert document == {
        "image": app["image"],
        "strategy": "digest",
        "constraint": "latest",
        "tag": "latest",
        "digest": app["digests"]["latest"],
        "candidates": ["latest"],
    }


def test_digest_of_an_image_for_another_platform_is_no_result(
    app: dict[str, Any], run_cli: Any
) -> None:
    outcome = run_cli(
        f"{app['image']}:arm-only",
        "--registries-conf-path",
        app["conf"],
        "--output",
        "json",
        "--update-strategy",
        "digest",
        "--platforms",
        "linux/amd64",
    )
    assert outcome.code == 0, outcome.err
    assert (outcome.json["tag"], outcome.json["digest"]) == (None, None)


def test_digest_of_a_missing_tag_is_no_result(app: dict[str, Any], run_cli: Any) -> None:
    outcome = run_cli(
        f"{app['image']}:gone",
        "--registries-conf-path",
        app["conf"],
        "--output",
        "json",
        "--update-strategy",
        "digest",
    )
    assert outcome.code == 0, outcome.err
    assert (outcome.json["tag"], outcome.json["candidates"]) == (None, [])


def test_text_output_ends_with_the_selected_image(app: dict[str, Any], run_cli: Any) -> None:
    outcome = run_cli(app["image"], "--registries-conf-path", app["conf"])
    assert outcome.code == 0, outcome.err
    last = outcome.out.splitlines()[-1]
    assert last == f"latest image according to constraint is {app['image']}:1.10.0"


def test_text_output_says_when_nothing_qualifies(app: dict[str, Any], run_cli: Any) -> None:
    outcome = run_cli(
        app["image"], "--registries-conf-path", app["conf"], "--semver-constraint", "9.x"
    )
    assert outcome.code == 0, outcome.err
    assert outcome.out.splitlines()[-1] == "no matching tag found"


def test_logs_go_to_stderr_and_stdout_stays_clean(app: dict[str, Any], run_cli: Any) -> None:
    outcome = run_cli(
        app["image"],
        "--registries-conf-path",
        app["conf"],
        "--output",
        "json",
        "--loglevel",
        "debug",
    )
    assert outcome.code == 0
    assert "retrieving information about image" in outcome.err
    assert outcome.json["tag"] == "1.10.0"
