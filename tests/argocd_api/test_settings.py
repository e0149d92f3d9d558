"""What ArgoCDClient accepts as settings: the server address, the token, the CA file."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imageupdater.argocd import ArgoCDClient, parse_server_addr
from imageupdater.errors import InvalidInput

TOKEN = "settings-token-9a8b"

VALID = [
    pytest.param("argocd-server.argocd", False, "https://argocd-server.argocd", id="service-name"),
    pytest.param(
        "argocd.example.com:8443", False, "https://argocd.example.com:8443", id="host-and-port"
    ),
    pytest.param("127.0.0.1:8080", True, "http://127.0.0.1:8080", id="plaintext"),
    pytest.param(
        "https://cd.example.com/argo-cd/",
        False,
        "https://cd.example.com/argo-cd",
        id="url-with-root-path",
    ),
    pytest.param("http://cd.example.com", False, "http://cd.example.com", id="http-url"),
    pytest.param("  argocd-server  ", False, "https://argocd-server", id="surrounding-blanks"),
    pytest.param("[::1]:8080", True, "http://[::1]:8080", id="ipv6"),
]


@pytest.mark.parametrize(("text", "plaintext", "expected"), VALID)
def test_valid_server_addresses_give_the_base_url(
    text: str, plaintext: bool, expected: str
) -> None:
    assert str(parse_server_addr(text, plaintext=plaintext)) == expected


INVALID = [
    pytest.param("", False, "is not a server address", id="empty"),
    pytest.param("argo cd", False, "is not a server address", id="blank-inside"),
    pytest.param("ftp://argocd", False, "has scheme 'ftp'", id="other-scheme"),
    pytest.param("https://user:pw@argocd", False, "must not carry credentials", id="userinfo"),
    pytest.param("argocd:http", False, "is not a server address", id="port-not-a-number"),
    pytest.param("argocd:99999", False, "is not a server address", id="port-out-of-range"),
    pytest.param("https://argocd?x=1", False, "has a query or fragment", id="query"),
    pytest.param("argocd/root", False, "has a path but no scheme", id="path-without-scheme"),
    pytest.param("https://argocd", True, "drop one of them", id="https-with-plaintext"),
    pytest.param("https://", False, "names no host", id="no-host"),
    pytest.param("-argocd:8080", False, "is not a host name or IP address", id="bad-host-label"),
    pytest.param("argo_cd!", False, "is not a host name or IP address", id="bad-host-chars"),
]


@pytest.mark.parametrize(("text", "plaintext", "words"), INVALID)
def test_an_invalid_server_address_is_an_error_naming_the_flag_and_value(
    text: str, plaintext: bool, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_server_addr(text, plaintext=plaintext)
    message = str(caught.value)
    assert words in message
    assert "--argocd-server-addr" in message
    if "@" not in text:
        assert repr(text) in message
    else:
        assert "pw" not in message


def test_an_empty_token_is_an_error_naming_the_flag() -> None:
    with pytest.raises(InvalidInput, match="--argocd-token"):
        ArgoCDClient("argocd-server", token="")


def test_an_unreadable_ca_file_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidInput, match=r"/nonexistent/ca\.pem"):
        ArgoCDClient("argocd-server", token=TOKEN, ca_file="/nonexistent/ca.pem")


def test_a_non_positive_timeout_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="timeout"):
        ArgoCDClient("argocd-server", token=TOKEN, timeout=0)


def test_grpc_web_is_accepted_and_changes_nothing() -> None:
    plain = ArgoCDClient("argocd-server", token=TOKEN)
    web = ArgoCDClient("argocd-server", token=TOKEN, grpc_web=True)
    assert web.grpc_web
    assert web.base_url == plain.base_url


def test_the_repr_names_the_server_but_not_the_token() -> None:
    client = ArgoCDClient("argocd-server.argocd", token=TOKEN)
    assert "argocd-server.argocd" in repr(client)
    assert TOKEN not in repr(client)


label = r"[a-z]([a-z0-9-]{0,18}[a-z0-9])?"
hostnames = st.from_regex(rf"{label}(\.{label}){{0,3}}", fullmatch=True)


@given(host=hostnames, port=st.integers(1, 65535), plaintext=st.booleans())
def test_a_host_and_port_round_trip_through_the_base_url(
    host: str, port: int, plaintext: bool
) -> None:
    url = parse_server_addr(f"{host}:{port}", plaintext=plaintext)
    assert url.host == host
    assert url.port == port
    assert url.scheme == ("http" if plaintext else "https")
    assert url.path in ("", "/")


@given(text=st.text(max_size=60), plaintext=st.booleans())
def test_any_text_is_either_an_address_or_an_invalid_input_error(
    text: str, plaintext: bool
) -> None:
    try:
        url = parse_server_addr(text, plaintext=plaintext)
    except InvalidInput as exc:
        assert "--argocd-server-addr" in str(exc)
    else:
        assert url.scheme in ("http", "https")
        assert url.host
        assert url.user is None
        assert not url.query_string
