"""Whether an AppProject lets its Applications use a repository: Argo CD's ``sourceRepos``.

Argo CD permits a source when some ``sourceRepos`` entry matches its normalised URL and no
``!``-prefixed entry excludes it (``IsSourcePermitted``): each entry is normalised like the
URL, ``*`` allows everything, and the globs are gobwas globs without separators (``*`` spans
``/``). We apply the same rule before pushing with Argo CD's own repository credentials, so
an Application cannot borrow them for a repository its project does not allow. Stricter
than Argo CD, which treats a glob it cannot compile as "no match" (and so a broken ``!``
entry as "allowed"): a bad entry refuses the write, naming it.
"""

from __future__ import annotations

__all__ = ["check_source_permitted", "source_permitted"]

from collections.abc import Mapping, Sequence
from typing import Any

from imageupdater.errors import CredentialError
from imageupdater.gitcreds.urls import normalize_repo_url, shown_url
from imageupdater.syncwindows.globs import compile_glob, glob_matches


def source_permitted(repo_url: str, source_repos: Sequence[str]) -> bool:
    """Argo CD's rule; ValueError naming the entry when one is not a glob we can compile."""
    target = normalize_repo_url(repo_url)
    if not target:
        return False
    allowed = False
    for entry in source_repos:
        deny = entry.startswith("!")
        pattern = normalize_repo_url(entry[1:] if deny else entry)
        if not deny and pattern == "*":
            allowed = True
            continue
        try:
            program = compile_glob(pattern)
        except ValueError as err:
            raise ValueError(f"sourceRepos entry {entry!r} is not a valid glob: {err}") from None
        matches = glob_matches(program, target)
        if deny and matches:
            return False
        if not deny and matches:
            allowed = True
        elif deny:
            # A deny entry that does not exclude the URL counts as a match in Argo CD.
            allowed = True
    return allowed


def check_source_permitted(
    repo_url: str, project_name: str, project: Mapping[str, Any] | None
) -> None:
    """Raise ``CredentialError`` unless ``project`` (the AppProject object, None when it
    does not exist) permits ``repo_url``; the message names the URL and the project."""
    shown = shown_url(repo_url)
    if project is None:
        raise CredentialError(
            f"cannot use Argo CD's credentials for {shown}: AppProject '{project_name}' does "
            "not exist, so nothing says the Application may use that repository"
        )
    spec = project.get("spec")
    entries = spec.get("sourceRepos") if isinstance(spec, Mapping) else None
    listed = [e for e in entries if isinstance(e, str)] if isinstance(entries, list) else []
    try:
        permitted = source_permitted(repo_url, listed)
    except ValueError as err:
        raise CredentialError(
            f"cannot use Argo CD's credentials for {shown}: AppProject '{project_name}': {err}"
        ) from None
    if not permitted:
        raise CredentialError(
            f"refusing to push to {shown} with Argo CD's credentials: AppProject "
            f"'{project_name}' does not permit that repository (its sourceRepos: "
            f"{', '.join(repr(e) for e in listed) or 'none'}); add it there, or name a Secret "
            "with write-back-method git:secret:<name>"
        )
