"""Resolving env:, secret: and ext: references, and keeping secrets out of the errors."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Mapping
from pathlib import Path

import pytest

from imageupdater.credential_sources import CredentialSource, redact, resolve
from imageupdater.credentials import CredentialRef, Credentials
from imageupdater.errors import CredentialError
from tests.credentials.fakes import InMemorySecrets
from tests.waiting import async_wait_until

SECRET = "s3cr3t-p4ss"


async def _resolve(
    text: str,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: InMemorySecrets | None = None,
    ext_timeout: float = 10.0,
) -> Credentials:
    return await resolve(
        CredentialRef.parse(text),
        registry_host="registry.example.com",
        api_url="https://registry.example.com",
        secrets=secrets,
        environ=environ or {},
        ext_timeout=ext_timeout,
    )


def _script(tmp_path: Path, body: str, name: str = "creds.sh") -> Path:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# --- env: ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("robot:pw", Credentials("robot", "pw"), id="plain"),
        pytest.param(
            '_json_key:{"a":1}', Credentials("_json_key", '{"a":1}'), id="split-at-first-colon"
        ),
        pytest.param("robot:pw\n", Credentials("robot", "pw"), id="one-trailing-newline-dropped"),
    ],
)
async def test_an_env_reference_reads_user_and_password_from_the_variable(
    value: str, expected: Credentials
) -> None:
    assert await _resolve("env:CREDS", environ={"CREDS": value}) == expected


async def test_an_unset_env_variable_is_an_error_naming_it() -> None:
    with pytest.raises(CredentialError, match="'CREDS' is not set"):
        await _resolve("env:CREDS", environ={"OTHER": "a:b"})


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param(SECRET, id="no-colon"),
        pytest.param(f":{SECRET}", id="empty-user"),
        pytest.param("robot:", id="empty-password"),
        pytest.param(f"robot:{SECRET}\nmore", id="two-lines"),
    ],
)
async def test_a_malformed_env_value_is_an_error_that_does_not_show_the_value(value: str) -> None:
    with pytest.raises(CredentialError) as caught:
        await _resolve("env:CREDS", environ={"CREDS": value})
    assert "'CREDS'" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "<username>:<password>" in str(caught.value)


# --- secret: ---


async def test_a_secret_reference_reads_the_named_field() -> None:
    secrets = InMemorySecrets({("argocd", "hub"): {"creds": b"robot:pw\n", "other": b"x:y"}})
    assert await _resolve("secret:argocd/hub#creds", secrets=secrets) == Credentials("robot", "pw")
    assert secrets.reads == [("argocd", "hub")]


async def test_a_missing_secret_field_is_an_error_listing_the_fields_present() -> None:
    secrets = InMemorySecrets(
        {("argocd", "hub"): {"username": b"robot", "password": SECRET.encode()}}
    )
    with pytest.raises(CredentialError) as caught:
        await _resolve("secret:argocd/hub#creds", secrets=secrets)
    message = str(caught.value)
    assert "no field 'creds'" in message
    assert "password, username" in message
    assert SECRET not in message


async def test_a_missing_secret_is_the_readers_credential_error() -> None:
    with pytest.raises(CredentialError, match="argocd/nope not found"):
        await _resolve("secret:argocd/nope#creds", secrets=InMemorySecrets({}))


async def test_a_secret_field_that_is_not_user_colon_password_does_not_leak() -> None:
    secrets = InMemorySecrets({("argocd", "hub"): {"creds": SECRET.encode()}})
    with pytest.raises(CredentialError) as caught:
        await _resolve("secret:argocd/hub#creds", secrets=secrets)
    assert "field 'creds' of secret argocd/hub" in str(caught.value)
    assert SECRET not in str(caught.value)


async def test_a_secret_field_that_is_not_utf8_is_an_error() -> None:
    secrets = InMemorySecrets({("argocd", "hub"): {"creds": b"robot:\xff\xfe"}})
    with pytest.raises(CredentialError, match="not valid UTF-8"):
        await _resolve("secret:argocd/hub#creds", secrets=secrets)


@pytest.mark.parametrize(
    "text",
    [pytest.param("secret:a/b#c", id="secret"), pytest.param("pullsecret:a/b", id="pullsecret")],
)
async def test_secret_references_need_a_secret_reader(text: str) -> None:
    with pytest.raises(CredentialError, match="no Kubernetes secret reader"):
        await _resolve(text, secrets=None)


# --- ext: ---


async def test_an_ext_script_prints_user_and_password(tmp_path: Path) -> None:
    script = _script(tmp_path, "echo 'AWS:eyJwYXlsb2FkIjoi:with:colons'\n")
    creds = await _resolve(f"ext:{script}")
    assert creds == Credentials("AWS", "eyJwYXlsb2FkIjoi:with:colons")


async def test_an_ext_script_sees_a_minimal_environment_and_no_arguments(tmp_path: Path) -> None:
    script = _script(
        tmp_path, 'printf "%s:%s,%s,%s" "$AWS_ROLE_ARN" "$#" "${GHCR_CREDS-unset}" "$PATH"\n'
    )
    creds = await _resolve(
        f"ext:{script}",
        environ={"AWS_ROLE_ARN": "role", "GHCR_CREDS": "robot:secret", "PATH": "/usr/bin:/bin"},
    )
    # registries.conf's env: credentials live in this environment; a script never sees them.
    assert creds == Credentials("role", "0,unset,/usr/bin:/bin")


async def test_a_failing_ext_script_reports_only_its_exit_code_and_logs_stderr_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = _script(
        tmp_path,
        f"echo 'robot:{SECRET}'\n"
        f"echo 'token expired for account 42, tried robot:{SECRET}' >&2\necho second >&2\nexit 3\n",
    )
    with (
        caplog.at_level("DEBUG", logger="image_updater.credentials"),
        pytest.raises(CredentialError) as caught,
    ):
        await _resolve(f"ext:{script}")
    message = str(caught.value)
    assert message == "the credential script failed with exit code 3"
    logged = caplog.text
    assert "token expired for account 42" in logged and "second" in logged
    assert str(script) in logged
    assert SECRET not in logged


async def test_a_long_stderr_line_is_cut_to_200_characters_in_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    script = _script(tmp_path, "printf 'x %.0s' $(seq 1 500) >&2\nexit 1\n")
    with (
        caplog.at_level("WARNING", logger="image_updater.credentials"),
        pytest.raises(CredentialError) as caught,
    ):
        await _resolve(f"ext:{script}")
    assert "x" not in str(caught.value).replace("exit", "")
    assert "x " * 100 + "…" in caplog.text
    assert "x " * 101 not in caplog.text


async def test_an_ext_script_flooding_stdout_is_killed_at_the_output_cap(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match=r"printed more than 4096 bytes and was killed"):
        # `yes` fills the cap in microseconds; the generous timeout only keeps a loaded
        # machine (the reading side starved for seconds) from ending it by the clock first.
        await _resolve("ext:/usr/bin/yes", ext_timeout=30)


async def test_an_ext_script_flooding_stderr_keeps_memory_bounded_and_still_answers(
    tmp_path: Path,
) -> None:
    script = _script(tmp_path, "head -c 5000000 /dev/zero >&2\necho robot:pw\n")
    assert await _resolve(f"ext:{script}", ext_timeout=10) == Credentials("robot", "pw")


async def test_at_most_the_given_number_of_ext_scripts_run_at_once(tmp_path: Path) -> None:
    counter = tmp_path / "running"
    counter.mkdir()
    script = _script(
        tmp_path,
        f"touch {counter}/$$\nls {counter} | wc -l > {counter}.max.$$\nsleep 0.3\n"
        f"rm {counter}/$$\necho robot:pw\n",
    )
    source = CredentialSource(secrets=None, environ={}, ext_concurrency=2)
    ref = CredentialRef.parse(f"ext:{script}")
    await asyncio.gather(
        *(source.resolve(ref, registry_host=f"r{i}", api_url=f"https://r{i}") for i in range(6))
    )
    peaks = [int(p.read_text()) for p in tmp_path.glob("running.max.*")]  # noqa: ASYNC240
    assert len(peaks) == 6 and max(peaks) <= 2


def test_redaction_hides_token_like_runs_and_user_secret_pairs() -> None:
    line = redact("login failed for robot:hunter2 with token eyJhbGciOiJFUzI1NiJ9abcdef0123")
    assert "hunter2" not in line and "eyJhbGciOiJFUzI1NiJ9" not in line
    assert line.startswith("login failed for robot:<redacted>")


async def test_an_ext_script_past_its_timeout_is_killed_with_what_it_started(
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "grandchild"
    script = _script(tmp_path, f"sleep 30 &\necho $! > {pid_file}\nsleep 30\n")
    with pytest.raises(CredentialError, match=r"did not finish within 0\.3s and was killed"):
        await _resolve(f"ext:{script}", ext_timeout=0.3)
    # The grandchild shared the script's process group, so it dies with it (the kernel
    # delivers the signal to it a moment after the script itself was reaped).
    grandchild = int(pid_file.read_text())
    await async_wait_until(
        lambda: not _alive(grandchild),
        within=5,
        what=f"the script's background child (pid {grandchild}) to be killed",
    )


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (killed, not reaped by its new parent) does not."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat_line.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(f"echo '{SECRET}'\n", "<username>:<password>", id="no-colon"),
        pytest.param(f"printf 'robot:{SECRET}\\nextra\\n'\n", "on one line", id="two-lines"),
        pytest.param("printf ''\n", "<username>:<password>", id="empty"),
        pytest.param("printf 'robot:\\377\\376'\n", "not valid UTF-8", id="not-utf8"),
    ],
)
async def test_garbage_from_an_ext_script_is_an_error_without_its_output(
    tmp_path: Path, body: str, reason: str
) -> None:
    script = _script(tmp_path, body)
    with pytest.raises(CredentialError) as caught:
        await _resolve(f"ext:{script}")
    assert reason in str(caught.value)
    assert SECRET not in str(caught.value)
    assert "credential script" in str(caught.value)


async def test_a_missing_ext_script_is_an_error_naming_the_reason(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match=r"cannot be run \(No such file or directory\)"):
        await _resolve(f"ext:{tmp_path / 'nope.sh'}")


async def test_a_non_executable_ext_script_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "creds.sh"
    script.write_text("#!/bin/sh\necho a:b\n")
    with pytest.raises(CredentialError, match="the credential script cannot be run"):
        await _resolve(f"ext:{script}")


async def test_a_credential_source_binds_reader_and_environment() -> None:
    source = CredentialSource(secrets=None, environ={"CREDS": "robot:pw"})
    creds = await source.resolve(
        CredentialRef.parse("env:CREDS"), registry_host="x", api_url="https://x"
    )
    assert creds == Credentials("robot", "pw")


async def test_cancelling_a_resolution_kills_the_running_script(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = _script(tmp_path, f"echo $$ > {pid_file}\nsleep 30\n")
    task = asyncio.create_task(_resolve(f"ext:{script}"))
    await async_wait_until(
        lambda: pid_file.exists() and pid_file.read_text().strip(),
        within=5,
        what="the credential script to write its pid",
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
