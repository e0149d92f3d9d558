"""WebhookOptions: the `webhook` flags read once into typed, frozen values, every invalid value
refused with a message naming the flag."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from imageupdater.cli import build_parser
from imageupdater.credentials import CredentialRules
from imageupdater.errors import InvalidInput
from webhook.options import WebhookOptions
from webhook.review import MAX_BODY

CERT_DIR = Path("/tmp/k8s-webhook-server/serving-certs")  # the documented default


def options(*flags: str) -> WebhookOptions:
    return WebhookOptions.from_args(build_parser().parse_args(["admission", *flags]))


def test_without_flags_the_defaults_fit_the_manifests() -> None:
    got = options()
    assert (got.address, got.port) == ("0.0.0.0", 8443)
    assert (got.tls_cert_file, got.tls_key_file) == (CERT_DIR / "tls.crt", CERT_DIR / "tls.key")
    assert (got.cert_reload_interval, got.resolve_timeout) == (10.0, 2.0)
    assert (got.max_body_bytes, got.max_connections, got.max_in_flight_requests) == (
        MAX_BODY,
        1000,
        128,
    )
    assert got.credentials == CredentialRules()
    assert (got.registries_conf_path, got.kubeconfig) == (None, None)
    assert got.self_signed_certs is False
    assert (got.certs_service, got.certs_secret) == (
        "image-updater-webhook",
        "image-updater-webhook-tls",
    )
    assert got.certs_webhook_configurations == ("image-updater",)
    assert (got.loglevel, got.logformat) == ("info", "text")


def test_flags_become_typed_values() -> None:
    got = options(
        "--address",
        "127.0.0.1",
        "--port",
        "9443",
        "--tls-cert-file",
        "/certs/a.crt",
        "--tls-key-file",
        "/certs/a.key",
        "--resolve-timeout",
        "1500ms",
        "--cert-reload-interval",
        "1m",
        "--max-body-bytes",
        "4096",
        "--max-connections",
        "10",
        "--max-in-flight-requests",
        "2",
        "--registries-conf-path",
        "",
        "--kubeconfig",
        "/kube/config",
        "--loglevel",
        "debug",
        "--logformat",
        "json",
    )
    assert (got.address, got.port) == ("127.0.0.1", 9443)
    assert (got.tls_cert_file, got.tls_key_file) == (Path("/certs/a.crt"), Path("/certs/a.key"))
    assert (got.resolve_timeout, got.cert_reload_interval) == (1.5, 60.0)
    assert (got.max_body_bytes, got.max_connections, got.max_in_flight_requests) == (4096, 10, 2)
    assert (got.registries_conf_path, got.kubeconfig) == ("", "/kube/config")
    assert (got.loglevel, got.logformat) == ("debug", "json")


def test_the_certificate_flags_name_what_self_signed_mode_manages() -> None:
    got = options(
        "--self-signed-certs",
        "--certs-namespace",
        "ops",
        "--certs-service",
        "hook",
        "--certs-secret",
        "hook-tls",
        "--certs-webhook-configuration",
        "one",
        "--certs-webhook-configuration",
        "two",
    )
    assert got.self_signed_certs is True
    assert (got.certs_namespace, got.certs_service, got.certs_secret) == ("ops", "hook", "hook-tls")
    assert got.certs_webhook_configurations == ("one", "two")


def test_the_tenant_flags_become_credential_rules_and_a_reachability_policy() -> None:
    got = options(
        "--allow-env-ext-credentials",
        "ci",
        "--allowed-registries",
        "ghcr.io,*.example.com",
        "--internal-networks",
        "10.0.0.0/8",
    )
    assert got.credentials == CredentialRules(env_ext_namespaces=frozenset({"ci"}))
    assert [glob.pattern for glob in got.reachability.allowed_registries] == [
        "ghcr.io",
        "*.example.com",
    ]
    assert [str(net) for net in got.reachability.internal_networks] == ["10.0.0.0/8"]


def test_options_are_frozen() -> None:
    got = options()
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        pytest.param(
            ["--resolve-timeout", "soon"], "'soon' is not a Go duration", id="bad-timeout"
        ),
        pytest.param(
            ["--cert-reload-interval", "often"],
            "'often' is not a Go duration",
            id="bad-reload-interval",
        ),
        pytest.param(
            ["--resolve-timeout", "0s"], "--resolve-timeout must be positive", id="zero-timeout"
        ),
        pytest.param(
            ["--max-connections", "0"],
            "--max-connections and --max-in-flight-requests must be at least 1",
            id="no-connections",
        ),
        pytest.param(
            ["--max-in-flight-requests", "0"],
            "--max-connections and --max-in-flight-requests must be at least 1",
            id="no-requests",
        ),
        pytest.param(
            ["--allow-env-ext-credentials", "Bad_NS"],
            "--allow-env-ext-credentials: 'Bad_NS' is not a namespace name",
            id="bad-namespace",
        ),
        pytest.param(
            ["--internal-networks", "nope"],
            "--internal-networks: 'nope' is not a network",
            id="bad-network",
        ),
    ],
)
def test_an_invalid_value_is_refused_naming_the_flag(flags: list[str], message: str) -> None:
    with pytest.raises((InvalidInput, ValueError)) as raised:
        options(*flags)
    assert message in str(raised.value)
