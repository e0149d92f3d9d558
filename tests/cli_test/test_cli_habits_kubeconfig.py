"""Kubeconfig habits: one clear line for a kubeconfig that cannot be read, whichever command
and however it was given, and `test` finding a kubeconfig the way kubectl does.

Every test runs the installed console script as a subprocess, as a user would; the
Secret-reading ones run it against the Kubernetes API emulator and a real registry.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devcluster.kubeapi import KubeAPI
from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder
from tests.conftest import AUTH_PASSWORD, AUTH_USER

BINARY = Path(sys.executable).with_name("image-updater")
# Not in a cluster, and no kubeconfig unless a test gives one.
_OUTSIDE = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OUTSIDE}
    return {**env, "HOME": str(home), **extra}


def image_updater(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BINARY), *args], capture_output=True, text=True, check=False, env=env, timeout=60
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


# Each command with arguments that get it as far as reading the kubeconfig.
COMMANDS = {
    "run": ["run", "--once"],
    "certs": ["certs", "--once"],
    "admission": ["admission"],
    "test": ["test", "example.com/app", "--credentials", "pullsecret:argocd/regcred"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_kubeconfig_flag_naming_no_file_is_one_line_for_every_command(
    command: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    done = image_updater(
        *COMMANDS[command], "--kubeconfig", str(missing), env=environment(tmp_path)
    )
    assert done.returncode == 2
    assert (
        one_line(done) == f"image-updater {command}: cannot read kubeconfig {missing}: no such file"
    )


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_kubeconfig_flag_naming_a_directory_says_it_cannot_be_read(
    command: str, tmp_path: Path
) -> None:
    done = image_updater(
        *COMMANDS[command], "--kubeconfig", str(tmp_path), env=environment(tmp_path)
    )
    assert done.returncode == 2
    assert one_line(done) == (
        f"image-updater {command}: cannot read kubeconfig {tmp_path}: it is a directory"
    )


@pytest.mark.parametrize("command", ["run", "certs", "test"])
def test_kubeconfig_from_the_environment_naming_no_file_is_one_line(
    command: str, tmp_path: Path
) -> None:
    missing = tmp_path / "nope"
    done = image_updater(*COMMANDS[command], env=environment(tmp_path, KUBECONFIG=str(missing)))
    assert done.returncode == 2
    assert one_line(done) == (
        f"image-updater {command}: cannot read kubeconfig {missing} (from $KUBECONFIG): "
        "no such file"
    )


def test_a_kubeconfig_list_in_the_environment_naming_no_file_names_them_all(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    done = image_updater(
        "run", "--once", env=environment(tmp_path, KUBECONFIG=f"{first}{os.pathsep}{second}")
    )
    assert done.returncode == 2
    assert one_line(done) == (
        f"image-updater run: cannot read kubeconfig: none of {first}, {second} "
        "(from $KUBECONFIG) exists"
    )


def test_a_kubeconfig_that_is_not_one_is_named_with_the_reason(tmp_path: Path) -> None:
    garbage = tmp_path / "kubeconfig"
    garbage.write_text("just: text\n")
    done = image_updater(*COMMANDS["test"], "--kubeconfig", str(garbage), env=environment(tmp_path))
    assert done.returncode == 2
    assert one_line(done).startswith(f"image-updater test: cannot load kubeconfig {garbage}: ")


def test_without_any_kubeconfig_a_secret_credential_says_how_to_give_one(
    tmp_path: Path,
) -> None:
    done = image_updater(*COMMANDS["test"], env=environment(tmp_path))
    assert done.returncode == 2
    line = one_line(done)
    assert line.startswith("image-updater test: error: --credentials: a pullsecret: credential")
    assert "pass --kubeconfig or set $KUBECONFIG (or run inside a cluster)" in line


def test_run_without_any_kubeconfig_names_the_default_file_it_looked_for(tmp_path: Path) -> None:
    done = image_updater("run", "--once", env=environment(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert (
        f"cannot read kubeconfig {tmp_path / '.kube' / 'config'} (the default: no --kubeconfig "
        "or $KUBECONFIG, and not in a cluster): no such file"
    ) in done.stderr


# ---- `test` reading a Secret through the API, with the kubeconfig found as kubectl does ----


def secret(name: str, data: dict[str, bytes], kind: str = "Opaque") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": kind,
        "metadata": {"name": name, "namespace": "argocd"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


@pytest.fixture
def secrets(kube_api: KubeAPI, auth_registry: LocalRegistry) -> None:
    auth = base64.b64encode(f"{AUTH_USER}:{AUTH_PASSWORD}".encode()).decode()
    config = {"auths": {f"http://{auth_registry.host}/v1/": {"auth": auth}}}
    kube_api.store.put(
        secret(
            "regcred",
            {".dockerconfigjson": json.dumps(config).encode()},
            "kubernetes.io/dockerconfigjson",
        )
    )
    kube_api.store.put(secret("plain", {"creds": f"{AUTH_USER}:{AUTH_PASSWORD}".encode()}))


async def push(registry: LocalRegistry, repository: str) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(registry.url, session, username=AUTH_USER, password=AUTH_PASSWORD)
        for day, tag in enumerate(["1.0.0", "1.3.0"]):
            await seeder.push(repository, tag, created=dt.datetime(2024, 1, 1 + day, tzinfo=dt.UTC))


def registries_conf(tmp_path: Path, registry: LocalRegistry) -> Path:
    conf = tmp_path / "registries.conf"
    conf.write_text(
        f"registries:\n- name: local\n  prefix: {registry.host}\n  api_url: {registry.url}\n"
    )
    return conf


async def image_updater_async(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The CLI as a subprocess, awaited: the emulator serves from this test's event loop."""
    process = await asyncio.create_subprocess_exec(
        str(BINARY),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize(
    ("given", "credentials"),
    [
        pytest.param("env", "pullsecret:argocd/regcred", id="KUBECONFIG-pull-secret"),
        pytest.param("env", "secret:argocd/plain#creds", id="KUBECONFIG-secret-field"),
        pytest.param("env-list", "pullsecret:argocd/regcred", id="KUBECONFIG-list-one-missing"),
        pytest.param("home", "pullsecret:argocd/regcred", id="home-kube-config"),
        pytest.param("flag", "pullsecret:argocd/regcred", id="flag"),
        pytest.param("flag-over-env", "secret:argocd/plain#creds", id="flag-wins-over-env"),
    ],
)
async def test_test_reads_a_secret_through_the_kubeconfig_kubectl_would_use(
    given: str,
    credentials: str,
    secrets: None,
    kubeconfig: Path,
    auth_registry: LocalRegistry,
    unique_repo: str,
    tmp_path: Path,
) -> None:
    await push(auth_registry, unique_repo)
    conf = registries_conf(tmp_path, auth_registry)
    home = tmp_path / "home"
    home.mkdir()
    env = environment(home)
    flags: list[str] = []
    if given == "env":
        env["KUBECONFIG"] = str(kubeconfig)
    elif given == "env-list":
        env["KUBECONFIG"] = f"{tmp_path / 'missing'}{os.pathsep}{kubeconfig}"
    elif given == "home":
        (home / ".kube").mkdir()
        shutil.copy(kubeconfig, home / ".kube" / "config")
    elif given == "flag":
        flags = ["--kubeconfig", str(kubeconfig)]
    else:
        env["KUBECONFIG"] = str(tmp_path / "missing")
        flags = ["--kubeconfig", str(kubeconfig)]
    code, out, err = await image_updater_async(
        "test",
        f"{auth_registry.host}/{unique_repo}",
        "--registries-conf-path",
        str(conf),
        "--credentials",
        credentials,
        *flags,
        "--output",
        "json",
        env=env,
    )
    assert code == 0, err
    assert json.loads(out)["tag"] == "1.3.0"
    assert AUTH_PASSWORD not in out + err


async def test_test_names_the_secret_it_could_not_find_through_kubeconfig(
    secrets: None, kubeconfig: Path, auth_registry: LocalRegistry, tmp_path: Path
) -> None:
    code, _, err = await image_updater_async(
        "test",
        f"{auth_registry.host}/test/none",
        "--registries-conf-path",
        str(registries_conf(tmp_path, auth_registry)),
        "--credentials",
        "pullsecret:argocd/nope",
        env=environment(tmp_path, KUBECONFIG=str(kubeconfig)),
    )
    assert code == 1
    assert "argocd/nope" in err
    assert "Traceback" not in err
