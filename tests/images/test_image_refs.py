"""Image references: upstream's image-list forms, Docker Hub identity, strict errors."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from imageupdater.errors import InvalidImageReference
from imageupdater.images import ImageRef

SHA = "sha256:" + "0123456789abcdef" * 4

PARSED = [
    # (text, registry, name, tag, digest, alias)
    pytest.param("nginx", "", "nginx", None, None, None, id="bare-docker-hub-name"),
    pytest.param("library/nginx", "", "library/nginx", None, None, None, id="library-prefix"),
    pytest.param("docker.io/nginx", "docker.io", "nginx", None, None, None, id="docker-io"),
    pytest.param(
        "docker.io/library/nginx",
        "docker.io",
        "library/nginx",
        None,
        None,
        None,
        id="docker-io-library",
    ),
    pytest.param(
        "index.docker.io/argoproj/argocd:v2.9.0",
        "index.docker.io",
        "argoproj/argocd",
        "v2.9.0",
        None,
        None,
        id="legacy-index-host",
    ),
    pytest.param("nginx:1.25", "", "nginx", "1.25", None, None, id="tag"),
    pytest.param(
        "ghcr.io/org/team/app:v1",
        "ghcr.io",
        "org/team/app",
        "v1",
        None,
        None,
        id="deep-path",
    ),
    pytest.param("localhost:5000/x", "localhost:5000", "x", None, None, None, id="localhost-port"),
    pytest.param("localhost/x:1", "localhost", "x", "1", None, None, id="localhost-no-port"),
    pytest.param(
        "127.0.0.1:5000/a/b:v1", "127.0.0.1:5000", "a/b", "v1", None, None, id="ipv4-port"
    ),
    pytest.param("[::1]:5000/x:2", "[::1]:5000", "x", "2", None, None, id="ipv6-port"),
    pytest.param("[::1]/x", "[::1]", "x", None, None, None, id="ipv6-no-port"),
    pytest.param(
        "Registry.Example.COM/x",
        "Registry.Example.COM",
        "x",
        None,
        None,
        None,
        id="upper-case-host-is-fine",
    ),
    pytest.param("x@" + SHA, "", "x", None, SHA, None, id="digest"),
    pytest.param("quay.io/o/x:1.0@" + SHA, "quay.io", "o/x", "1.0", SHA, None, id="tag-and-digest"),
    pytest.param(
        "x@sha512:" + "ab" * 64, "", "x", None, "sha512:" + "ab" * 64, None, id="sha512-digest"
    ),
    pytest.param(
        "foo=gcr.io/x/y:>=1.0.1",
        "gcr.io",
        "x/y",
        ">=1.0.1",
        None,
        "foo",
        id="alias-and-constraint",
    ),
    pytest.param("nginx:~1.26", "", "nginx", "~1.26", None, None, id="tilde-constraint"),
    pytest.param("nginx:1.x", "", "nginx", "1.x", None, None, id="wildcard-constraint"),
    pytest.param("nginx:^1.0", "", "nginx", "^1.0", None, None, id="caret-constraint"),
    pytest.param("x:>=1.0 <2.0", "", "x", ">=1.0 <2.0", None, None, id="range-with-space"),
    pytest.param("x:1.0 || >=2, <3", "", "x", "1.0 || >=2, <3", None, None, id="or-constraint"),
    pytest.param("x:*", "", "x", "*", None, None, id="star-constraint"),
    pytest.param(
        "localhost:5000/x:!=1.2",
        "localhost:5000",
        "x",
        "!=1.2",
        None,
        None,
        id="constraint-after-port",
    ),
    pytest.param("  web = nginx:1  ", "", "nginx", "1", None, "web", id="whitespace-trimmed"),
    pytest.param("my_app.v2=nginx", "", "nginx", None, None, "my_app.v2", id="alias-chars"),
    pytest.param("a__b/c-d--e/f.g_h", "", "a__b/c-d--e/f.g_h", None, None, None, id="separators"),
]


@pytest.mark.parametrize(("text", "registry", "name", "tag", "digest", "alias"), PARSED)
def test_image_list_entries_parse_into_their_parts(
    text: str,
    registry: str,
    name: str,
    tag: str | None,
    digest: str | None,
    alias: str | None,
) -> None:
    assert ImageRef.parse(text) == ImageRef(registry, name, tag, digest, alias)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("nginx", id="bare"),
        pytest.param("docker.io/library/nginx:1.2", id="docker-io-library"),
        pytest.param("foo=gcr.io/x/y:>=1.0.1", id="alias-constraint"),
        pytest.param("[::1]:5000/x:2@" + SHA, id="ipv6-tag-digest"),
        pytest.param("x:>=1.0 <2.0", id="spaced-constraint"),
    ],
)
def test_formatting_reproduces_what_the_user_wrote(text: str) -> None:
    assert str(ImageRef.parse(text)) == text


HUB_SPELLINGS = [
    "nginx",
    "library/nginx",
    "docker.io/nginx",
    "docker.io/library/nginx",
    "index.docker.io/nginx",
    "index.docker.io/library/nginx:1.0",
    "DOCKER.IO/nginx",
]


@pytest.mark.parametrize("text", HUB_SPELLINGS)
def test_every_docker_hub_spelling_has_the_same_identity(text: str) -> None:
    assert ImageRef.parse(text).identity() == ("docker.io", "library/nginx")


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param("ghcr.io/library/nginx", "nginx", id="other-registry-library"),
        pytest.param("localhost:5000/x", "localhost/x", id="port-matters"),
        pytest.param("nginx", "bitnami/nginx", id="other-namespace"),
        pytest.param("quay.io/a/b", "ghcr.io/a/b", id="other-host"),
    ],
)
def test_different_images_have_different_identities(left: str, right: str) -> None:
    assert ImageRef.parse(left).identity() != ImageRef.parse(right).identity()


def test_a_dotted_first_component_is_a_registry_not_a_namespace() -> None:
    ref = ImageRef.parse("my.registry/app")
    assert ref.identity() == ("my.registry", "app")


def test_a_non_docker_hub_registry_keeps_library_in_the_repository() -> None:
    ref = ImageRef.parse("gcr.io/library/x")
    assert (ref.registry_host, ref.repository) == ("gcr.io", "library/x")


def test_a_single_component_name_on_another_registry_gets_no_library_prefix() -> None:
    assert ImageRef.parse("localhost:5000/x").repository == "x"


def test_the_implicit_registry_is_docker_hub_and_full_name_omits_it() -> None:
    ref = ImageRef.parse("argoproj/argocd:v1")
    assert (ref.registry_host, ref.full_name) == ("docker.io", "argoproj/argocd")


def test_full_name_includes_a_written_registry_and_drops_tag_digest_and_alias() -> None:
    assert ImageRef.parse(f"a=localhost:5000/x/y:1@{SHA}").full_name == "localhost:5000/x/y"


def test_an_equals_sign_inside_a_constraint_is_not_an_alias() -> None:
    ref = ImageRef.parse("nginx:>=1.0")
    assert (ref.alias, ref.name, ref.tag) == (None, "nginx", ">=1.0")


def test_an_alias_may_precede_a_constraint_with_an_equals_sign() -> None:
    ref = ImageRef.parse("web=nginx:>=1.0")
    assert (ref.alias, ref.name, ref.tag) == ("web", "nginx", ">=1.0")


INVALID = [
    pytest.param("", "empty", id="empty"),
    pytest.param("   ", "empty", id="blank"),
    pytest.param("Nginx", "upper-case", id="upper-case-name"),
    pytest.param("ghcr.io/Org/app", "upper-case", id="upper-case-path"),
    pytest.param("x//y", "empty component", id="double-slash"),
    pytest.param("/x", "empty component", id="leading-slash"),
    pytest.param("x/", "empty component", id="trailing-slash"),
    pytest.param("ghcr.io/", "path after the registry is empty", id="registry-only"),
    pytest.param("ngi nx", "whitespace", id="space-in-name"),
    pytest.param("nginx :1", "whitespace", id="space-before-tag"),
    pytest.param("x@sha256:abc", "64 hex digits", id="short-digest"),
    pytest.param("x@sha256:" + "A" * 64, "lower-case hex", id="upper-case-digest"),
    pytest.param("x@md5:" + "a" * 32, "sha256, sha384, sha512", id="unknown-algorithm"),
    pytest.param("x@", "digest", id="empty-digest"),
    pytest.param("x:", "tag after ':' is empty", id="empty-tag"),
    pytest.param(":1.0", "name is empty", id="empty-name"),
    pytest.param("=nginx", "alias", id="empty-alias"),
    pytest.param("web=", "nothing follows", id="nothing-after-alias"),
    pytest.param("a/b=nginx", "alias", id="slash-in-alias"),
    pytest.param("x:1:2", "neither a tag", id="colon-in-tag"),
    pytest.param("x:$(rm)", "neither a tag", id="shell-in-tag"),
    pytest.param("x:" + "1" * 129 + "/", "port", id="slash-after-tag"),
    pytest.param("localhost:99999/x", "1 to 65535", id="port-out-of-range"),
    pytest.param("localhost:0/x", "1 to 65535", id="port-zero"),
    pytest.param("a:b/c", "port", id="non-numeric-port"),
    pytest.param("-bad.io/x", "registry host", id="host-starting-with-dash"),
    pytest.param("[fe80::1%eth0]:5000/x", "IPv6", id="ipv6-zone"),
    pytest.param("[::1:5000/x", "IPv6", id="unclosed-bracket"),
    pytest.param("a..b", "path component", id="double-dot"),
    pytest.param("a-_b", "path component", id="dash-underscore"),
    pytest.param("_a", "path component", id="leading-underscore"),
    pytest.param("a" * 64, "image ID", id="image-id"),
    pytest.param("x/" * 130 + "x", "longer than 255", id="name-too-long"),
    pytest.param("x:" + "1" * 2000, "longer than 1024", id="input-too-long"),
]


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_malformed_references_are_errors_that_name_the_value(text: str, reason: str) -> None:
    with pytest.raises(InvalidImageReference) as caught:
        ImageRef.parse(text)
    message = str(caught.value)
    assert reason in message
    assert "expected [alias=][registry[:port]/]name" in message
    assert text.strip()[:30] in message
    assert "\n" not in message


def test_with_version_replaces_tag_and_digest_and_keeps_the_rest() -> None:
    ref = ImageRef.parse("web=localhost:5000/x:~1.2")
    assert ref.with_version("1.2.7", SHA) == ImageRef("localhost:5000", "x", "1.2.7", SHA, "web")
    assert ref.with_version(None) == ImageRef("localhost:5000", "x", None, None, "web")


@pytest.mark.parametrize(
    ("tag", "digest"),
    [
        pytest.param(">=1.0", None, id="constraint-is-not-a-tag"),
        pytest.param(".hidden", None, id="tag-starting-with-dot"),
        pytest.param("1" * 129, None, id="tag-too-long"),
        pytest.param("1.0", "sha256:123", id="short-digest"),
    ],
)
def test_with_version_rejects_what_is_not_a_real_tag_or_digest(
    tag: str, digest: str | None
) -> None:
    with pytest.raises(InvalidImageReference):
        ImageRef.parse("nginx").with_version(tag, digest)


# --- properties -----------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]{1,4}", fullmatch=True)
_host = st.one_of(
    st.builds(lambda parts: ".".join(parts), st.lists(_label, min_size=2, max_size=3)),
    st.just("localhost"),
    st.just("127.0.0.1"),
    st.just("[::1]"),
    st.just("[2001:db8::7]"),
)
_registry = st.one_of(
    st.just(""),
    _host,
    st.builds(lambda h, p: f"{h}:{p}", _host, st.integers(1, 65535)),
)
_component = st.from_regex(r"[a-z0-9]{1,4}(?:(?:[._]|__|-{1,2})[a-z0-9]{1,4}){0,2}", fullmatch=True)
_path = st.builds(lambda parts: "/".join(parts), st.lists(_component, min_size=1, max_size=3))
_version = st.sampled_from(["1", "1.2", "1.2.3", "1.x", "1.2.*", "*", "v2.0.0-rc.1", "10"])
_operator = st.sampled_from(["", "=", "!=", ">", "<", ">=", "<=", "~", "^"])
_clause = st.builds(lambda op, v: op + v, _operator, _version)
_constraint = st.builds(
    lambda clauses, joiner: joiner.join(clauses),
    st.lists(_clause, min_size=1, max_size=3),
    st.sampled_from([" ", ", ", " || "]),
)
_tag = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)
_digest = st.builds(
    lambda hexes: "sha256:" + "".join(hexes),
    st.lists(st.sampled_from("0123456789abcdef"), min_size=64, max_size=64),
)
_alias = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,8}[A-Za-z0-9])?", fullmatch=True)

refs = st.builds(
    ImageRef,
    registry=_registry,
    name=_path,
    tag=st.none() | _tag | _constraint,
    digest=st.none() | _digest,
    alias=st.none() | _alias,
)


def _docker_hub_path(path: str) -> bool:
    # Without a registry, a first component with a dot would be read as a host, and 64 hex
    # digits as an image ID: distribution/reference's rules, checked elsewhere.
    return "." not in path.split("/")[0] and len(path) != 64


@given(refs)
def test_formatting_then_parsing_gives_back_the_same_reference(ref: ImageRef) -> None:
    assume(ref.registry or _docker_hub_path(ref.name))
    assert ImageRef.parse(str(ref)) == ref


@given(_path)
def test_a_registry_less_name_is_the_same_image_as_its_docker_io_spelling(path: str) -> None:
    assume(_docker_hub_path(path))
    bare = ImageRef.parse(path)
    explicit = ImageRef.parse(f"docker.io/{bare.repository}")
    assert bare.identity() == explicit.identity()
    assert bare.identity()[1].count("/") >= 1


@given(st.text(max_size=60))
def test_parsing_arbitrary_text_either_succeeds_or_raises_invalid_image_reference(
    text: str,
) -> None:
    try:
        ref = ImageRef.parse(text)
    except InvalidImageReference:
        return
    assert ImageRef.parse(str(ref)) == ref
