"""Repository URLs as Argo CD compares them: its ``NormalizeGitURL`` and ``SameURL``, SSH
detection, and URLs shown without their password."""

from __future__ import annotations

__all__ = ["is_ssh_url", "normalize_repo_url", "same_repo_url", "shown_url"]

import string
from urllib.parse import urlsplit

import re2

# Argo CD's (util/git) test for an SSH URL, on which its normalisation depends.
_ARGOCD_SSH = re2.compile(r"^(ssh://)?([^/:]*?)@[^@]+$")
# Go's url.URL.EscapedPath: characters a path keeps as written, and those it may carry
# when it is already validly encoded.
_PATH_KEEPS = frozenset(string.ascii_letters + string.digits + "-_.~$&+,/:;=@")
_PATH_ENCODED = _PATH_KEEPS | frozenset("!'()*[]%")
_HOST_CHARS = frozenset(string.ascii_lowercase + string.digits + "-._~!$&'()*+,;=%[]:")


def is_ssh_url(url: str) -> bool:
    """Whether git reaches ``url`` over SSH: ``ssh://…``, ``user@host:path`` (Argo CD's
    rule) or an scp-like ``host:path`` without a user."""
    text = url.strip()
    if _ARGOCD_SSH.search(text) is not None:
        return True
    if text.lower().startswith(("ssh://", "git+ssh://", "ssh+git://")):
        return True
    if "://" in text:
        return False
    colon, slash = text.find(":"), text.find("/")
    return colon > 0 and (slash == -1 or colon < slash)


def normalize_repo_url(url: str) -> str:
    """Argo CD's ``NormalizeGitURL``: the form two URLs of one repository share.

    Lower case, surrounding space removed, one trailing ``.git`` removed, ``[user@]host:path``
    rewritten as ``user@host/path`` and ``ssh://`` dropped, the path escaped as Go's
    ``net/url`` does. A trailing ``/`` and an explicit port stay. ``""`` when the URL cannot
    be parsed (Argo CD then matches nothing).
    """
    repo = url.strip().lower()
    if _ARGOCD_SSH.search(repo) is not None and not repo.startswith("ssh://"):
        repo = "ssh://" + repo.replace(":", "/", 1)
    repo = repo.removesuffix(".git")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in repo):
        return ""
    try:
        parts = urlsplit(repo)
    except ValueError:
        return ""
    path = _go_escaped_path(parts.path)
    if path is None:
        return ""
    if parts.scheme and repo[len(parts.scheme) :].startswith("://"):
        if not _valid_authority(parts.netloc):
            return ""
        normalized = f"{parts.scheme}://{parts.netloc}{path}"
    elif parts.scheme:
        normalized = f"{parts.scheme}:{path}"
    else:
        normalized = path
    if parts.query or repo.endswith("?"):
        normalized += f"?{parts.query}"
    if parts.fragment:
        normalized += f"#{parts.fragment}"
    return normalized.removeprefix("ssh://")


def same_repo_url(left: str, right: str) -> bool:
    """Argo CD's ``SameURL``: both normalise, to the same text."""
    normal_left = normalize_repo_url(left)
    return normal_left != "" and normal_left == normalize_repo_url(right)


def _go_escaped_path(path: str) -> str | None:
    raw = path.encode()
    decoded = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == ord("%"):
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(chr(b) in string.hexdigits for b in pair):
                return None  # Go's url.Parse refuses a broken escape
            decoded.append(int(pair, 16))
            i += 3
        else:
            decoded.append(raw[i])
            i += 1
    if all(ch in _PATH_ENCODED for ch in path):
        return path
    return "".join(chr(b) if chr(b) in _PATH_KEEPS else f"%{b:02X}" for b in decoded)


def _valid_authority(netloc: str) -> bool:
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        closing = host.find("]")
        if closing == -1:
            return False
        port_part = host[closing + 1 :]
        if port_part and not port_part.startswith(":"):
            return False
    else:
        _, colon, port = host.rpartition(":")
        port_part = f":{port}" if colon else ""
    if port_part and not port_part[1:].isdigit() and port_part != ":":
        return False
    return all(ch in _HOST_CHARS for ch in host)


def shown_url(url: str) -> str:
    """``url`` without the password of its userinfo, for messages."""
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return "<unparseable URL>"
    userinfo, at, host = parts.netloc.rpartition("@")
    if at and ":" in userinfo:
        return parts._replace(netloc=f"{userinfo.partition(':')[0]}@{host}").geturl()
    return text
