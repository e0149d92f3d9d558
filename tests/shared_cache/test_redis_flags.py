"""``--redis`` and its twins: accepted forms, clear refusals, and a password that never shows."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from imageupdater.cli.redis_flags import add_redis_flags, redis_settings
from imageupdater.errors import InvalidInput
from imageupdater.shared_cache_settings import SharedCacheSettings, parse_redis_address


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_redis_flags(parser.add_argument)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("argocd-redis:6379", SharedCacheSettings("argocd-redis"), id="host-port"),
        pytest.param("argocd-redis", SharedCacheSettings("argocd-redis"), id="default-port"),
        pytest.param(
            "redis://cache.example:6380/2",
            SharedCacheSettings("cache.example", port=6380, db=2),
            id="url-with-db",
        ),
        pytest.param(
            "rediss://updater@cache.example:6380",
            SharedCacheSettings("cache.example", port=6380, username="updater", tls=True),
            id="tls-with-user",
        ),
        pytest.param("redis://[::1]:6379/0", SharedCacheSettings("::1"), id="ipv6"),
    ],
)
def test_accepted_addresses(value: str, expected: SharedCacheSettings) -> None:
    assert parse_redis_address(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("http://cache:6379", "unknown scheme 'http'", id="scheme"),
        pytest.param("cache:port", "Port could not be cast", id="port-not-a-number"),
        pytest.param("cache:70000", "out of range", id="port-out-of-range"),
        pytest.param("redis://cache:6379/zero", "database 'zero' is not a number", id="db"),
        pytest.param("redis://:6379", "no host", id="no-host"),
        pytest.param("redis://cache:6379/0?ssl=true", "query and fragment", id="query"),
    ],
)
def test_bad_addresses_are_refused_naming_the_flag(value: str, message: str) -> None:
    with pytest.raises(InvalidInput, match="--redis") as caught:
        parse_redis_address(value)
    assert message in str(caught.value)
    assert "host:port" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["redis://:hunter2@cache:6379", "rediss://user:hunter2@cache:6379/0", ":hunter2@cache:6379"],
)
def test_a_password_in_the_address_is_refused_without_repeating_it(value: str) -> None:
    with pytest.raises(InvalidInput, match="must not carry a password") as caught:
        parse_redis_address(value)
    assert "hunter2" not in str(caught.value)
    assert "REDIS_PASSWORD" in str(caught.value)


def test_the_password_comes_from_the_environment_and_never_shows_in_the_settings() -> None:
    settings = redis_settings(parsed("--redis", "cache:6379"), {"REDIS_PASSWORD": "hunter2"})
    assert settings is not None
    assert settings.password == "hunter2"
    assert "hunter2" not in repr(settings) and "hunter2" not in settings.where


def test_a_password_file_wins_over_the_environment_and_loses_its_newline(tmp_path: Path) -> None:
    secret = tmp_path / "auth"
    secret.write_text("from-file\n")
    args = parsed("--redis", "cache:6379", "--redis-password-file", str(secret))
    settings = redis_settings(args, {"REDIS_PASSWORD": "from-env"})
    assert settings is not None and settings.password == "from-file"


def test_the_environment_variable_is_the_flags_twin_and_the_flag_wins() -> None:
    from_env = redis_settings(parsed(), {"IMAGE_UPDATER_REDIS": "env-cache:6379"})
    assert from_env is not None and from_env.host == "env-cache"
    both = redis_settings(parsed("--redis", "flag-cache"), {"IMAGE_UPDATER_REDIS": "env-cache"})
    assert both is not None and both.host == "flag-cache"
    assert redis_settings(parsed(), {}) is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["--redis", "c:1", "--redis-password-file", "/nonexistent/auth"],
            "--redis-password-file '/nonexistent/auth': cannot read it",
            id="missing-password-file",
        ),
        pytest.param(
            ["--redis", "rediss://c:1", "--redis-ca-file", "/nonexistent/ca.pem"],
            "--redis-ca-file '/nonexistent/ca.pem': no such file",
            id="missing-ca-file",
        ),
        pytest.param(
            ["--redis-password-file", "/x"], "need --redis", id="password-file-without-redis"
        ),
    ],
)
def test_bad_companion_flags_are_refused_naming_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        redis_settings(parsed(*argv), {})
    assert message in str(caught.value)


def test_a_ca_file_without_tls_is_refused(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    with pytest.raises(InvalidInput, match="rediss://"):
        redis_settings(parsed("--redis", "cache:6379", "--redis-ca-file", str(ca)), {})


def test_an_empty_password_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "auth"
    empty.write_text("\n")
    with pytest.raises(InvalidInput, match="empty"):
        redis_settings(parsed("--redis", "c:1", "--redis-password-file", str(empty)), {})
