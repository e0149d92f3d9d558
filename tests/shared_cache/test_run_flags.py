"""``image-updater run --redis``: refusals at start name the flag and never show a password."""

from __future__ import annotations

import pytest

from imageupdater.cli import EXIT_INVALID, main


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        pytest.param(["--redis", "redis://:hunter2@cache:6379"], "must not carry a password",
                     id="password-in-url"),
        pytest.param(["--redis", "memcached://cache:11211"], "unknown scheme", id="scheme"),
    ],
)  # fmt: skip
def test_run_refuses_a_bad_redis_address_at_start(
    argv: list[str], shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--once", *argv]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "--redis" in err and shown in err
    assert "hunter2" not in err


def test_run_and_admission_both_take_the_redis_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from imageupdater.cli import build_parser
    from reconciler.options import RunOptions
    from webhook.options import WebhookOptions

    monkeypatch.setenv("REDIS_PASSWORD", "hunter2")
    run = RunOptions.from_args(
        build_parser().parse_args(["run", "--redis", "rediss://argocd-redis:6380/1"]),
        {"REDIS_PASSWORD": "hunter2"},
    )
    admission = WebhookOptions.from_args(
        build_parser().parse_args(["admission", "--redis", "rediss://argocd-redis:6380/1"])
    )
    assert run.redis == admission.redis
    assert run.redis is not None
    assert (run.redis.host, run.redis.port, run.redis.db, run.redis.tls) == (
        "argocd-redis",
        6380,
        1,
        True,
    )
    assert run.redis.password == "hunter2"
    assert "hunter2" not in repr(run) and "hunter2" not in repr(admission)


def test_without_redis_each_replica_caches_alone() -> None:
    from imageupdater.cli import build_parser
    from reconciler.options import RunOptions

    assert RunOptions.from_args(build_parser().parse_args(["run"]), {}).redis is None
