"""What we ship: the sdist and the wheel built from a copy of the checkout, the wheel installed
with its dependencies into a fresh virtualenv (no access to the checkout or the dev venv) and
run there, and the Dockerfile's shape (checked as text: no image is built here).

The build runs the way a release would: the sdist first, then the wheel from the sdist, so a
file the sdist leaves out fails here rather than on a user's machine. The build backend comes
from pyproject.toml's ``[build-system] requires`` into a throwaway venv (the dev venv's
setuptools may be older than the project needs). Every subprocess failure reports the
command and its whole output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION: str = PYPROJECT["project"]["version"]
PACKAGES = ("imageupdater", "webhook", "reconciler", "certs", "devcluster")
SUBCOMMANDS = (
    "admission",
    "run",
    "certs",
    "lint",
    "test",
    "template",
    "version",
    "webhook",
    "hold",
    "release",
    "migrate",
)
# The UID/GID the manifests' pods run as; the image's USER must be the same numbers.
RUN_AS = 65532

# Not part of a source tree a release is built from: VCS data, virtualenvs, build output and
# tool caches (a stale build/lib would otherwise leak old files into the wheel).
_NOT_SOURCE = {
    ".git",
    ".venv",
    "build",
    "dist",
    ".demo",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".import_linter_cache",
}


def _run(cmd: Sequence[str | Path], *, cwd: Path, timeout: float = 180) -> str:
    """Run a command with an environment that cannot see the checkout; fail with its output."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    argv = [str(c) for c in cmd]
    try:
        done = subprocess.run(
            argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        output = [
            o.decode(errors="replace") if isinstance(o, bytes) else o or ""
            for o in (exc.stdout, exc.stderr)
        ]
        pytest.fail(
            f"timed out after {timeout:.0f} s: {' '.join(argv)}\n" + "\n".join(output),
            pytrace=False,
        )
    if done.returncode != 0:
        pytest.fail(
            f"exit {done.returncode}: {' '.join(argv)}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}",
            pytrace=False,
        )
    return done.stdout


def _ignore_non_source(directory: str, names: list[str]) -> set[str]:
    ignored = {n for n in names if n in _NOT_SOURCE or n.endswith((".egg-info", ".pyc"))}
    if Path(directory) == ROOT / "bench":
        ignored.add("out")
    return ignored


def _venv(path: Path) -> Path:
    """A fresh virtualenv without system site-packages; returns its python."""
    _run([sys.executable, "-m", "venv", path], cwd=path.parent, timeout=120)
    return path / "bin" / "python"


@dataclass(frozen=True)
class Built:
    source: Path  # the copy of the checkout both artefacts were built from
    sdist: Path
    wheel: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("packaging")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=_ignore_non_source, symlinks=True)
    dist = base / "dist"
    dist.mkdir()

    python = _venv(base / "build-venv")
    requires = PYPROJECT["build-system"]["requires"]
    _run([python, "-m", "pip", "install", "--quiet", *requires], cwd=base)
    backend = PYPROJECT["build-system"]["build-backend"]
    _run(
        [python, "-c", f"import {backend} as b, sys; print(b.build_sdist(sys.argv[1]))", dist],
        cwd=source,
    )
    (sdist,) = dist.glob("*.tar.gz")
    _run(
        [python, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", dist, sdist],
        cwd=base,
    )
    (wheel,) = dist.glob("*.whl")
    return Built(source=source, sdist=sdist, wheel=wheel)


def test_the_wheel_holds_the_five_packages_their_markers_and_nothing_else(built: Built) -> None:
    assert built.wheel.name == f"image_updater-{VERSION}-py3-none-any.whl"
    names = zipfile.ZipFile(built.wheel).namelist()
    dist_info = f"image_updater-{VERSION}.dist-info"
    assert {n.split("/", 1)[0] for n in names} == {*PACKAGES, dist_info}
    assert not [n for n in names if n.startswith(("tests/", "bench/", "manifests/", "docs/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    for package in PACKAGES:
        assert f"{package}/py.typed" in names, f"{package} has no py.typed marker"
        # Every module of the source is shipped: a subpackage left out by packages.find
        # (say, one missing from the include patterns) would only fail at import time.
        for module in (built.source / package).rglob("*.py"):
            if "__pycache__" not in module.parts:
                assert module.relative_to(built.source).as_posix() in names
    # package data the code loads at run time
    assert "devcluster/crds/application-crd.yaml" in names


def test_the_wheel_declares_the_console_script_and_no_other_entry_point(built: Built) -> None:
    with zipfile.ZipFile(built.wheel) as whl:
        entry_points = whl.read(f"image_updater-{VERSION}.dist-info/entry_points.txt").decode()
        metadata = whl.read(f"image_updater-{VERSION}.dist-info/METADATA").decode()
    # The subcommands are listed in imageupdater.cli.commands, not in package metadata.
    assert entry_points.split() == [
        "[console_scripts]",
        "image-updater",
        "=",
        "imageupdater.cli:main",
    ]
    assert f"Version: {VERSION}" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    for requirement in PYPROJECT["project"]["dependencies"]:
        name = re.split(r"[<>=!~ \[;]", requirement, maxsplit=1)[0]
        assert re.search(rf"^Requires-Dist: {re.escape(name)}\b", metadata, re.M | re.I), name


def test_the_sdist_holds_the_sources_the_wheel_is_built_from(built: Built) -> None:
    top = f"image_updater-{VERSION}"
    with tarfile.open(built.sdist) as sdist:
        names = {n.removeprefix(f"{top}/") for n in sdist.getnames()}
    assert {"pyproject.toml", "README.md", "PKG-INFO"} <= names
    for package in PACKAGES:
        assert f"{package}/__init__.py" in names
        assert f"{package}/py.typed" in names
    # There is no MANIFEST.in: the sdist is the packages plus setuptools' defaults (which
    # include tests/test*.py), not the repository (manifests/ and docs/ are not in it).
    assert not [n for n in names if n.startswith((".git/", ".venv/", "build/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


@pytest.mark.timeout(300)
def test_the_installed_wheel_runs_in_a_clean_virtualenv(built: Built, tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    bin_dir = python.parent
    _run([python, "-m", "pip", "install", "--quiet", built.wheel], cwd=tmp_path, timeout=240)
    _run([python, "-m", "pip", "check"], cwd=tmp_path)

    where = _run([python, "-c", "import imageupdater; print(imageupdater.__file__)"], cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(tmp_path / "venv"), "imported from the checkout"
    # pip compiled the wheel at install (as the image's `pip install --compile` does): no
    # start has to compile the project.
    package = Path(where.strip()).parent
    sources = list(package.rglob("*.py"))
    compiled = list(package.rglob("__pycache__/*.pyc"))
    assert sources and len(compiled) >= len(sources), (len(sources), len(compiled))

    usage = _run([bin_dir / "image-updater", "--help"], cwd=tmp_path, timeout=60)
    for name in SUBCOMMANDS:
        assert re.search(rf"^\s+{name}\b", usage, re.M), f"`{name}` missing from --help:\n{usage}"
    version = _run([bin_dir / "image-updater", "version"], cwd=tmp_path, timeout=60)
    assert version.splitlines()[0] == f"image-updater: v{VERSION}"
    short = _run([bin_dir / "image-updater", "version", "--short"], cwd=tmp_path, timeout=60)
    assert short.strip() == f"v{VERSION}"


# ---- the Dockerfile, as text ----


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def _instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        out.append(Instruction(keyword.upper(), " ".join(args.split())))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def _stages(instructions: list[Instruction]) -> tuple[list[Instruction], list[list[Instruction]]]:
    """The global ARGs before the first FROM, and each stage's instructions (FROM first)."""
    preamble: list[Instruction] = []
    stages: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
        else:
            preamble.append(ins)
    return preamble, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[list[Instruction], list[list[Instruction]]]:
    return _stages(_instructions((ROOT / "Dockerfile").read_text()))


def test_the_image_is_built_in_two_stages_from_one_pinnable_base(
    dockerfile: tuple[list[Instruction], list[list[Instruction]]],
) -> None:
    preamble, stages = dockerfile
    args = [i.args for i in preamble if i.keyword == "ARG"]
    assert any(re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim\S*", a) for a in args), args
    assert len(stages) == 2
    for stage in stages:
        assert stage[0].args.split()[0] == "${PYTHON_IMAGE}", stage[0]
    build = stages[0]
    assert re.fullmatch(r"\$\{PYTHON_IMAGE\} AS \w+", build[0].args, re.I)
    assert any("pip wheel" in i.args and "--no-deps" in i.args for i in build if i.keyword == "RUN")
    # The build stage copies every package the wheel is made of.
    copied = {i.args.split()[0] for i in build if i.keyword == "COPY"}
    for pattern in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"the build stage does not COPY {pattern}"


def test_the_final_stage_runs_image_updater_as_the_manifests_non_root_user(
    dockerfile: tuple[list[Instruction], list[list[Instruction]]],
) -> None:
    _, (_, final) = dockerfile
    by_keyword: dict[str, list[str]] = {}
    for ins in final:
        by_keyword.setdefault(ins.keyword, []).append(ins.args)

    assert by_keyword["USER"] == [f"{RUN_AS}:{RUN_AS}"]
    for name in ("reconciler.yaml", "admission.yaml"):
        for doc in yaml.safe_load_all((ROOT / "manifests" / "base" / name).read_text()):
            pod = doc["spec"]["template"]["spec"] if doc and doc["kind"] == "Deployment" else {}
            if pod:
                assert pod["securityContext"]["runAsUser"] == RUN_AS, name
    assert any(f"--uid {RUN_AS}" in r and f"--gid {RUN_AS}" in r for r in by_keyword["RUN"])

    assert json.loads(by_keyword["ENTRYPOINT"][-1]) == ["image-updater"]
    assert by_keyword["WORKDIR"][-1] == "/app"
    env = " ".join(by_keyword["ENV"])
    for setting in ("HOME=/tmp", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"):
        assert setting in env.split()


def test_the_final_stage_installs_only_the_wheel_and_git_tools(
    dockerfile: tuple[list[Instruction], list[list[Instruction]]],
) -> None:
    _, (build, final) = dockerfile
    runs = [i.args for i in final if i.keyword == "RUN"]

    apt = [r for r in runs if "apt-get install" in r]
    assert len(apt) == 1
    assert "--no-install-recommends" in apt[0]
    assert {"git", "openssh-client", "gnupg"} <= set(apt[0].split())
    assert "rm -rf /var/lib/apt/lists/*" in apt[0]

    pip = [r for r in runs if re.search(r"\bpip3? install\b", r)]
    assert len(pip) == 1, pip
    assert "--no-cache-dir" in pip[0]
    installed = re.split(r"\bpip3? install\b", pip[0], maxsplit=1)[1].split()
    assert [a for a in installed if not a.startswith("-")] == ["/wheels/*.whl"]
    stage_name = build[0].args.split()[-1]
    assert f"from={stage_name}" in pip[0], "the wheel comes from the build stage"

    # No sources and no build tooling reach the final image.
    assert not [i for i in final if i.keyword in {"COPY", "ADD"} and "--from=" not in i.args]
    for tool in ("pip wheel", "python -m build", "build-essential", "gcc", "setuptools"):
        assert not [r for r in runs if tool in r], tool


def test_the_labels_and_tag_agree_with_the_package(
    dockerfile: tuple[list[Instruction], list[list[Instruction]]],
) -> None:
    _, (_, final) = dockerfile
    labels = " ".join(i.args for i in final if i.keyword == "LABEL")
    found = dict(re.findall(r'(org\.opencontainers\.image\.\w+)="([^"]*)"', labels))
    assert set(found) >= {
        f"org.opencontainers.image.{k}"
        for k in ("title", "description", "source", "licenses", "version")
    }
    assert found["org.opencontainers.image.title"] == PYPROJECT["project"]["name"]
    assert found["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]
    assert found["org.opencontainers.image.version"] == "${VERSION}"
    assert f"VERSION={VERSION}" in [i.args for i in final if i.keyword == "ARG"]

    # The manifests deploy the tag "v" + the package version.
    kustomization = yaml.safe_load((ROOT / "manifests/base/kustomization.yaml").read_text())
    (image,) = [i for i in kustomization["images"] if i["name"] == "image-updater"]
    assert image["newTag"] == f"v{VERSION}"


def test_the_dockerignore_keeps_the_context_small_without_hiding_the_wheel_sources(
    dockerfile: tuple[list[Instruction], list[list[Instruction]]],
) -> None:
    _, (build, _) = dockerfile
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "tests", "docs"} <= ignored
    assert not [p for p in ignored if p.startswith("!")], "no re-includes: keep it simple"
    for ins in build:
        if ins.keyword == "COPY":
            for source in ins.args.split()[:-1]:
                assert source not in ignored, f"{source} is copied but .dockerignore hides it"
