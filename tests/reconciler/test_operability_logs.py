"""What the reconciler says in logs and Events: leadership once per change, JSON lines with
milliseconds and typed fields, Event messages shortened at a word boundary."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import cast

import pytest

from devcluster.kubeapi import KubeAPI
from imageupdater import kube
from imageupdater.application import Application
from imageupdater.logsetup import configure_logging
from reconciler.events import EventRecorder, shorten
from reconciler.leader import LeaderElector
from tests.reconciler.conftest import application


def leadership_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage().split(" (")[0].split(" argocd/")[0]
        for record in caplog.records
        if record.name == "image_updater.reconciler"
        and ("became the leader" in record.getMessage() or "lost the leader" in record.getMessage())
    ]


async def test_leadership_is_logged_once_when_taken_and_once_when_lost(
    kube_api: KubeAPI, cluster: kube.KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [100.0]
    elector = LeaderElector(
        cluster,
        namespace="argocd",
        name="lease",
        identity="a",
        lease_duration=15,
        renew_deadline=10,
        retry_period=2,
        monotonic=lambda: clock[0],
    )
    caplog.set_level(logging.INFO, logger="image_updater.reconciler")
    for _ in range(3):  # taken, then renewed twice
        assert await elector.try_acquire_or_renew()
        clock[0] += 2
    # The API server stops answering: the renew deadline passes over several attempts.
    kube_api.faults.inject(verb="get", resource="leases", status=500, times=8)
    for _ in range(8):
        await elector.try_acquire_or_renew()
        clock[0] += 2
    assert not elector.is_leader()
    # It answers again: the lease (still ours) is renewed, leadership comes back.
    assert await elector.try_acquire_or_renew()
    assert await elector.try_acquire_or_renew()
    assert leadership_lines(caplog) == [
        "became the leader",
        "lost the leader lease",
        "became the leader",
    ]
    assert elector.transitions == 2


async def test_a_renewal_after_a_stall_continues_the_leadership_without_another_line(
    kube_api: KubeAPI, cluster: kube.KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [100.0]
    elector = LeaderElector(
        cluster,
        namespace="argocd",
        name="lease",
        identity="a",
        lease_duration=15,
        renew_deadline=10,
        retry_period=2,
        monotonic=lambda: clock[0],
    )
    caplog.set_level(logging.INFO, logger="image_updater.reconciler")
    assert await elector.try_acquire_or_renew()
    clock[0] += 11  # a stalled process: fenced meanwhile, but no attempt saw it
    assert not elector.is_leader()
    assert await elector.try_acquire_or_renew()  # still its lease: renewed
    assert leadership_lines(caplog) == ["became the leader"]
    assert elector.transitions == 1


async def test_a_lease_taken_over_by_another_replica_is_one_loss(
    kube_api: KubeAPI, cluster: kube.KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [100.0]

    def elector(identity: str) -> LeaderElector:
        return LeaderElector(
            cluster,
            namespace="argocd",
            name="lease",
            identity=identity,
            lease_duration=1,
            renew_deadline=0.6,
            retry_period=0.1,
            monotonic=lambda: clock[0],
        )

    first, second = elector("a"), elector("b")
    caplog.set_level(logging.INFO, logger="image_updater.reconciler")
    assert await first.try_acquire_or_renew()
    # Another replica takes the lease over (say the first one's renewals were lost).
    lease = kube_api.store.get("coordination.k8s.io", None, "leases", "argocd", "lease")
    assert lease is not None
    kube_api.store.put(
        {**lease, "spec": {**lease["spec"], "renewTime": "2020-01-01T00:00:00.000000Z"}}
    )
    assert await second.try_acquire_or_renew()
    for _ in range(3):
        assert not await first.try_acquire_or_renew()
    assert leadership_lines(caplog) == [
        "became the leader",
        "became the leader",
        "lost the leader lease",
    ]
    assert first.transitions == 1 and second.transitions == 1


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("short enough", "short enough", id="fits"),
        pytest.param("one two three", "one two…", id="cut-after-a-word"),
        pytest.param("one two; three", "one two…", id="separator-dropped"),
        pytest.param("one two\nthree", "one two…", id="newline-is-a-boundary"),
        pytest.param("abcdefghijklmn", "abcdefghi…", id="one-long-word-cut-inside"),
        pytest.param("déjà vu encore", "déjà vu…", id="bytes-not-characters"),
    ],
)
def test_a_message_is_shortened_at_a_word_boundary(message: str, expected: str) -> None:
    shortened = shorten(message, limit=12)
    assert shortened == expected
    assert len(shortened.encode()) <= 12


def test_a_shortened_message_never_ends_inside_a_multibyte_character() -> None:
    shortened = shorten("é" * 20, limit=16)
    assert shortened == "é" * 6 + "…"
    assert len(shortened.encode()) <= 16


async def test_a_long_event_message_is_stored_cut_at_a_word_with_an_ellipsis(
    kube_api: KubeAPI, cluster: kube.KubeClient
) -> None:
    app = cast(Application, application("noisy", {"image-list": "nginx"}))
    failures = "; ".join(
        f"registry-{n}.example/team/service: registry answered 503 Service Unavailable"
        for n in range(30)
    )
    await EventRecorder(cluster).record(app, "Warning", "ImageUpdateFailed", failures)
    (event,) = kube_api.store.list("", None, "events", "argocd")
    stored = event["message"]
    assert len(stored.encode()) <= 1024
    assert stored.endswith("…")
    kept = stored.removesuffix("…")
    assert failures.startswith(kept)
    assert failures[len(kept)] in " ;"  # the cut fell between words


@contextlib.contextmanager
def configured(fmt: str) -> Iterator[io.StringIO]:
    """What ``configure_logging`` writes in ``fmt`` (to stderr; here to a buffer), undone
    afterwards, since it replaces the logger's handlers."""
    logger = logging.getLogger("image_updater")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    configure_logging("info", fmt)
    buffer = io.StringIO()
    (handler,) = logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved


def test_json_lines_keep_numbers_as_numbers_and_times_in_milliseconds() -> None:
    with configured("json") as written:
        logging.getLogger("image_updater.reconciler").info(
            "Processing results: applications=3",
            extra={
                "applications": 3,
                "duration_seconds": 0.25,
                "dry_run": False,
                "retry_at": None,
                "problems": ["a", "b"],
                "path": PurePosixPath("/app/config/registries.conf"),
                "level": "a context field never replaces the line's own",
            },
        )
    (line,) = written.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["msg"] == "Processing results: applications=3"
    assert entry["level"] == "info"
    assert entry["applications"] == 3
    assert entry["duration_seconds"] == 0.25
    assert entry["dry_run"] is False
    assert entry["retry_at"] is None
    assert entry["problems"] == ["a", "b"]
    assert entry["path"] == "/app/config/registries.conf"  # anything else: its str()
    date, clock = entry["time"].split("T")
    assert len(date) == 10
    assert clock.endswith("Z") and len(clock) == len("18:00:00.123Z") and clock[8] == "."


def test_text_lines_do_not_repeat_a_field_the_message_already_says() -> None:
    with configured("text") as written:
        logging.getLogger("image_updater.reconciler").info(
            "Processing results: applications=3 errors=0 (resync, 0.25s)",
            extra={"applications": 3, "errors": 0, "trigger": "resync"},
        )
    summary = "Processing results: applications=3 errors=0 (resync, 0.25s)"
    assert written.getvalue().rstrip("\n").endswith(f"{summary} trigger=resync")
