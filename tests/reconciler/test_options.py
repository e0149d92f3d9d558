"""RunOptions: the `run` flags and upstream's environment variables, read once into typed,
frozen values (flags win), every invalid value refused with a message naming it."""

from __future__ import annotations

import dataclasses

import pytest

from imageupdater.cli import build_parser
from imageupdater.credentials import CredentialRules
from imageupdater.errors import InvalidInput
from reconciler.options import RunOptions


def options(*flags: str, env: dict[str, str] | None = None) -> RunOptions:
    return RunOptions.from_args(build_parser().parse_args(["run", *flags]), env or {})


def test_without_flags_or_environment_the_defaults_are_upstreams() -> None:
    got = options()
    assert got.interval == 120.0
    assert (got.once, got.dry_run, got.max_concurrency) == (False, False, 10)
    assert got.credentials == CredentialRules()
    assert (got.applications_api, got.argocd_server_addr, got.argocd_token) == (
        "kubernetes",
        "",
        "",
    )
    assert (got.argocd_plaintext, got.argocd_insecure, got.argocd_grpc_web) == (
        False,
        False,
        False,
    )
    assert (got.argocd_namespace, got.namespaces, got.label_selector, got.name_patterns) == (
        None,
        (),
        None,
        (),
    )
    assert (got.kube_events, got.leader_election) == (True, False)
    assert (got.lease_namespace, got.lease_name) == ("argocd", "image-updater-leader")
    assert (got.listen_address, got.health_port, got.metrics_port) == ("0.0.0.0", 8080, 8081)
    assert (got.loglevel, got.logformat) == ("info", "text")
    assert (got.registries_conf_path, got.kubeconfig) == (None, None)


ENV = {
    "IMAGE_UPDATER_INTERVAL": "30s",
    "MAX_CONCURRENCY": "4",
    "APPLICATIONS_API": "argocd",
    "ARGOCD_SERVER": "argocd-server.argocd:443",
    "ARGOCD_GRPC_WEB": "yes",
    "ARGOCD_INSECURE": "true",
    "ARGOCD_PLAINTEXT": "1",
    "ARGOCD_TOKEN": "s3cret",
    "ARGOCD_NAMESPACE": "argocd",
    "IMAGE_UPDATER_LOGLEVEL": "debug",
    "IMAGE_UPDATER_LOGFORMAT": "json",
    "IMAGE_UPDATER_KUBE_EVENTS": "true",  # upstream's naming: true disables Events
    "POD_NAMESPACE": "ops",
}


def test_the_environment_fills_what_the_flags_leave_unset() -> None:
    got = options(env=ENV)
    assert (got.interval, got.max_concurrency) == (30.0, 4)
    assert (got.applications_api, got.argocd_server_addr) == (
        "argocd",
        "argocd-server.argocd:443",
    )
    assert (got.argocd_grpc_web, got.argocd_insecure, got.argocd_plaintext) == (True, True, True)
    assert (got.argocd_token, got.argocd_namespace) == ("s3cret", "argocd")
    assert (got.loglevel, got.logformat) == ("debug", "json")
    assert (got.kube_events, got.lease_namespace) == (False, "ops")


def test_flags_win_over_the_environment() -> None:
    got = options(
        "--interval",
        "5m",
        "--max-concurrency",
        "7",
        "--applications-api",
        "kubernetes",
        "--argocd-server-addr",
        "other:8080",
        "--argocd-token",
        "flag-token",
        "--argocd-namespace",
        "projects",
        "--loglevel",
        "warn",
        "--logformat",
        "text",
        "--leader-election-namespace",
        "leases",
        env=ENV,
    )
    assert (got.interval, got.max_concurrency, got.applications_api) == (300.0, 7, "kubernetes")
    assert (got.argocd_server_addr, got.argocd_token, got.argocd_namespace) == (
        "other:8080",
        "flag-token",
        "projects",
    )
    assert (got.loglevel, got.logformat, got.lease_namespace) == ("warn", "text", "leases")


def test_switch_flags_win_over_a_false_environment() -> None:
    env = {
        "ARGOCD_INSECURE": "false",
        "ARGOCD_PLAINTEXT": "no",
        "ARGOCD_GRPC_WEB": "0",
        "IMAGE_UPDATER_KUBE_EVENTS": "true",
    }
    got = options(
        "--argocd-insecure",
        "--argocd-plaintext",
        "--argocd-grpc-web",
        "--disable-kube-events",
        env=env,
    )
    assert (got.argocd_insecure, got.argocd_plaintext, got.argocd_grpc_web) == (True, True, True)
    assert got.kube_events is False


def test_once_means_an_interval_of_zero_whatever_the_interval_says() -> None:
    got = options("--once", "--interval", "10m", env={"IMAGE_UPDATER_INTERVAL": "soon"})
    assert (got.once, got.interval) == (True, 0.0)


def test_repeated_flags_become_tuples_in_their_order() -> None:
    got = options(
        "--application-namespace",
        "team-b",
        "--application-namespace",
        "team-a",
        "--match-application-name",
        "web-*",
        "--match-application-name",
        "api-?",
        "--match-application-label",
        "team=web,tier!=test",
    )
    assert got.namespaces == ("team-b", "team-a")
    assert got.name_patterns == ("web-*", "api-?")
    assert got.label_selector == "team=web,tier!=test"


def test_the_tenant_flags_become_credential_rules_and_a_reachability_policy() -> None:
    got = options(
        "--allow-cross-namespace-secrets",
        "--allow-env-ext-credentials",
        "ci,ops",
        "--allowed-registries",
        "ghcr.io",
        "--internal-networks",
        "",
    )
    assert got.credentials == CredentialRules(
        allow_cross_namespace_secrets=True, env_ext_namespaces=frozenset({"ci", "ops"})
    )
    assert [glob.pattern for glob in got.reachability.allowed_registries] == ["ghcr.io"]
    assert got.reachability.internal_networks == ()


def test_options_are_frozen() -> None:
    got = options()
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.interval = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        pytest.param(["--interval", "soon"], {}, "'soon' is not a Go duration", id="bad-interval"),
        pytest.param(
            [], {"IMAGE_UPDATER_INTERVAL": "-1m"}, "'-1m' is not a Go duration", id="negative-env"
        ),
        pytest.param(
            [],
            {"MAX_CONCURRENCY": "0"},
            "MAX_CONCURRENCY='0': expected a number from 1 to 100",
            id="env-concurrency-zero",
        ),
        pytest.param(
            [],
            {"MAX_CONCURRENCY": "many"},
            "MAX_CONCURRENCY='many': expected a number from 1 to 100",
            id="env-concurrency-word",
        ),
        pytest.param(
            ["--max-concurrency", "0"],
            {},
            "--max-concurrency 0: must be at least 1",
            id="flag-concurrency-zero",
        ),
        pytest.param(
            [],
            {"APPLICATIONS_API": "grpc"},
            "APPLICATIONS_API='grpc': expected kubernetes or argocd",
            id="env-api",
        ),
        pytest.param(
            [],
            {"ARGOCD_INSECURE": "maybe"},
            "environment variable ARGOCD_INSECURE='maybe': expected true or false",
            id="env-bool",
        ),
        pytest.param(
            [],
            {"IMAGE_UPDATER_KUBE_EVENTS": "sometimes"},
            "environment variable IMAGE_UPDATER_KUBE_EVENTS='sometimes': expected true or false",
            id="env-kube-events",
        ),
        pytest.param(
            ["--applications-api", "argocd"],
            {},
            "--applications-api argocd needs --argocd-server-addr (or ARGOCD_SERVER)",
            id="argocd-without-server",
        ),
        pytest.param(
            ["--match-application-name", "["],
            {},
            "invalid --match-application-name glob '['",
            id="bad-glob",
        ),
        pytest.param(
            ["--allow-env-ext-credentials", "Not_A_Namespace"],
            {},
            "--allow-env-ext-credentials: 'Not_A_Namespace' is not a namespace name",
            id="bad-namespace",
        ),
        pytest.param(
            ["--internal-networks", "nope"],
            {},
            "--internal-networks: 'nope' is not a network",
            id="bad-network",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_it(
    flags: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises((InvalidInput, ValueError)) as raised:
        options(*flags, env=env)
    assert message in str(raised.value)


def test_the_process_environment_is_read_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_CONCURRENCY", "3")
    assert RunOptions.from_args(build_parser().parse_args(["run"])).max_concurrency == 3


@pytest.mark.parametrize(
    ("value", "events"), [("true", False), ("false", True), ("1", False), (None, True)]
)
def test_image_updater_kube_events_keeps_upstreams_inverted_meaning(
    value: str | None, events: bool
) -> None:
    env = {} if value is None else {"IMAGE_UPDATER_KUBE_EVENTS": value}
    assert options(env=env).kube_events is events
