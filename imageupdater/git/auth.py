"""The environment a git process authenticates in.

Credentials reach git only through the child's environment: an askpass script (written
once per use, it holds no secret) prints ``IMAGE_UPDATER_GIT_USERNAME`` or
``IMAGE_UPDATER_GIT_PASSWORD``; an SSH key and a TLS client key go into 0600 files in a
private scratch directory that is removed when the operation ends. The environment is
built from scratch, so nothing from the operator's own git configuration (credential
helpers, ``insteadOf`` rewrites, hooks) takes part, and a handful of variables pass
through on purpose: the CA bundle and proxy settings the operator set for the process, and
the GnuPG home holding signing keys.
"""

from __future__ import annotations

__all__ = ["PASSTHROUGH", "GitAuth", "git_environment"]

import contextlib
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Read from the operator's environment and handed to git as they are.
PASSTHROUGH = (
    "PATH",
    "LANG",
    "TZ",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "GNUPGHOME",
)

_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$IMAGE_UPDATER_GIT_USERNAME" ;;
  *) printf '%s\\n' "$IMAGE_UPDATER_GIT_PASSWORD" ;;
esac
"""


@dataclass(frozen=True, slots=True)
class GitAuth:
    """What a git process needs to reach one repository; secrets hidden from ``repr``.

    ``known_hosts`` is the text of an OpenSSH known_hosts file: SSH refuses any host not in
    it unless ``insecure``. ``password`` may be a token (a GitHub App installation token
    goes here, with username ``x-access-token``).
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssh_private_key: str | None = field(default=None, repr=False)
    tls_client_cert: str | None = field(default=None, repr=False)
    tls_client_key: str | None = field(default=None, repr=False)
    known_hosts: str = field(default="", repr=False)
    insecure: bool = False
    proxy: str | None = field(default=None, repr=False)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, for scrubbing git's messages before they are shown."""
        values = (self.password, self.ssh_private_key, self.tls_client_key, self.proxy)
        return tuple(v for v in values if v)


ANONYMOUS = GitAuth()


def _private_file(directory: Path, name: str, text: str, mode: int = 0o600) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text if text.endswith("\n") else text + "\n")
    return path


@contextlib.contextmanager
def git_environment(
    auth: GitAuth, *, base: Mapping[str, str] | None = None
) -> Iterator[dict[str, str]]:
    """The environment for git processes of one operation; its files are gone afterwards.

    ``base`` is the environment to pass variables through from (the process's own when
    None)."""
    source = os.environ if base is None else base
    scratch = Path(tempfile.mkdtemp(prefix="image-updater-git-"))
    try:
        scratch.chmod(0o700)
        env = {name: source[name] for name in PASSTHROUGH if name in source}
        env.setdefault("PATH", os.defpath)
        if "GNUPGHOME" not in env and "HOME" in source:
            # HOME moves to the scratch directory; signing keys stay where they are.
            env["GNUPGHOME"] = str(Path(source["HOME"]) / ".gnupg")
        env.update(
            HOME=str(scratch),
            LC_ALL="C",
            GIT_TERMINAL_PROMPT="0",
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_ASKPASS=str(_private_file(scratch, "askpass", _ASKPASS, 0o700)),
            SSH_ASKPASS_REQUIRE="never",
        )
        if auth.username is not None:
            env["IMAGE_UPDATER_GIT_USERNAME"] = auth.username
        if auth.password is not None:
            env["IMAGE_UPDATER_GIT_PASSWORD"] = auth.password
            env.setdefault("IMAGE_UPDATER_GIT_USERNAME", auth.username or "x-access-token")
        if auth.tls_client_cert:
            env["GIT_SSL_CERT"] = str(_private_file(scratch, "client.crt", auth.tls_client_cert))
        if auth.tls_client_key:
            env["GIT_SSL_KEY"] = str(_private_file(scratch, "client.key", auth.tls_client_key))
        if auth.insecure:
            env["GIT_SSL_NO_VERIFY"] = "true"
        if auth.proxy:
            env["HTTPS_PROXY"] = env["HTTP_PROXY"] = auth.proxy
        env["GIT_SSH_COMMAND"] = _ssh_command(auth, scratch)
        yield env
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _ssh_command(auth: GitAuth, scratch: Path) -> str:
    known = _private_file(scratch, "known_hosts", auth.known_hosts or "")
    options = [
        "ssh",
        "-F",
        os.devnull,
        "-o",
        "BatchMode=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "GlobalKnownHostsFile=" + os.devnull,
    ]
    if auth.insecure:
        options += ["-o", "StrictHostKeyChecking=no"]
    else:
        options += ["-o", "StrictHostKeyChecking=yes"]
    if auth.ssh_private_key:
        key = _private_file(scratch, "id_key", auth.ssh_private_key)
        options += ["-i", str(key)]
    else:
        options += ["-o", "PubkeyAuthentication=no"]
    return shlex.join(options)
