"""Parsing registries.conf: every key, and strict errors that say where and what is accepted."""

from __future__ import annotations

import textwrap

import pytest
import trustme

from imageupdater.credentials import CredentialRef
from imageupdater.errors import InvalidRegistriesConf
from imageupdater.registries_conf import (
    BUILTIN_DOCKER_HUB,
    RegistriesConf,
    RegistryEndpoint,
    TagSortMode,
)

SOURCE = "/app/config/registries.conf"


def _parse(text: str) -> RegistriesConf:
    return RegistriesConf.parse(textwrap.dedent(text), source=SOURCE)


def _only(text: str) -> RegistryEndpoint:
    configured = [e for e in _parse(text).endpoints if e.origin == "config"]
    assert len(configured) == 1
    return configured[0]


def test_upstreams_example_file_parses() -> None:
    conf = _parse(
        """\
        registries:
        - name: Docker Hub
          prefix: docker.io
          api_url: https://registry-1.docker.io
          credentials: secret:argocd/dockerhub#creds
          defaultns: library
          default: true
        - name: ECR
          prefix: 123456789012.dkr.ecr.us-east-1.amazonaws.com
          api_url: https://123456789012.dkr.ecr.us-east-1.amazonaws.com
          credentials: ext:/app/scripts/ecr-login.sh
          credsexpire: 11h
        """
    )
    hub, ecr = conf.endpoints
    assert hub.credentials == CredentialRef.parse("secret:argocd/dockerhub#creds")
    assert hub.default and hub.defaultns == "library" and hub.origin == "config"
    assert ecr.credsexpire == 11 * 3600
    assert ecr.credentials == CredentialRef.parse("ext:/app/scripts/ecr-login.sh")
    assert conf.default is hub
    assert conf.source == SOURCE


def test_every_key_is_read_into_the_endpoint() -> None:
    pem = trustme.CA().cert_pem.bytes().decode()
    text = "\n".join(
        [
            "registries:",
            "- name: Harbor (team 1)",
            "  prefix: harbor.example.com/team1/",
            "  api_url: http://harbor.example.com:8080/",
            "  credentials: Pullsecret:argocd/harbor",
            "  credsexpire: 1h30m",
            "  defaultns: team1",
            "  default: false",
            "  insecure: true",
            "  ca_file: /app/config/tls/harbor.example.com",
            "  ca_data: |",
            textwrap.indent(pem, "    ").rstrip("\n"),
            "  limit: 5",
            "  tagsortmode: Latest-Last",
            "  ping: false",
        ]
    )
    endpoint = _only(text)
    assert endpoint == RegistryEndpoint(
        name="Harbor (team 1)",
        api_url="http://harbor.example.com:8080",
        prefix="harbor.example.com/team1",
        credentials=CredentialRef("pullsecret", namespace="argocd", name="harbor"),
        credsexpire=5400.0,
        defaultns="team1",
        default=False,
        insecure=True,
        ca_file="/app/config/tls/harbor.example.com",
        ca_data=pem,
        limit=5,
        tagsortmode=TagSortMode.LATEST_LAST,
        ping=False,
        origin="config",
    )


def test_omitted_keys_take_upstreams_defaults() -> None:
    endpoint = _only("registries:\n- name: GHCR\n  prefix: ghcr.io\n  api_url: https://ghcr.io\n")
    assert endpoint.credentials is None
    assert endpoint.credsexpire == 0
    assert endpoint.limit is None  # unlimited: upstream's code, not its docs (which say 20)
    assert endpoint.tagsortmode is TagSortMode.NONE
    assert not endpoint.insecure and not endpoint.default
    assert endpoint.ping is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("0", None, id="zero-is-unlimited"),
        pytest.param("-3", None, id="negative-is-unlimited"),
        pytest.param("25", 25, id="positive"),
    ],
)
def test_a_limit_of_zero_or_less_means_unlimited(value: str, expected: int | None) -> None:
    text = f"registries:\n- name: r\n  prefix: r.io\n  api_url: https://r.io\n  limit: {value}\n"
    assert _only(text).limit == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("none", TagSortMode.NONE, id="none"),
        pytest.param("LATEST-FIRST", TagSortMode.LATEST_FIRST, id="upper-case"),
        pytest.param("latest-last", TagSortMode.LATEST_LAST, id="latest-last"),
    ],
)
def test_tagsortmode_is_case_insensitive(value: str, expected: TagSortMode) -> None:
    text = (
        f"registries:\n- name: r\n  prefix: r.io\n  api_url: https://r.io\n  tagsortmode: {value}\n"
    )
    assert _only(text).tagsortmode is expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty-file"),
        pytest.param("# only a comment\n", id="comment-only"),
        pytest.param("registries:\n", id="null-list"),
        pytest.param("registries: []\n", id="empty-list"),
    ],
)
def test_a_file_without_entries_gives_the_built_in_docker_hub(text: str) -> None:
    conf = _parse(text)
    assert conf.endpoints == (BUILTIN_DOCKER_HUB,)
    assert conf.default == BUILTIN_DOCKER_HUB


def test_the_built_in_docker_hub_is_upstreams() -> None:
    assert BUILTIN_DOCKER_HUB.prefix == "docker.io"
    assert BUILTIN_DOCKER_HUB.api_url == "https://registry-1.docker.io"
    assert BUILTIN_DOCKER_HUB.defaultns == "library"
    assert BUILTIN_DOCKER_HUB.limit == 10
    assert BUILTIN_DOCKER_HUB.default


def test_configured_registries_keep_the_built_in_docker_hub_as_default() -> None:
    conf = _parse("registries:\n- name: GHCR\n  prefix: ghcr.io\n  api_url: https://ghcr.io\n")
    assert [e.name for e in conf.endpoints] == ["GHCR", "Docker Hub"]
    assert conf.default.name == "Docker Hub"


def test_another_default_registry_takes_the_role_from_docker_hub() -> None:
    conf = _parse(
        "registries:\n- name: Mirror\n  prefix: mirror.io\n  api_url: https://mirror.io\n"
        "  default: true\n"
    )
    assert conf.default.name == "Mirror"
    assert [e.name for e in conf.endpoints if e.default] == ["Mirror"]
    assert any(e.origin == "builtin" for e in conf.endpoints)


def test_a_docker_io_entry_replaces_the_built_in_one_and_its_default_role() -> None:
    conf = _parse(
        "registries:\n- name: Hub with creds\n  prefix: docker.io\n"
        "  api_url: https://registry-1.docker.io\n  credentials: env:HUB\n"
    )
    assert [e.name for e in conf.endpoints] == ["Hub with creds"]
    assert conf.default.credentials == CredentialRef.parse("env:HUB")


def test_a_missing_credentials_value_is_never_echoed() -> None:
    with pytest.raises(InvalidRegistriesConf) as caught:
        _parse(
            "registries:\n- name: r\n  prefix: r.io\n  api_url: https://r.io\n"
            "  credentials: robot:Sup3rSecret\n"
        )
    message = str(caught.value)
    assert "Sup3rSecret" not in message and "robot" not in message
    assert "line 5" in message and "credentials" in message
    assert "secret:<namespace>/<name>#<field>" in message


@pytest.mark.parametrize(
    "value",
    [pytest.param("12345678", id="number"), pytest.param("[hunter2]", id="list")],
)
def test_a_credentials_value_of_the_wrong_type_is_never_echoed(value: str) -> None:
    text = (
        f"registries:\n- name: r\n  prefix: r.io\n  api_url: https://r.io\n  credentials: {value}\n"
    )
    with pytest.raises(InvalidRegistriesConf, match="non-empty string") as caught:
        _parse(text)
    assert value.strip("[]") not in str(caught.value)


ERRORS = [
    pytest.param(
        "registries:\n- name: ECR\n  api_url: https://x.io\n  credsexpiry: 1h\n",
        [
            "line 4",
            "registries[0] (name 'ECR')",
            "unknown key 'credsexpiry'",
            "accepted keys: name, prefix, api_url",
        ],
        id="unknown-entry-key",
    ),
    pytest.param(
        "registry:\n- name: a\n",
        ["line 1", "unknown top-level key 'registry'", "accepted keys: registries"],
        id="unknown-top-level-key",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  name: b\n",
        ["line 4", "duplicate key 'name'"],
        id="duplicate-key",
    ),
    pytest.param(
        "registries:\n- api_url: https://a.io\n",
        ["line 2", "registries[0]:", "key 'name' is required"],
        id="missing-name",
    ),
    pytest.param(
        "registries:\n- name: a\n  prefix: a.io\n",
        ["registries[0] (name 'a')", "key 'api_url' is required"],
        id="missing-api-url",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: ftp://a.io\n",
        ["line 3", "api_url must be an http:// or https:// URL", "'ftp://a.io'"],
        id="api-url-not-http",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: a.io\n",
        ["api_url must be an http:// or https:// URL with a host"],
        id="api-url-without-scheme",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://robot:pw@a.io\n",
        ["must not contain a username or password"],
        id="api-url-with-userinfo",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io:http\n",
        ["invalid port"],
        id="api-url-bad-port",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io/?x=1\n",
        ["must not have a query"],
        id="api-url-with-query",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  prefix: https://a.io\n",
        ["prefix must be an image prefix", "not a URL"],
        id="prefix-is-a-url",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  insecure: 'yes please'\n",
        ["line 4", "insecure must be true or false", "the string 'yes please'"],
        id="bool-wrong-type",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  limit: fast\n",
        ["limit must be an integer (requests per second)", "the string 'fast'"],
        id="limit-not-integer",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  limit: true\n",
        ["limit must be an integer", "the boolean true"],
        id="limit-boolean",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  tagsortmode: newest\n",
        ["tagsortmode 'newest' is not one of none, latest-first, latest-last"],
        id="unknown-tagsortmode",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  credsexpire: 10\n",
        ["credsexpire must be a Go duration like '11h'", "the number 10"],
        id="credsexpire-bare-number",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  credsexpire: 11 hours\n",
        ["credsexpire: '11 hours' is not a Go duration"],
        id="credsexpire-bad-duration",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  ca_data: not a certificate\n",
        ["ca_data does not contain a PEM certificate"],
        id="ca-data-not-pem",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  defaultns:\n",
        ["defaultns must be a non-empty string, got no value"],
        id="null-value",
    ),
    pytest.param(
        "registries:\n- name: 2024\n  api_url: https://a.io\n",
        ["name must be a non-empty string, got the number 2024"],
        id="name-not-string",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  prefix: a.io/team 1\n",
        ["prefix must not contain whitespace"],
        id="whitespace-in-prefix",
    ),
    pytest.param(
        "registries:\n  name: a\n",
        ["line 1", "'registries' must be a list"],
        id="registries-not-a-list",
    ),
    pytest.param(
        "registries:\n- just-a-string\n",
        ["line 2", "registries[0] must be a mapping"],
        id="entry-not-a-mapping",
    ),
    pytest.param(
        "- name: a\n",
        ["line 1", "the top level must be a mapping"],
        id="top-level-list",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: [https://a.io\n",
        ["line 4", "invalid YAML"],
        id="yaml-syntax-error",
    ),
    pytest.param(
        "registries:\n- name: a\n\tapi_url: https://a.io\n",
        ["line 3", "invalid YAML"],
        id="yaml-tab-indent",
    ),
    pytest.param(
        "registries: []\n---\nregistries: []\n",
        ["invalid YAML", "single document"],
        id="two-documents",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n  default: true\n"
        "- name: b\n  prefix: b.io\n  api_url: https://b.io\n  default: true\n",
        ["cannot set registry 'b' as default - only one default registry allowed", "'a'"],
        id="two-defaults",
    ),
    pytest.param(
        "registries:\n- name: a\n  api_url: https://a.io\n- name: b\n  api_url: https://b.io\n",
        ["there must be only one registry without a prefix", "'b' needs a prefix"],
        id="two-without-prefix",
    ),
    pytest.param(
        "registries:\n- name: a\n  prefix: ghcr.io\n  api_url: https://a.io\n"
        "- name: b\n  prefix: GHCR.io/\n  api_url: https://b.io\n",
        ["registries 'a' and 'b' have the same prefix"],
        id="duplicate-prefix",
    ),
]


@pytest.mark.parametrize(("text", "fragments"), ERRORS)
def test_a_bad_file_is_an_error_saying_where_and_what_is_accepted(
    text: str, fragments: list[str]
) -> None:
    with pytest.raises(InvalidRegistriesConf) as caught:
        RegistriesConf.parse(text, source=SOURCE)
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
