"""Validating one registries.conf entry into a ``RegistryEndpoint``, and the whole-file rules."""

from __future__ import annotations

__all__ = ["ACCEPTED_KEYS", "check_unique", "endpoint_from_entry"]

from collections.abc import Callable
from urllib.parse import urlsplit

from imageupdater.credentials import CredentialRef
from imageupdater.durations import parse_duration
from imageupdater.errors import InvalidCredentialRef, InvalidRegistriesConf
from imageupdater.registries_conf.endpoint import RegistryEndpoint, TagSortMode
from imageupdater.registries_conf.yaml_reader import Located

ACCEPTED_KEYS = (
    "name",
    "prefix",
    "api_url",
    "credentials",
    "credsexpire",
    "defaultns",
    "default",
    "insecure",
    "ca_file",
    "ca_data",
    "limit",
    "tagsortmode",
    "ping",
)


def endpoint_from_entry(entry: Located, index: int, source: str) -> RegistryEndpoint:
    name_value = entry.values.get("name")
    label = f"registries[{index}]" + (
        f" (name {name_value!r})" if isinstance(name_value, str) else ""
    )

    def fail(key: str | None, message: str) -> InvalidRegistriesConf:
        line = entry.lines.get(key, entry.line) if key else entry.line
        return InvalidRegistriesConf(f"{source}: line {line}: {label}: {message}")

    for key in entry.values:
        if key not in ACCEPTED_KEYS:
            raise fail(key, f"unknown key {key!r}; accepted keys: {', '.join(ACCEPTED_KEYS)}")

    def text(key: str, *, required: bool = False) -> str | None:
        if key not in entry.values:
            if required:
                raise fail(None, f"key {key!r} is required")
            return None
        value = entry.values[key]
        if not isinstance(value, str) or not value:
            got = _describe(value) if key != "credentials" else "something else (value not shown)"
            raise fail(key, f"{key} must be a non-empty string, got {got}")
        # credentials: CredentialRef.parse rejects whitespace without echoing the value.
        if key not in ("ca_data", "name", "credentials") and any(ch.isspace() for ch in value):
            raise fail(key, f"{key} must not contain whitespace, got {value!r}")
        return value

    def flag(key: str) -> bool | None:
        value = entry.values.get(key)
        if key in entry.values and not isinstance(value, bool):
            raise fail(key, f"{key} must be true or false, got {_describe(value)}")
        return value if isinstance(value, bool) else None

    name = text("name", required=True) or ""
    api_url = _api_url(text("api_url", required=True) or "", lambda m: fail("api_url", m))
    prefix = (text("prefix") or "").rstrip("/")
    if "://" in prefix:
        raise fail(
            "prefix", f"prefix must be an image prefix like 'ghcr.io/team', not a URL: {prefix!r}"
        )

    credentials: CredentialRef | None = None
    credentials_text = text("credentials")
    if credentials_text is not None:
        try:
            credentials = CredentialRef.parse(credentials_text, show_value=False)
        except InvalidCredentialRef as exc:
            raise fail("credentials", f"credentials: {exc}") from None

    credsexpire = 0.0
    if "credsexpire" in entry.values:
        raw = entry.values["credsexpire"]
        if raw == 0 and not isinstance(raw, bool):
            credsexpire = 0.0
        elif not isinstance(raw, str):
            raise fail(
                "credsexpire",
                f"credsexpire must be a Go duration like '11h', '1h30m' or '90s', "
                f"got {_describe(raw)}",
            )
        else:
            try:
                credsexpire = parse_duration(raw)
            except ValueError as exc:
                raise fail("credsexpire", f"credsexpire: {exc}") from None

    limit: int | None = None
    if "limit" in entry.values:
        raw = entry.values["limit"]
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise fail(
                "limit", f"limit must be an integer (requests per second), got {_describe(raw)}"
            )
        limit = raw if raw > 0 else None

    sort_mode = TagSortMode.NONE
    sort_text = text("tagsortmode")
    if sort_text is not None:
        try:
            sort_mode = TagSortMode(sort_text.lower())
        except ValueError:
            accepted = ", ".join(m.value for m in TagSortMode)
            raise fail(
                "tagsortmode", f"tagsortmode {sort_text!r} is not one of {accepted}"
            ) from None

    ca_data = text("ca_data")
    if ca_data is not None and not _holds_certificate(ca_data):
        raise fail("ca_data", "ca_data does not contain a PEM certificate")

    return RegistryEndpoint(
        name=name,
        api_url=api_url,
        prefix=prefix,
        credentials=credentials,
        credsexpire=credsexpire,
        defaultns=text("defaultns"),
        default=bool(flag("default")),
        insecure=bool(flag("insecure")),
        ca_file=text("ca_file"),
        ca_data=ca_data,
        limit=limit,
        tagsortmode=sort_mode,
        ping=flag("ping"),
    )


def _api_url(value: str, fail: Callable[[str], InvalidRegistriesConf]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise fail(f"api_url must be an http:// or https:// URL with a host, got {value!r}")
    if "@" in parts.netloc:
        raise fail("api_url must not contain a username or password; use 'credentials'")
    if parts.query or parts.fragment:
        raise fail(f"api_url must not have a query or fragment, got {value!r}")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise fail(f"api_url has an invalid port, got {value!r}") from None
    return value.rstrip("/")


def _holds_certificate(pem: str) -> bool:
    from cryptography import x509  # only for a registries.conf that carries CA data

    try:
        return bool(x509.load_pem_x509_certificates(pem.encode()))
    except ValueError:
        return False


def check_unique(endpoints: list[RegistryEndpoint], source: str) -> None:
    seen: dict[str, str] = {}
    default: str | None = None
    for endpoint in endpoints:
        key = endpoint.prefix.lower()
        if key in seen:
            if not key:
                raise InvalidRegistriesConf(
                    f"{source}: there must be only one registry without a prefix "
                    f"(already is {seen[key]!r}), {endpoint.name!r} needs a prefix"
                )
            raise InvalidRegistriesConf(
                f"{source}: registries {seen[key]!r} and {endpoint.name!r} "
                f"have the same prefix {endpoint.prefix!r}"
            )
        seen[key] = endpoint.name
        if endpoint.default:
            if default is not None:
                raise InvalidRegistriesConf(
                    f"{source}: cannot set registry {endpoint.name!r} as default - only one "
                    f"default registry allowed, currently set to {default!r}"
                )
            default = endpoint.name


def _describe(value: object) -> str:
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return "an empty string" if not value else f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
