"""`image-updater test`: invalid input exits 2, registry trouble exits 1, one line each,
and no credential ever reaches the output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devcluster.faultregistry import FaultRegistry, Kind
from devcluster.registry import LocalRegistry, free_port
from tests.conftest import AUTH_PASSWORD, AUTH_USER

from .conftest import Seed, seed, write_conf


@pytest.fixture
def conf(tmp_path: Path, registry: LocalRegistry) -> str:
    return str(write_conf(tmp_path / "registries.conf", registry.url))


@pytest.mark.parametrize(
    ("args", "flag", "detail"),
    [
        pytest.param(
            ["--update-strategy", "fastest"],
            "--update-strategy",
            "'fastest'",
            id="unknown-strategy",
        ),
        pytest.param(
            ["--semver-constraint", ">=1.0 <<2"],
            "--semver-constraint",
            ">=1.0 <<2",
            id="bad-constraint",
        ),
        pytest.param(["--platforms", "linux"], "--platforms", "'linux'", id="bad-platform"),
        pytest.param(
            ["--allow-tags", "regexp:(unclosed"], "--allow-tags", "(unclosed", id="bad-allow-regexp"
        ),
        pytest.param(
            ["--allow-tags", "semver"], "--allow-tags", "semver", id="allow-tags-without-prefix"
        ),
        pytest.param(["--ignore-tags", "[z-a"], "--ignore-tags", "[z-a", id="bad-ignore-glob"),
        pytest.param(["--rate-limit", "0"], "--rate-limit", "'0'", id="zero-rate-limit"),
        pytest.param(["--timeout", "soon"], "--timeout", "'soon'", id="bad-timeout"),
        pytest.param(
            ["--update-strategy", "digest"], "IMAGE", "tag to follow", id="digest-without-a-tag"
        ),
        pytest.param(
            ["--credentials", "pullsecret:argocd/regcred"],
            "--credentials",
            "--kubeconfig",
            id="pull-secret-without-kubeconfig",
        ),
    ],
)
def test_invalid_input_exits_2_naming_the_flag_and_value(
    run_cli: Any, registry: LocalRegistry, conf: str, args: list[str], flag: str, detail: str
) -> None:
    outcome = run_cli(f"{registry.host}/cli/errors", "--registries-conf-path", conf, *args)
    assert outcome.code == 2
    line = outcome.error_line
    assert flag in line and detail in line
    assert outcome.out == ""


def test_an_invalid_image_reference_exits_2(run_cli: Any) -> None:
    outcome = run_cli("UPPER/Case:Bad Tag!")
    assert outcome.code == 2
    assert "IMAGE" in outcome.error_line


def test_a_missing_registries_conf_exits_2(run_cli: Any, tmp_path: Path) -> None:
    outcome = run_cli("nginx", "--registries-conf-path", str(tmp_path / "nope.conf"))
    assert outcome.code == 2
    assert "--registries-conf-path" in outcome.error_line


def test_a_malformed_credential_reference_is_not_echoed(run_cli: Any, conf: str) -> None:
    outcome = run_cli("nginx", "--registries-conf-path", conf, "--credentials", "admin:s3cr3t-pa55")
    assert outcome.code == 2
    assert "--credentials" in outcome.error_line
    assert "s3cr3t-pa55" not in outcome.err + outcome.out


def test_an_unreachable_registry_exits_1_naming_its_host(run_cli: Any, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    conf = write_conf(tmp_path / "registries.conf", url)
    outcome = run_cli(f"{url.removeprefix('http://')}/app", "--registries-conf-path", str(conf))
    assert outcome.code == 1
    line = outcome.error_line
    assert url.removeprefix("http://") in line and "cannot connect" in line


def test_a_registry_without_the_v2_api_exits_1(
    run_cli: Any, tmp_path: Path, threaded_fault_registry: FaultRegistry
) -> None:
    host = threaded_fault_registry.url.removeprefix("http://")
    conf = write_conf(
        tmp_path / "registries.conf", threaded_fault_registry.url + "/not-here", prefix=host
    )
    outcome = run_cli(f"{host}/app", "--registries-conf-path", str(conf))
    assert outcome.code == 1
    assert "is not a Docker v2 registry API" in outcome.error_line


def test_an_unknown_repository_exits_1(run_cli: Any, registry: LocalRegistry, conf: str) -> None:
    outcome = run_cli(f"{registry.host}/cli/never-pushed", "--registries-conf-path", conf)
    assert outcome.code == 1
    assert "not found" in outcome.error_line


def test_malformed_json_exits_1_with_one_line(
    run_cli: Any, tmp_path: Path, threaded_fault_registry: FaultRegistry
) -> None:
    threaded_fault_registry.add_tags("app", ["1.0", "1.1", "1.2"])
    threaded_fault_registry.malformed(kinds=[Kind.TAGS])
    conf = write_conf(tmp_path / "registries.conf", threaded_fault_registry.url)
    host = threaded_fault_registry.url.removeprefix("http://")
    outcome = run_cli(f"{host}/app", "--registries-conf-path", str(conf), "--output", "json")
    assert outcome.code == 1
    assert "not valid JSON" in outcome.error_line and host in outcome.error_line
    assert outcome.out == ""


def test_a_slow_registry_times_out_and_exits_1(
    run_cli: Any, tmp_path: Path, threaded_fault_registry: FaultRegistry
) -> None:
    threaded_fault_registry.add_tags("app", ["1.0"])
    threaded_fault_registry.slow(3.0, kinds=[Kind.TAGS])
    conf = write_conf(tmp_path / "registries.conf", threaded_fault_registry.url)
    host = threaded_fault_registry.url.removeprefix("http://")
    outcome = run_cli(f"{host}/app", "--registries-conf-path", str(conf), "--timeout", "0.3")
    assert outcome.code == 1
    assert "timed out" in outcome.error_line


def test_a_rate_limited_registry_is_waited_for(
    run_cli: Any, tmp_path: Path, threaded_fault_registry: FaultRegistry
) -> None:
    threaded_fault_registry.add_tags("app", ["1.0", "1.1"])
    threaded_fault_registry.rate_limit(1, retry_after=1, kinds=[Kind.TAGS])
    conf = write_conf(tmp_path / "registries.conf", threaded_fault_registry.url)
    host = threaded_fault_registry.url.removeprefix("http://")
    outcome = run_cli(f"{host}/app", "--registries-conf-path", str(conf), "--output", "json")
    assert outcome.code == 0, outcome.err
    assert outcome.json["tag"] == "1.1"
    assert threaded_fault_registry.count(Kind.TAGS) == 2


def test_tagsortmode_orders_newest_build_without_reading_manifests(
    run_cli: Any, tmp_path: Path, threaded_fault_registry: FaultRegistry
) -> None:
    threaded_fault_registry.add_tags("app", ["a", "b", "c"])
    conf = write_conf(
        tmp_path / "registries.conf", threaded_fault_registry.url, tagsortmode="latest-first"
    )
    host = threaded_fault_registry.url.removeprefix("http://")
    outcome = run_cli(
        f"{host}/app",
        "--registries-conf-path",
        str(conf),
        "--output",
        "json",
        "--update-strategy",
        "newest-build",
    )
    assert outcome.code == 0, outcome.err
    assert outcome.json["tag"] == "a"  # served first, so the newest
    counts = threaded_fault_registry.counts()
    assert counts[Kind.MANIFEST_GET] == counts[Kind.MANIFEST_HEAD] == counts[Kind.BLOB] == 0


# -- credentials ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_image(auth_registry: LocalRegistry) -> str:
    seed(
        auth_registry.url,
        "cli/private",
        [Seed("1.0"), Seed("1.1")],
        username=AUTH_USER,
        password=AUTH_PASSWORD,
    )
    return f"{auth_registry.host}/cli/private"


def test_credentials_from_the_flag_open_a_private_registry(
    run_cli: Any,
    tmp_path: Path,
    auth_registry: LocalRegistry,
    private_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLI_TEST_CREDS", f"{AUTH_USER}:{AUTH_PASSWORD}")
    conf = write_conf(tmp_path / "registries.conf", auth_registry.url)
    outcome = run_cli(
        private_image,
        "--registries-conf-path",
        str(conf),
        "--output",
        "json",
        "--credentials",
        "env:CLI_TEST_CREDS",
    )
    assert outcome.code == 0, outcome.err
    assert outcome.json["tag"] == "1.1"


def test_credentials_from_registries_conf_open_a_private_registry(
    run_cli: Any,
    tmp_path: Path,
    auth_registry: LocalRegistry,
    private_image: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLI_TEST_CREDS", f"{AUTH_USER}:{AUTH_PASSWORD}")
    conf = write_conf(
        tmp_path / "registries.conf", auth_registry.url, credentials="env:CLI_TEST_CREDS"
    )
    outcome = run_cli(private_image, "--registries-conf-path", str(conf), "--output", "json")
    assert outcome.code == 0, outcome.err
    assert outcome.json["tag"] == "1.1"


@pytest.mark.parametrize("loglevel", ["info", "trace"])
def test_wrong_credentials_exit_1_and_never_appear_in_the_output(
    run_cli: Any,
    tmp_path: Path,
    auth_registry: LocalRegistry,
    private_image: str,
    monkeypatch: pytest.MonkeyPatch,
    loglevel: str,
) -> None:
    monkeypatch.setenv("CLI_TEST_CREDS", f"{AUTH_USER}:Wr0ng-Pa55word")
    conf = write_conf(tmp_path / "registries.conf", auth_registry.url)
    outcome = run_cli(
        private_image,
        "--registries-conf-path",
        str(conf),
        "--loglevel",
        loglevel,
        "--credentials",
        "env:CLI_TEST_CREDS",
    )
    assert outcome.code == 1
    line = outcome.error_line
    assert auth_registry.host in line and "401" in line
    everything = outcome.out + outcome.err
    assert "Wr0ng-Pa55word" not in everything
    assert "Authorization" not in everything and "Basic " not in everything


def test_missing_credentials_for_a_private_registry_exit_1(
    run_cli: Any, tmp_path: Path, auth_registry: LocalRegistry, private_image: str
) -> None:
    conf = write_conf(tmp_path / "registries.conf", auth_registry.url)
    outcome = run_cli(private_image, "--registries-conf-path", str(conf))
    assert outcome.code == 1
    assert "without credentials" in outcome.error_line
