"""``registries.conf``: registry endpoints, the built-in Docker Hub, and endpoint lookup.

Owns the file format upstream reads from ``--registries-conf-path`` (a top-level
``registries:`` list; keys ``name``, ``prefix``, ``api_url``, ``credentials``,
``credsexpire``, ``defaultns``, ``default``, ``insecure``, ``ca_file``, ``ca_data``,
``limit``, ``tagsortmode``, ``ping``), parsed strictly: unknown or duplicate keys, wrong
types and bad values are errors naming the line, the entry and what is accepted.

Decisions (where upstream is silent or odd):

* ``limit``: upstream's docs say the default is 20 req/s, its code makes a configured
  registry without ``limit`` (or with ``limit <= 0``) unlimited. We follow the code:
  ``RegistryEndpoint.limit is None`` means unlimited. The built-in Docker Hub endpoint
  gets 10 req/s and inferred endpoints 20 req/s, as upstream.
* ``ping`` is accepted and kept, and, as upstream, not used: the registry client always
  pings ``/v2/`` to learn the auth challenge.
* ``credsexpire`` is a Go duration string (``11h``, ``1h30m``, ``90s``, ``500ms``); a bare
  number other than ``0`` needs a unit; negative durations are errors.
* Prefixes match ``<host>/<repository>`` at path boundaries (``foo.bar/team1`` does not
  match ``foo.bar/team10/app``, which upstream's plain string prefix does) and the longest
  match wins, even over an entry for the bare host (upstream tries the bare host first).
* An entry without ``prefix`` (at most one, as upstream) matches every image with a
  registry host that no other prefix matches, so no endpoint is inferred.
* Images written without a registry use the default endpoint, but a longer prefix under
  the default's host still wins (``docker.io/myorg`` serves ``myorg/app``). An entry with
  prefix ``docker.io`` replaces the built-in Docker Hub endpoint and, unless another entry
  says ``default: true``, also its role as default (upstream kept using the built-in one).
* Unknown hosts are inferred as ``https://<host>``, including ``localhost:5000`` and
  ``127.0.0.1:5000``: a plain-HTTP local registry needs an entry with an ``http://``
  ``api_url``.
* ``ca_data`` must hold at least one PEM certificate; ``load`` also checks that a
  ``ca_file`` exists. Finding ``/app/config/tls/<host>`` when ``ca_file`` is omitted is
  the registry client's job.

Messages quote keys and ordinary values but never the ``credentials`` value (a user may
have pasted a password there).
"""

from __future__ import annotations

__all__ = [
    "BUILTIN_DOCKER_HUB",
    "DEFAULT_PATH",
    "INFERRED_LIMIT",
    "EndpointOrigin",
    "RegistriesConf",
    "RegistryEndpoint",
    "TagSortMode",
]

from dataclasses import dataclass, replace
from pathlib import Path

from imageupdater.errors import InvalidRegistriesConf
from imageupdater.registries_conf.endpoint import (
    BUILTIN_DOCKER_HUB,
    INFERRED_LIMIT,
    EndpointOrigin,
    RegistryEndpoint,
    TagSortMode,
)
from imageupdater.registries_conf.entries import check_unique, endpoint_from_entry
from imageupdater.registries_conf.yaml_reader import read_entries

DEFAULT_PATH = Path("/app/config/registries.conf")


@dataclass(frozen=True, slots=True)
class RegistriesConf:
    """Every known endpoint (configured ones plus the built-in Docker Hub unless replaced)."""

    endpoints: tuple[RegistryEndpoint, ...] = (BUILTIN_DOCKER_HUB,)
    source: str = "<built-in>"

    def __post_init__(self) -> None:
        defaults = [e.name for e in self.endpoints if e.default]
        if len(defaults) != 1:
            raise InvalidRegistriesConf(
                f"{self.source}: exactly one registry must be the default, found {defaults}"
            )

    @classmethod
    def load(cls, path: Path | None) -> RegistriesConf:
        """Read ``path``; no path or a missing file gives the built-in defaults."""
        if path is None:
            return cls()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
            raise InvalidRegistriesConf(f"{path}: cannot read registries.conf: {reason}") from exc
        conf = cls.parse(text, source=str(path))
        for index, endpoint in enumerate(conf.endpoints):
            if endpoint.ca_file is not None and not Path(endpoint.ca_file).is_file():
                raise InvalidRegistriesConf(
                    f"{path}: registries[{index}] (name {endpoint.name!r}): "
                    f"ca_file {endpoint.ca_file!r} is not a readable file"
                )
        return conf

    @classmethod
    def from_flag(cls, value: str | None) -> RegistriesConf:
        """What ``--registries-conf-path`` names, with upstream's default and our strictness.

        Unset: the default path when it exists, else the built-in defaults. ``""``: none.
        Any other path must be a readable file: a path typed by hand that does not exist is
        an error, not a silent fall-back to defaults.
        """
        if value is None or value == str(DEFAULT_PATH):
            return cls.load(DEFAULT_PATH if DEFAULT_PATH.is_file() else None)
        if not value:
            return cls()
        if not Path(value).is_file():
            raise InvalidRegistriesConf(f"{value!r} is not a readable file")
        return cls.load(Path(value))

    @classmethod
    def parse(cls, text: str, *, source: str) -> RegistriesConf:
        """Parse registries.conf text; ``source`` (a path) prefixes every error message."""
        configured: list[RegistryEndpoint] = []
        for index, entry in enumerate(read_entries(text, source=source)):
            configured.append(endpoint_from_entry(entry, index, source))
        check_unique(configured, source)
        endpoints = tuple(configured)
        hub = BUILTIN_DOCKER_HUB.prefix
        if not any(e.prefix.lower() == hub for e in configured):
            builtin = replace(BUILTIN_DOCKER_HUB, default=not any(e.default for e in configured))
            endpoints += (builtin,)
        elif not any(e.default for e in configured):
            endpoints = tuple(
                replace(e, default=True) if e.prefix.lower() == hub else e for e in configured
            )
        return cls(endpoints, source)

    @property
    def default(self) -> RegistryEndpoint:
        """The endpoint for images written without a registry host."""
        return next(e for e in self.endpoints if e.default)

    def lookup(self, registry_host: str, repository: str) -> RegistryEndpoint:
        """The endpoint for ``<registry_host>/<repository>``; ``""`` means no host was written."""
        if not registry_host:
            default = self.default
            best = self._longest_match(f"{default.host}/{repository}")
            if best is not None and len(best.prefix) > len(default.prefix):
                return best
            return default
        best = self._longest_match(f"{registry_host}/{repository}")
        if best is not None:
            return best
        return RegistryEndpoint(
            name=registry_host,
            api_url=f"https://{registry_host}",
            prefix=registry_host,
            limit=INFERRED_LIMIT,
            origin="inferred",
        )

    def _longest_match(self, image: str) -> RegistryEndpoint | None:
        image = image.lower()
        matches = [
            e
            for e in self.endpoints
            if not e.prefix or image == e.prefix.lower() or image.startswith(e.prefix.lower() + "/")
        ]
        return max(matches, key=lambda e: len(e.prefix), default=None)
