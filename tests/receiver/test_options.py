"""The receiver's settings as users give them: upstream's flags and environment variables
(the install's come from argocd-image-updater-secret), flags before variables, and every
bad value refused at start naming the flag or variable. Secrets never show in a repr."""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.cli import build_parser
from imageupdater.errors import InvalidInput
from reconciler.options import RECEIVER_SECRET_FLAGS, RunOptions

SECRET = "s3cret-value-0123"


def options(argv: list[str], env: dict[str, str] | None = None) -> Any:
    return RunOptions.from_args(build_parser().parse_args(argv), env or {})


@pytest.mark.parametrize(
    ("argv", "env", "port"),
    [
        (["run", "--enable-webhook"], {"GHCR_WEBHOOK_SECRET": SECRET}, 8082),
        (["webhook"], {"GHCR_WEBHOOK_SECRET": SECRET}, 8080),
        (["run", "--enable-webhook"],
         {"GHCR_WEBHOOK_SECRET": SECRET, "WEBHOOK_PORT": "9000"}, 9000),
        (["run", "--enable-webhook", "--webhook-port", "9001"],
         {"GHCR_WEBHOOK_SECRET": SECRET, "WEBHOOK_PORT": "9000"}, 9001),
        (["run", "--enable-webhook", f"--ghcr-webhook-secret={SECRET}"], {}, 8082),
    ],
)  # fmt: skip
def test_the_port_comes_from_the_flag_then_the_variable_then_the_commands_default(
    argv: list[str], env: dict[str, str], port: int
) -> None:
    receiver = options(argv, env).receiver
    assert receiver is not None and receiver.port == port


def test_run_without_enable_webhook_has_no_receiver() -> None:
    assert options(["run"], {"GHCR_WEBHOOK_SECRET": SECRET}).receiver is None


@pytest.mark.parametrize("flag", sorted(RECEIVER_SECRET_FLAGS.values()))
def test_each_registry_types_secret_is_read_from_its_variable_and_never_shown(flag: str) -> None:
    variable = flag.upper().replace("-", "_") + "_WEBHOOK_SECRET"
    receiver = options(["run", "--enable-webhook"], {variable: SECRET}).receiver
    assert receiver is not None
    kind = next(k for k, f in RECEIVER_SECRET_FLAGS.items() if f == flag)
    assert receiver.config.enabled() == (kind,)
    assert SECRET not in repr(receiver) and SECRET not in repr(receiver.config)


def test_no_secret_at_all_is_refused_unless_secrets_are_not_required() -> None:
    with pytest.raises(InvalidInput, match="no registry type to serve"):
        options(["run", "--enable-webhook"])
    for argv, env in (
        (["run", "--enable-webhook", "--webhook-require-secret=false"], {}),
        (["run", "--enable-webhook"], {"WEBHOOK_REQUIRE_SECRET": "false"}),
    ):
        receiver = options(argv, env).receiver
        assert receiver is not None and receiver.config.enabled()


@pytest.mark.parametrize(
    ("argv", "env", "words"),
    [
        (["run", "--enable-webhook"], {"WEBHOOK_PORT": "http"}, "WEBHOOK_PORT"),
        (["run", "--enable-webhook", "--webhook-port", "70000"], {}, "--webhook-port 70000"),
        (["run", "--enable-webhook"], {"WEBHOOK_RATELIMIT_ALLOWED": "many"},
         "WEBHOOK_RATELIMIT_ALLOWED"),
        (["run", "--enable-webhook"], {"DISABLE_TLS": "maybe"}, "DISABLE_TLS"),
        (["run", "--enable-webhook"], {"WEBHOOK_REQUIRE_SECRET": "perhaps"},
         "WEBHOOK_REQUIRE_SECRET"),
        (["run", "--enable-webhook", "--tlsminversion", "1.9"], {}, "--tlsminversion"),
        (["run", "--enable-webhook", "--webhook-coalesce-window", "5m"], {}, "coalesce-window"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_where_it_came_from(
    argv: list[str], env: dict[str, str], words: str
) -> None:
    with pytest.raises(InvalidInput, match=words):
        options(argv, {"GHCR_WEBHOOK_SECRET": SECRET, **env})


def test_tls_is_on_by_default_at_tls_1_3_and_can_be_turned_off() -> None:
    receiver = options(["run", "--enable-webhook"], {"GHCR_WEBHOOK_SECRET": SECRET}).receiver
    assert receiver is not None and receiver.tls is not None
    off = options(
        ["run", "--enable-webhook"], {"GHCR_WEBHOOK_SECRET": SECRET, "DISABLE_TLS": "true"}
    ).receiver
    assert off is not None and off.tls is None
