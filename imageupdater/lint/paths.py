"""Which files of a GitOps repository lint reads: ``--exclude`` globs and Helm chart templates.

Pure rules on paths; the command walks the file system and asks them.

``excluded(path, patterns)``: ``path`` is relative (``/``-separated) to the directory being
searched, or a FILE argument as written. Each pattern is matched with :func:`fnmatch.fnmatchcase`
(case-sensitive; ``*`` and ``?`` also match ``/``, so ``**`` is the same as ``*``;
``[...]`` sets; no ``!`` negation):

* a pattern without ``/`` is matched against every component of the path, so ``charts``
  skips every directory or file named ``charts`` and all below it, ``*.tmpl.yaml`` skips
  files by name;
* a pattern with a ``/`` anywhere is matched against the whole path and each of its
  leading directories, so ``envs/prod`` skips that directory and all below it,
  ``envs/*/secrets`` each environment's ``secrets``, and ``/charts`` (a leading ``/`` or
  ``./`` only anchors) a top-level ``charts`` alone;
* a trailing ``/`` matches directories only.
"""

from __future__ import annotations

__all__ = ["CHART_FILE", "chart_template", "excluded"]

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from pathlib import PurePath

CHART_FILE = "Chart.yaml"
_TEMPLATES_DIR = "templates"


def excluded(path: str, patterns: Iterable[str], *, is_dir: bool = False) -> bool:
    """Whether an ``--exclude`` pattern matches ``path`` (a directory when ``is_dir``)."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if not parts:
        return False
    return any(_matches(parts, pattern, is_dir=is_dir) for pattern in patterns)


def _matches(parts: list[str], pattern: str, *, is_dir: bool) -> bool:
    dirs_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    anchored = "/" in pattern
    while pattern.startswith(("/", "./")):
        pattern = pattern.removeprefix(".").removeprefix("/")
    if not pattern:
        return False
    # Components that are directories: all but the last, and the last when it is one.
    last = len(parts) if (is_dir or not dirs_only) else len(parts) - 1
    for index in range(last):
        candidate = "/".join(parts[: index + 1]) if anchored else parts[index]
        if fnmatchcase(candidate, pattern):
            return True
    return False


def chart_template(path: PurePath, is_chart: Callable[[PurePath], bool]) -> bool:
    """Whether ``path`` is below a Helm chart's ``templates/`` directory.

    ``path`` should be absolute; ``is_chart(directory)`` says whether ``directory`` holds a
    ``Chart.yaml``. Helm renders every file below ``templates/``, at any depth.
    """
    return any(parent.name == _TEMPLATES_DIR and is_chart(parent.parent) for parent in path.parents)
