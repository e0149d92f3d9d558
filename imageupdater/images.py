"""Image references: parsing ``[alias=]ref``, Docker Hub normalisation and formatting.

This module owns :class:`ImageRef`, the one value every other module uses to talk about a
container image. The grammar is distribution/reference's (the one ``docker pull`` uses),
extended the way Argo CD Image Updater's image-list entries are: the part after the tag
``:`` may be a version constraint (``nginx:~1.26``, ``x:>=1.0 <2.0``), which is kept as
written here and judged by :mod:`imageupdater.versions`.

Unlike upstream, nothing falls back silently: input that is neither a reference nor a
reference with a constraint is an :class:`~imageupdater.errors.InvalidImageReference`
naming the value and what would be accepted.
"""

from __future__ import annotations

__all__ = ["DOCKER_HUB", "ImageRef"]

import ipaddress
from dataclasses import dataclass, replace
from typing import Any

import re2

from imageupdater.errors import InvalidImageReference

DOCKER_HUB = "docker.io"
# Hosts that distribution/reference treats as Docker Hub when normalising.
_DOCKER_HUB_HOSTS = frozenset({DOCKER_HUB, "index.docker.io"})

_MAX_INPUT = 1024  # far above any real reference; bounds the work one annotation can cause
_MAX_NAME = 255  # distribution/reference's NameTotalLengthMax

_OPTIONS: Any = re2.Options()
_OPTIONS.log_errors = False


def _grammar(pattern: str) -> Any:
    # The path grammar has nested repetition that backtracking `re` handles in
    # exponential time on near-misses; RE2 keeps it linear for user input.
    return re2.compile(pattern, _OPTIONS)


_PATH_COMPONENT = _grammar(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_DOMAIN_NAME = _grammar(
    r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*"
)
_TAG = _grammar(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_ALIAS = _grammar(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")
_IPV6_CHARS = _grammar(r"[a-fA-F0-9:]+")
_IMAGE_ID = _grammar(r"[a-f0-9]{64}")
# Masterminds constraint vocabulary: versions, wildcards, operators, `,`/`||`, hyphen ranges.
_CONSTRAINT = _grammar(r"[A-Za-z0-9_.+*^~<>=!,| -]+")
_DIGEST = _grammar(r"([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-f0-9]+)")
# go-digest only validates these algorithms; anything else cannot be pulled.
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}

_REF_FORMS = "expected [alias=][registry[:port]/]name[:tag or :constraint][@sha256:<64 hex>]"


def _fail(text: str, reason: str) -> InvalidImageReference:
    return InvalidImageReference(f"invalid image reference {text!r}: {reason}; {_REF_FORMS}")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image reference, as the user wrote it.

    ``registry`` and ``name`` keep the user's spelling so ``str()`` round-trips;
    :attr:`registry_host`, :attr:`repository` and :meth:`identity` give the normalised
    view (``nginx`` and ``docker.io/library/nginx`` are the same image).
    """

    registry: str
    name: str
    tag: str | None = None
    digest: str | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse ``[alias=]ref``; raise :class:`InvalidImageReference` when it is not one."""
        source = text.strip()
        if not source:
            raise _fail(text, "it is empty")
        if len(source) > _MAX_INPUT:
            raise _fail(source[:40] + "...", f"longer than {_MAX_INPUT} characters")
        if not source.isascii() and any("\ud800" <= ch <= "\udfff" for ch in source):
            # JSON can carry a lone surrogate; no image name can, and RE2 cannot read one.
            raise _fail(source, "it contains a lone UTF-16 surrogate, which is not a character")
        alias, ref = _split_alias(source)
        ref, digest = _split_digest(source, ref)
        name_part, tag = _split_tag(source, ref)
        registry, name = _split_registry(source, name_part)
        return cls(registry=registry, name=name, tag=tag, digest=digest, alias=alias)

    @property
    def full_name(self) -> str:
        """``registry/name``, or just ``name`` when no registry was written."""
        return f"{self.registry}/{self.name}" if self.registry else self.name

    @property
    def registry_host(self) -> str:
        """The registry's host[:port], lower-cased; ``docker.io`` for Docker Hub in any spelling."""
        host = self.registry.lower()
        if not host or host in _DOCKER_HUB_HOSTS:
            return DOCKER_HUB
        return host

    @property
    def repository(self) -> str:
        """The repository path the registry API wants (``library/nginx`` for ``nginx``)."""
        if self.registry_host == DOCKER_HUB and "/" not in self.name:
            return f"library/{self.name}"
        return self.name

    def identity(self) -> tuple[str, str]:
        """(registry_host, repository): equal for every spelling of the same image."""
        return (self.registry_host, self.repository)

    def with_version(self, tag: str | None, digest: str | None = None) -> ImageRef:
        """This image at another tag and/or digest; both must be real ones, not constraints."""
        if tag is not None and not _TAG.fullmatch(tag):
            raise InvalidImageReference(
                f"invalid tag {tag!r} for image {self.full_name!r}: a tag is 1-128 of "
                "[A-Za-z0-9_.-], not starting with '.' or '-'"
            )
        if digest is not None:
            _check_digest(f"{self.full_name}@{digest}", digest)
        return replace(self, tag=tag, digest=digest)

    def __str__(self) -> str:
        text = self.full_name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return f"{self.alias}={text}" if self.alias is not None else text


def _split_alias(text: str) -> tuple[str | None, str]:
    equals = text.find("=")
    colon = text.find(":")
    # An `=` after the first `:` belongs to a constraint (`nginx:>=1.0`), not to an alias.
    if equals < 0 or (0 <= colon < equals):
        return None, text
    alias, ref = text[:equals].strip(), text[equals + 1 :].strip()
    if not alias:
        raise _fail(text, "the alias before '=' is empty")
    if not _ALIAS.fullmatch(alias):
        raise _fail(
            text,
            f"alias {alias!r} must be 1-63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit",
        )
    if not ref:
        raise _fail(text, f"nothing follows '{alias}='")
    return alias, ref


def _split_digest(text: str, ref: str) -> tuple[str, str | None]:
    at = ref.find("@", ref.rfind("/") + 1)
    if at < 0:
        return ref, None
    digest = ref[at + 1 :]
    _check_digest(text, digest)
    return ref[:at], digest


def _check_digest(text: str, digest: str) -> None:
    found = _DIGEST.fullmatch(digest)
    if found is None:
        raise _fail(text, f"digest {digest!r} is not <algorithm>:<lower-case hex>")
    algorithm, hex_part = found.group(1), found.group(2)
    length = _DIGEST_HEX_LENGTH.get(algorithm)
    if length is None:
        raise _fail(text, f"digest algorithm {algorithm!r} is not one of sha256, sha384, sha512")
    if len(hex_part) != length:
        raise _fail(text, f"a {algorithm} digest has {length} hex digits, not {len(hex_part)}")


def _split_tag(text: str, ref: str) -> tuple[str, str | None]:
    # The tag starts at the first `:` after the last `/`, so `localhost:5000/x` keeps its port.
    colon = ref.find(":", ref.rfind("/") + 1)
    if colon < 0:
        return ref, None
    name, tag = ref[:colon], ref[colon + 1 :].strip()
    if not tag:
        raise _fail(text, "the tag after ':' is empty")
    if _TAG.fullmatch(tag):
        return name, tag
    if not _CONSTRAINT.fullmatch(tag):
        raise _fail(
            text,
            f"{tag!r} is neither a tag (1-128 of [A-Za-z0-9_.-]) nor a version constraint "
            "(versions, '*', 'x', and the operators = != < <= > >= ~ ^ , || -)",
        )
    return name, tag


def _split_registry(text: str, name: str) -> tuple[str, str]:
    if not name:
        raise _fail(text, "the image name is empty")
    if any(c.isspace() for c in name):
        raise _fail(text, f"the name {name!r} contains whitespace")
    first, slash, rest = name.partition("/")
    # distribution/reference's rule: a first component is a registry when it looks like a
    # host (a dot or a port) or is `localhost`; otherwise the whole thing is a Docker Hub path.
    if slash and ("." in first or ":" in first or first == "localhost"):
        _check_registry(text, first)
        registry, path = first, rest
    else:
        registry, path = "", name
    _check_path(text, path)
    if not registry and _IMAGE_ID.fullmatch(path):
        raise _fail(text, f"{path!r} is an image ID (64 hex digits), not a repository name")
    if len(registry) + len(path) + (1 if registry else 0) > _MAX_NAME:
        raise _fail(text, f"the name is longer than {_MAX_NAME} characters")
    return registry, path


def _check_registry(text: str, registry: str) -> None:
    if registry.startswith("["):
        close = registry.find("]")
        after = registry[close + 1 :] if close > 0 else ""
        if close < 0 or (after and not after.startswith(":")):
            raise _fail(text, f"registry {registry!r} is not [IPv6 address][:port]")
        try:
            if not _IPV6_CHARS.fullmatch(registry[1:close]):
                raise ValueError("zone or unexpected characters")  # grammar: [a-fA-F0-9:]+
            ipaddress.IPv6Address(registry[1:close])
        except ValueError as err:
            raise _fail(
                text, f"{registry[: close + 1]!r} is not an IPv6 address in brackets"
            ) from err
        has_port, port = bool(after), after[1:]
    else:
        host, colon, port = registry.partition(":")
        if not _DOMAIN_NAME.fullmatch(host):
            raise _fail(
                text,
                f"registry host {host!r} must be dot-separated letters, digits and inner '-'",
            )
        has_port = bool(colon)
    if has_port and not (port.isascii() and port.isdigit() and 0 < int(port) <= 65535):
        raise _fail(text, f"registry port {port!r} is not a number from 1 to 65535")


def _check_path(text: str, path: str) -> None:
    if not path:
        raise _fail(text, "the repository path after the registry is empty")
    for component in path.split("/"):
        if not component:
            raise _fail(
                text, f"repository path {path!r} has an empty component ('//' or '/' at an end)"
            )
        if component != component.lower():
            raise _fail(text, f"repository path {path!r} has upper-case letters; use lower case")
        if not _PATH_COMPONENT.fullmatch(component):
            raise _fail(
                text,
                f"path component {component!r} must be lower-case letters and digits "
                "joined by '.', '_', '__' or runs of '-'",
            )
