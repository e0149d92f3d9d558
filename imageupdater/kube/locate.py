"""Which configuration a client reads, as kubectl picks it: ``--kubeconfig``; else the
``$KUBECONFIG`` list (files that do not exist are skipped, but one must); else, in a pod
(``KUBERNETES_SERVICE_HOST`` set), the pod's service account; else ``~/.kube/config``.

In a pod, a ``$KUBECONFIG`` list naming no existing file is no configuration at all, as
for client-go, and the service account is used. :func:`kubeconfig_problem` is the quick
check the CLI makes before a command starts: whether the files can be read at all.
"""

from __future__ import annotations

__all__ = ["choose", "kubeconfig_files", "kubeconfig_problem", "readable_files"]

import os
from collections.abc import Mapping
from pathlib import Path

from imageupdater.errors import InvalidKubeconfig

from .incluster import ServiceAccount, in_cluster
from .kubeconfig import load_kubeconfig
from .settings import Connection


def kubeconfig_files(kubeconfig: str | None, environ: Mapping[str, str]) -> tuple[list[Path], str]:
    """The kubeconfig files to read, as kubectl picks them, and how they were chosen."""
    if kubeconfig:
        return [Path(kubeconfig).expanduser()], ""
    listed = [p for p in environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if listed:
        return [Path(p).expanduser() for p in listed], " (from $KUBECONFIG)"
    default = Path("~/.kube/config").expanduser()
    return [default], " (the default: no --kubeconfig or $KUBECONFIG, and not in a cluster)"


def _why_unreadable(path: Path) -> str | None:
    try:
        with path.open("rb"):
            return None
    except (FileNotFoundError, NotADirectoryError):
        return "no such file"
    except IsADirectoryError:
        return "it is a directory"
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def readable_files(files: list[Path], source: str) -> tuple[list[Path], str | None]:
    """The files that exist, and why they cannot be used (one line naming a file), or None.

    As kubectl does, files of a ``$KUBECONFIG`` list that do not exist are skipped, but one
    must; every file that exists must be readable."""
    existing = [path for path in files if path.exists()]
    for path in existing:
        reason = _why_unreadable(path)
        if reason is not None:
            return existing, f"cannot read kubeconfig {path}{source}: {reason}"
    if existing:
        return existing, None
    if len(files) == 1:
        return existing, f"cannot read kubeconfig {files[0]}{source}: no such file"
    return existing, f"cannot read kubeconfig: none of {', '.join(map(str, files))}{source} exists"


def kubeconfig_problem(
    kubeconfig: str | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """Why the kubeconfig :meth:`KubeClient.connect` would read outside a cluster cannot be
    read (one line naming the file), or None; its contents are not checked here.

    ``kubeconfig`` is the ``--kubeconfig`` value; without one, ``$KUBECONFIG`` (a list of
    files, of which those that do not exist are skipped, like kubectl) or ``~/.kube/config``.
    """
    files, source = kubeconfig_files(kubeconfig, os.environ if environ is None else environ)
    return readable_files(files, source)[1]


def choose(
    kubeconfig: str | None,
    context: str | None,
    environ: Mapping[str, str],
    account: ServiceAccount,
) -> Connection:
    """kubectl's order: ``--kubeconfig``; ``$KUBECONFIG`` (unless, in a pod, none of its
    files exists); the pod's service account; ``~/.kube/config``."""
    in_pod = "KUBERNETES_SERVICE_HOST" in environ
    files, source = kubeconfig_files(kubeconfig, environ)
    readable, problem = readable_files(files, source)
    listed = bool(environ.get("KUBECONFIG", "").strip(os.pathsep))
    if in_pod and kubeconfig is None and (not listed or not readable):
        origin = "the in-cluster service account's configuration"
        try:
            return in_cluster(environ, account)
        except InvalidKubeconfig as exc:
            raise InvalidKubeconfig(f"cannot load {origin}: {exc}") from exc
    if problem is not None:
        raise InvalidKubeconfig(problem)
    origin = f"kubeconfig {', '.join(map(str, readable))}{source}"
    try:
        chosen = load_kubeconfig(readable, context=context)
    except InvalidKubeconfig as exc:
        raise InvalidKubeconfig(f"cannot load {origin}: {exc}") from exc
    return Connection(chosen.cluster, chosen.user, origin=origin)
