"""Platforms (``os/arch[/variant]``): parsing, the updater's own platform, and matching.

This module owns :class:`Platform` and the rules by which a wanted platform list accepts
a manifest's platform (upstream §7). Names follow Go's ``GOOS``/``GOARCH`` vocabulary as
registries record it (``linux/amd64``, ``linux/arm64/v8``, ``linux/arm/v7``).

Upstream keeps an unparseable entry as a constraint nothing can satisfy, so a typo makes
an image silently never update; here it is an :class:`~imageupdater.errors.InvalidPlatform`.
"""

from __future__ import annotations

__all__ = ["Platform", "current_platform", "parse_platforms", "platform_matches"]

import platform as _platform
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from imageupdater.errors import InvalidPlatform

_FORM = "expected os/arch[/variant] in lower case, e.g. linux/amd64 or linux/arm/v7"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_MAX_PART = 64

# Python's machine() spellings (Linux uname, macOS, Windows) to Go's GOARCH[/variant].
_MACHINES: dict[str, tuple[str, str]] = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "x64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv8l": ("arm", "v7"),  # 32-bit userland on a v8 core runs GOARM=7 binaries
    "armv7l": ("arm", "v7"),
    "armv7": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv6": ("arm", "v6"),
    "i386": ("386", ""),
    "i486": ("386", ""),
    "i586": ("386", ""),
    "i686": ("386", ""),
    "x86": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "ppc64": ("ppc64", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "mips64": ("mips64", ""),
    "mips64el": ("mips64le", ""),
    "loongarch64": ("loong64", ""),
}

# sys.platform prefixes to GOOS; prefixes because e.g. FreeBSD reports "freebsd14".
_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("linux", "linux"),
    ("darwin", "darwin"),
    ("win32", "windows"),
    ("cygwin", "windows"),
    ("freebsd", "freebsd"),
    ("openbsd", "openbsd"),
    ("netbsd", "netbsd"),
)


@dataclass(frozen=True, slots=True, order=True)
class Platform:
    """One platform; ``variant`` is "" when none was given."""

    os: str
    arch: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``os/arch[/variant]``; raise :class:`InvalidPlatform` otherwise."""
        value = text.strip()
        parts = value.split("/")
        if len(parts) not in (2, 3):
            raise InvalidPlatform(f"invalid platform {text!r}: {_FORM}")
        for part, what in zip(parts, ("os", "architecture", "variant"), strict=False):
            if not part:
                raise InvalidPlatform(f"invalid platform {text!r}: the {what} is empty; {_FORM}")
            if part != part.lower():
                raise InvalidPlatform(
                    f"invalid platform {text!r}: platform names are lower case "
                    f"({value.lower()!r}); {_FORM}"
                )
            if len(part) > _MAX_PART or not set(part) <= _NAME_CHARS or not part[0].isalnum():
                raise InvalidPlatform(
                    f"invalid platform {text!r}: the {what} {part!r} is not a name of "
                    f"letters, digits, '_', '.' or '-'; {_FORM}"
                )
        return cls(*parts)

    def __str__(self) -> str:
        base = f"{self.os}/{self.arch}"
        return f"{base}/{self.variant}" if self.variant else base


def parse_platforms(values: Iterable[str]) -> tuple[Platform, ...]:
    """Parse platform values, each possibly comma-separated, in order and without repeats.

    Blank entries (a trailing comma, an empty value) are skipped: they name nothing.
    """
    found: dict[Platform, None] = {}
    for value in values:
        for entry in value.split(","):
            if entry.strip():
                found.setdefault(Platform.parse(entry), None)
    return tuple(found)


def current_platform(*, machine: str | None = None, system: str | None = None) -> Platform:
    """The platform this process runs on, in Go's naming (what upstream defaults to).

    ``machine``/``system`` default to ``platform.machine()``/``sys.platform``; they are
    parameters so every mapping can be tested on any host.
    """
    machine = _platform.machine() if machine is None else machine
    system = sys.platform if system is None else system
    arch = _MACHINES.get(machine.strip().lower())
    if arch is None:
        raise InvalidPlatform(
            f"cannot name this machine's architecture {machine!r} the way registries do; "
            "configure the platforms to update for explicitly (os/arch[/variant])"
        )
    goos = next((go for prefix, go in _SYSTEMS if system.startswith(prefix)), None)
    if goos is None:
        raise InvalidPlatform(
            f"cannot name this operating system {system!r} the way registries do; "
            "configure the platforms to update for explicitly (os/arch[/variant])"
        )
    return Platform(goos, *arch)


def platform_matches(wanted: Sequence[Platform], actual: Platform) -> bool:
    """Whether a manifest for ``actual`` is one of the ``wanted`` platforms.

    No wanted platforms accepts anything. A wanted entry without a variant accepts every
    variant of its os/arch (``linux/arm64`` takes ``linux/arm64/v8``); a wanted variant
    needs that exact variant, so ``linux/arm/v6`` does not take a variant-less ``linux/arm``.
    """
    if not wanted:
        return True
    return any(
        w == actual or (not w.variant and (w.os, w.arch) == (actual.os, actual.arch))
        for w in wanted
    )
