"""Which images an event concerns: same registry and repository, Docker Hub's spellings
made one; tags and digests do not matter (the registry is asked again)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.images import ImageRef
from imageupdater.pushevents import PushEvent, event_key, image_key, matches

CASES = [
    ("docker.io", "library/nginx", "nginx", True),
    ("docker.io", "nginx", "nginx:1.25", True),
    ("index.docker.io", "nginx", "docker.io/library/nginx", True),
    ("docker.io", "team/app", "team/app", True),
    ("docker.io", "team/app", "docker.io/team/app:~1.0", True),
    ("docker.io", "team/app", "index.docker.io/team/app", True),
    ("docker.io", "team/app", "team/other", False),
    ("ghcr.io", "octo-org/my-app", "ghcr.io/octo-org/my-app:v1", True),
    ("ghcr.io", "octo-org/my-app", "GHCR.IO/octo-org/my-app", True),
    # Stricter than upstream: a Docker Hub image does not match another registry's event.
    ("harbor.example.com", "team/app", "team/app", False),
    ("quay.io", "team/app", "ghcr.io/team/app", False),
    ("127.0.0.1:5000", "team/app", "127.0.0.1:5000/team/app", True),
    ("127.0.0.1:5000", "team/app", "127.0.0.1:5001/team/app", False),
    ("127.0.0.1:5000", "team/app", "127.0.0.1:5000/team/app/sub", False),
    ("registry.example.com", "library/nginx", "registry.example.com/nginx", False),
]


@pytest.mark.parametrize(
    ("host", "repository", "image", "expected"),
    CASES,
    ids=[f"{h}/{r} vs {i}" for h, r, i, _ in CASES],
)
def test_an_event_matches_the_images_of_its_registry_and_repository(
    host: str, repository: str, image: str, expected: bool
) -> None:
    event = PushEvent(host, repository, "9.9.9", type="generic")
    assert matches(event, ImageRef.parse(image)) is expected


def test_an_alias_host_names_the_registry_images_are_written_with() -> None:
    event = PushEvent("registry-internal.example:443", "team/app", "1", type="distribution")
    aliases = {"registry-internal.example:443": "registry.example.com"}
    assert matches(event, ImageRef.parse("registry.example.com/team/app"), aliases)
    assert not matches(event, ImageRef.parse("registry.example.com/team/app"))


def test_docker_hub_s_api_host_is_docker_hub() -> None:
    event = PushEvent("registry-1.docker.io", "nginx", "1", type="distribution")
    assert event_key(event) == image_key(ImageRef.parse("nginx")) == ("docker.io", "library/nginx")


_names = st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}", fullmatch=True)


@given(_names, st.sampled_from(["", "docker.io/", "index.docker.io/"]))
def test_every_spelling_of_a_docker_hub_image_matches_the_same_event(
    name: str, spelling: str
) -> None:
    event = PushEvent("docker.io", name, "1.0", type="docker.io")
    assert matches(event, ImageRef.parse(spelling + name))
