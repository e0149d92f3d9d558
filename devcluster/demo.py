"""``python -m devcluster demo``: Image Updater end to end on this machine, against real parts.

1. Starts Debian's ``docker-registry`` on 127.0.0.1 and seeds it with images over its HTTP
   API: semver tags with a prerelease, date-stamped builds, a multi-arch ``latest``.
2. Writes a ``registries.conf`` for it and runs ``image-updater test`` as a user would,
   once per strategy, printing each command and its answer.
3. Runs ``image-updater lint`` on an Application with a typo'd annotation and shows the
   finding.

Everything binds 127.0.0.1 and is stopped at the end (also on Ctrl-C).
"""

from __future__ import annotations

__all__ = ["main"]

import argparse
import asyncio
import datetime as dt
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path

import aiohttp

from devcluster.registry import LocalRegistry
from devcluster.seeder import ImageSeeder

_BASE = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def _say(text: str = "") -> None:
    print(text, flush=True)


async def _seed(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        seeder = ImageSeeder(url, session)
        semver_tags = ["1.25.0", "1.25.3", "1.26.0", "1.26.2", "1.27.0", "1.27.1", "1.28.0-rc.1"]
        for day, tag in enumerate(semver_tags):
            await seeder.push("demo/nginx", tag, created=_BASE + dt.timedelta(days=day))
        builds = ["main-20260105-a1b2c3", "main-20260112-d4e5f6", "main-20260119-0a1b2c"]
        for week, tag in enumerate(builds):
            # Creation dates out of alphabetical order, so newest-build and alphabetical differ.
            created = _BASE + dt.timedelta(days=[7, 14, 3][week])
            await seeder.push(
                "demo/api",
                tag,
                created=created,
                labels={"org.opencontainers.image.revision": tag[-6:]},
            )
        await seeder.push(
            "demo/api",
            "latest",
            created=_BASE + dt.timedelta(days=20),
            platforms=("linux/amd64", "linux/arm64/v8"),
            media="oci",
        )


def _run(binary: Path, args: Sequence[str], env: dict[str, str]) -> int:
    shown = " ".join(shlex.quote(a) for a in ["image-updater", *args])
    shown = shown.replace(str(Path(tempfile.gettempdir())), "$TMP")
    _say(f"$ {shown}")
    done = subprocess.run(
        [str(binary), *args], env=env, capture_output=True, text=True, check=False
    )
    for line in (done.stdout + done.stderr).splitlines():
        _say(f"  {line}")
    _say(f"  (exit {done.returncode})")
    _say()
    return done.returncode


_BAD_APP = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: guestbook
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: web={host}/demo/nginx:~1.26
    argocd-image-updater.argoproj.io/web.update-stratgy: newest-build
    argocd-image-updater.argoproj.io/web.allow-tags: "regexp:^1\\\\.(26|27"
spec:
  project: default
  source: {{repoURL: "https://example.invalid/repo.git", path: guestbook, kustomize: {{}}}}
  destination: {{server: "https://kubernetes.default.svc", namespace: guestbook}}
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devcluster demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.parse_args(argv)
    binary = Path(sys.executable).with_name("image-updater")
    with tempfile.TemporaryDirectory(prefix="image-updater-demo-") as scratch:
        work = Path(scratch)
        _say("== 1. a real registry on 127.0.0.1, seeded over its HTTP API")
        with LocalRegistry(work / "registry") as registry:
            _say(f"docker-registry (distribution 2.8.2) listening on {registry.url}")
            asyncio.run(_seed(registry.url))
            _say(
                "pushed demo/nginx: 1.25.0 … 1.27.1 and 1.28.0-rc.1; demo/api: three dated "
                "builds and a two-platform OCI index 'latest'"
            )
            _say()
            conf = work / "registries.conf"
            conf.write_text(
                textwrap.dedent(
                    f"""\
                    registries:
                    - name: demo
                      prefix: {registry.host}
                      api_url: {registry.url}
                      limit: 50
                    """
                )
            )
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            common = ["--registries-conf-path", str(conf), "--loglevel", "warn"]
            host = registry.host
            _say("== 2. which tag would each policy choose? (image-updater test)")
            failures = 0
            for args in (
                ["test", f"{host}/demo/nginx", *common],
                ["test", f"{host}/demo/nginx:~1.26", *common],
                ["test", f"{host}/demo/nginx", "--semver-constraint", ">=1.0.0-0", *common],
                [
                    "test",
                    f"{host}/demo/api",
                    "--update-strategy",
                    "newest-build",
                    "--allow-tags",
                    "regexp:^main-",
                    *common,
                ],
                [
                    "test",
                    f"{host}/demo/api",
                    "--update-strategy",
                    "alphabetical",
                    "--ignore-tags",
                    "latest",
                    *common,
                ],
                [
                    "test",
                    f"{host}/demo/api:latest",
                    "--update-strategy",
                    "digest",
                    "--platforms",
                    "linux/arm64",
                    "--output",
                    "json",
                    *common,
                ],
            ):
                failures += _run(binary, args, env) != 0
            _say(
                "== 3. a mistake is loud: the same words `lint`, the webhook and the reconciler use"
            )
            app = work / "app.yaml"
            app.write_text(_BAD_APP.format(host=host))
            lint_exit = _run(binary, ["lint", str(app)], env)
            _run(
                binary, ["test", f"{host}/demo/nginx", "--update-strategy", "latests", *common], env
            )
        _say("registry stopped; done.")
    return 0 if failures == 0 and lint_exit == 1 else 1
