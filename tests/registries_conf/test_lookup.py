"""Finding the endpoint for an image: longest prefix, default registry, inferred endpoints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.registries_conf import INFERRED_LIMIT, RegistriesConf

CONF = RegistriesConf.parse(
    """\
registries:
- name: foo
  prefix: foo.bar
  api_url: https://foo.bar
- name: foo team1
  prefix: foo.bar/team1
  api_url: https://foo.bar
  credentials: secret:argocd/team1#creds
- name: foo team1 special
  prefix: foo.bar/team1/special
  api_url: https://foo.bar
- name: Hub org
  prefix: docker.io/myorg
  api_url: https://registry-1.docker.io
  credentials: env:MYORG
- name: local
  prefix: localhost:5000
  api_url: http://localhost:5000
""",
    source="registries.conf",
)


@pytest.mark.parametrize(
    ("host", "repository", "expected"),
    [
        pytest.param("foo.bar", "team2/app", "foo", id="host-only-prefix"),
        pytest.param("foo.bar", "team1/app", "foo team1", id="path-prefix-beats-host"),
        pytest.param("foo.bar", "team1/special/app", "foo team1 special", id="longest-wins"),
        pytest.param("foo.bar", "team10/app", "foo", id="prefix-ends-at-a-path-boundary"),
        pytest.param("foo.bar", "team1", "foo team1", id="prefix-equals-the-whole-name"),
        pytest.param("FOO.bar", "team1/app", "foo team1", id="host-case-is-ignored"),
        pytest.param("docker.io", "myorg/app", "Hub org", id="docker-hub-path-prefix"),
        pytest.param("docker.io", "library/nginx", "Docker Hub", id="explicit-docker-hub"),
        pytest.param("localhost:5000", "app", "local", id="host-with-port"),
        pytest.param("foo.bar.evil", "team1/app", "foo.bar.evil", id="longer-host-is-not-a-match"),
    ],
)
def test_the_longest_matching_prefix_wins(host: str, repository: str, expected: str) -> None:
    assert CONF.lookup(host, repository).name == expected


@pytest.mark.parametrize(
    ("repository", "expected"),
    [
        pytest.param("library/nginx", "Docker Hub", id="official-image"),
        pytest.param("nginx", "Docker Hub", id="single-component"),
        pytest.param("myorg/app", "Hub org", id="longer-prefix-under-the-default-host"),
    ],
)
def test_an_image_without_a_registry_uses_the_default_registry(
    repository: str, expected: str
) -> None:
    assert CONF.lookup("", repository).name == expected


def test_a_changed_default_registry_serves_images_without_a_registry() -> None:
    conf = RegistriesConf.parse(
        "registries:\n- name: Mirror\n  prefix: mirror.example.com\n"
        "  api_url: https://mirror.example.com\n  defaultns: library\n  default: true\n",
        source="registries.conf",
    )
    endpoint = conf.lookup("", "nginx")
    assert endpoint.name == "Mirror"
    assert endpoint.qualify("nginx") == "library/nginx"
    assert conf.lookup("docker.io", "library/nginx").origin == "builtin"


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("ghcr.io", id="public-host"),
        pytest.param("localhost:5001", id="localhost-stays-https"),
        pytest.param("127.0.0.1:5000", id="loopback-stays-https"),
    ],
)
def test_an_unknown_host_is_inferred_as_https_with_20_requests_per_second(host: str) -> None:
    endpoint = CONF.lookup(host, "team/app")
    assert endpoint.origin == "inferred"
    assert endpoint.api_url == f"https://{host}"
    assert endpoint.prefix == endpoint.name == endpoint.host == host
    assert endpoint.limit == INFERRED_LIMIT == 20
    assert endpoint.credentials is None


def test_inferred_endpoints_are_equal_across_lookups() -> None:
    assert CONF.lookup("ghcr.io", "a/b") == CONF.lookup("ghcr.io", "c")


def test_an_entry_without_prefix_catches_every_otherwise_unmatched_host() -> None:
    conf = RegistriesConf.parse(
        "registries:\n- name: proxy\n  api_url: https://proxy.internal\n"
        "- name: ghcr\n  prefix: ghcr.io\n  api_url: https://ghcr.io\n",
        source="registries.conf",
    )
    assert conf.lookup("quay.io", "x/y").name == "proxy"
    assert conf.lookup("ghcr.io", "x/y").name == "ghcr"
    assert conf.lookup("", "nginx").name == "Docker Hub"


def test_qualify_adds_the_default_namespace_to_single_component_names_only() -> None:
    hub = CONF.lookup("", "nginx")
    assert hub.qualify("nginx") == "library/nginx"
    assert hub.qualify("bitnami/nginx") == "bitnami/nginx"
    assert CONF.lookup("foo.bar", "app").qualify("app") == "app"


_segment = st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=6)


@given(
    prefixes=st.lists(st.lists(_segment, min_size=1, max_size=3), min_size=1, max_size=6),
    image=st.lists(_segment, min_size=1, max_size=4),
)
def test_lookup_picks_the_longest_prefix_that_is_a_path_ancestor(
    prefixes: list[list[str]], image: list[str]
) -> None:
    unique = {"/".join(["reg.io", *p]) for p in prefixes}
    entries = "".join(
        f"- name: e{i}\n  prefix: {p}\n  api_url: https://reg.io\n"
        for i, p in enumerate(sorted(unique))
    )
    conf = RegistriesConf.parse(f"registries:\n{entries}", source="prop")
    full = "/".join(["reg.io", *image])
    ancestors = [p for p in unique if full == p or full.startswith(p + "/")]
    found = conf.lookup("reg.io", "/".join(image))
    if ancestors:
        assert found.prefix == max(ancestors, key=len)
    else:
        assert found.origin == "inferred"
