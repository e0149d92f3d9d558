"""``Link`` headers of paginated tag lists (RFC 8288, as the distribution spec uses them).

A registry answers ``Link: </v2/app/tags/list?last=b&n=2>; rel="next"``; the target may be
relative or absolute. We follow it only within the registry's own origin, so credentials
sent on the next page never reach another host.
"""

from __future__ import annotations

__all__ = ["next_page_url", "parse_links"]

from yarl import URL

from imageupdater.errors import RegistryProtocolError


def _split_outside_angles(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for index, char in enumerate(text):
        if char == '"' and depth == 0:
            quoted = not quoted
        elif char == "<" and not quoted:
            depth += 1
        elif char == ">" and not quoted and depth:
            depth -= 1
        elif char == separator and depth == 0 and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def parse_links(header: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Every ``<target>; rel="..."`` link in a header value as (target, relation types)."""
    links: list[tuple[str, frozenset[str]]] = []
    for link in _split_outside_angles(header, ","):
        link = link.strip()
        if not link.startswith("<") or ">" not in link:
            continue
        target, _, rest = link[1:].partition(">")
        rels: set[str] = set()
        for param in _split_outside_angles(rest, ";"):
            name, eq, value = param.partition("=")
            if eq and name.strip().lower() == "rel":
                rels.update(value.strip().strip('"').lower().split())
        links.append((target.strip(), frozenset(rels)))
    return tuple(links)


def next_page_url(header: str | None, *, current: URL, registry: str) -> URL | None:
    """The ``rel="next"`` target resolved against ``current``, or ``None`` on the last page.

    A target on another origin is refused: following it would hand our credentials to a
    host the registries.conf entry does not name.
    """
    if not header:
        return None
    for target, rels in parse_links(header):
        if "next" not in rels:
            continue
        try:
            url = current.join(URL(target, encoded=True))
        except ValueError as exc:
            raise RegistryProtocolError(
                f"registry {registry}: tag list 'Link' header has an invalid URL {target!r}",
                registry=registry,
            ) from exc
        if url.origin() != current.origin():
            raise RegistryProtocolError(
                f"registry {registry}: tag list 'Link' header points to another host "
                f"({url.origin()}); only links within {current.origin()} are followed",
                registry=registry,
            )
        return url
    return None
