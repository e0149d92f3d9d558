"""Reading a repository's whole tag list: ``Link`` pagination within the registry's origin,
bounded by page and tag caps, and strict checking of each page's JSON."""

from __future__ import annotations

__all__ = ["read_tag_list"]

import json

from yarl import URL

from imageupdater.credentials import CredentialRef
from imageupdater.errors import RegistryProtocolError
from imageupdater.registries_conf import RegistryEndpoint
from imageupdater.registry.links import next_page_url
from imageupdater.registry.requester import Requester, registry_label
from imageupdater.registry.settings import ClientSettings
from imageupdater.registry.transport import Answer


async def read_tag_list(
    requester: Requester,
    endpoint: RegistryEndpoint,
    repository: str,
    *,
    credentials: CredentialRef | None,
    settings: ClientSettings,
) -> tuple[str, ...]:
    """Every tag in the registry's order (duplicates across pages dropped).

    Raises ``RegistryProtocolError`` past ``max_pages`` pages or ``max_tags`` tags, for a
    page linking back to one already read, and for a page that is not a tag list.
    """
    registry = registry_label(endpoint)
    s = settings
    url = URL(f"{endpoint.api_url}/v2/{repository}/tags/list")
    if s.page_size is not None:
        url = url.with_query(n=s.page_size)
    found: dict[str, None] = {}
    seen: set[str] = set()
    for _page in range(s.max_pages):
        seen.add(str(url))
        answer = await requester.request(
            endpoint,
            "GET",
            url,
            kind="tags",
            repository=repository,
            credentials=credentials,
            what=f"tag list of {repository}",
        )
        for tag in _tags_of(answer, registry=registry, repository=repository):
            found.setdefault(tag, None)
        if len(found) > s.max_tags:
            # Past a well-formed page, so only a registry gets here: the tenant may know.
            message = (
                f"registry {registry}: the tag list of {repository} has more than "
                f"{s.max_tags} tags; refusing to read further (limit max_tags)"
            )
            raise RegistryProtocolError(message, registry=registry, public=message)
        following = next_page_url(answer.header("link"), current=url, registry=registry)
        if following is None:
            return tuple(found)
        if str(following) in seen:
            message = (
                f"registry {registry}: the tag list of {repository} links back to a page "
                "already read"
            )
            raise RegistryProtocolError(message, registry=registry, public=message)
        url = following
    message = (
        f"registry {registry}: the tag list of {repository} has more than {s.max_pages} "
        "pages; refusing to read further (limit max_pages)"
    )
    raise RegistryProtocolError(message, registry=registry, public=message)


def _tags_of(answer: Answer, *, registry: str, repository: str) -> list[str]:
    what = f"tag list of {repository}"
    try:
        data = json.loads(answer.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RegistryProtocolError(
            f"registry {registry}: {what} is not valid JSON", registry=registry
        ) from exc
    if not isinstance(data, dict):
        raise RegistryProtocolError(
            f"registry {registry}: {what} is not a JSON object", registry=registry
        )
    tags = data.get("tags")
    if tags is None:
        return []  # distribution answers "tags": null for a repository without tags
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise RegistryProtocolError(
            f"registry {registry}: {what} has a 'tags' member that is not a list of strings",
            registry=registry,
        )
    return tags
