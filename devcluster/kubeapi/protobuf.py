"""Kubernetes protobuf request bodies -> the JSON objects a JSON client would have sent.

kubectl's typed commands (``create namespace|secret|configmap|serviceaccount|role|...``,
``auth can-i``) send built-in kinds as ``application/vnd.kubernetes.protobuf``: the magic
``k8s\\x00``, then a runtime.Unknown envelope (typeMeta, raw, contentEncoding, contentType)
whose ``raw`` is the typed message. client-go never falls back to JSON when a server refuses
protobuf (a 415 is just an error to it), and kube-apiserver accepts protobuf for every
built-in, so the emulator decodes it.

Decoding follows the schema in `protobuf_schema` and then does what Go's encoding/json does
with the decoded struct, so the result equals what kubectl would send as JSON: ``omitempty``
fields are left out when empty, other fields are written even when empty (``null`` for a nil
slice, map or pointer), a set pointer is written even when it points to a zero value, a
struct is always written, and metav1.Time/MicroTime, IntOrString, Quantity, FieldsV1 and
``[]byte`` take their JSON forms. A kind outside the schema (a custom resource, a CRD) or a
field number the schema does not know is a 415 naming the kind (and field); a body that is
not valid protobuf is a 400.

Responses stay JSON: kubectl sends ``Accept: application/vnd.kubernetes.protobuf,
application/json`` and reads either.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from .protobuf_schema import API_VERSIONS, KINDS, MAPS, MESSAGES, Field
from .status import ApiError

JSON = dict[str, Any]
PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
ROOT_MESSAGES = {(API_VERSIONS[name.split(".")[0]], name.split(".")[1]): name for name in KINDS}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_TIME = -62135596800  # time.Time{}.Unix(): year 1, what Time.IsZero() means

Value = bytes | int
Wire = list[tuple[int, int, Value]]  # (field number, wire type, value) in arrival order


class ProtobufError(ValueError):
    """The bytes are not a well-formed protobuf message."""


class Unsupported(ApiError):
    """415: a kind or a field the emulator's schema does not cover."""

    def __init__(self, what: str) -> None:
        super().__init__(
            415,
            f"the emulator does not decode {what} from {PROTOBUF}; send application/json "
            "(as `kubectl apply -f` does)",
        )


# ---- the wire format ----


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    """The varint at data[i:] and the index after it."""
    shift = result = 0
    while True:
        if i >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7
        if shift >= 70:
            raise ProtobufError("varint longer than 10 bytes")


def wire_fields(data: bytes) -> Wire:
    """One message's fields: varints (wire 0) as ints, length-delimited (2) and fixed-size
    (1, 5) values as bytes. Groups (3, 4) are not used by Kubernetes and are an error."""
    out: Wire = []
    i = 0
    while i < len(data):
        key, i = _read_varint(data, i)
        number, wire = key >> 3, key & 7
        value: Value
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == 0:
            value, i = _read_varint(data, i)
        elif wire in (1, 2, 5):
            size = 8 if wire == 1 else 4
            if wire == 2:
                size, i = _read_varint(data, i)
            if i + size > len(data):
                raise ProtobufError(f"field {number} runs past the end of its message")
            value, i = data[i : i + size], i + size
        else:
            raise ProtobufError(f"unsupported wire type {wire} (field {number})")
        out.append((number, wire, value))
    return out


def _packed(value: Value) -> list[Value]:
    """Packed repeated varints, a run of them without keys: proto2 senders such as
    Kubernetes' don't pack, but a decoder accepts both."""
    data = _length_delimited(value, "packed field")
    out: list[Value] = []
    i = 0
    while i < len(data):
        number, i = _read_varint(data, i)
        out.append(number)
    return out


def _signed(value: int) -> int:
    """int32/int64 are two's complement in 64 bits on the wire (negative int32 too)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _length_delimited(value: Value, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufError(f"{what}: expected a length-delimited value, got a varint")
    return value


def _varint(value: Value, what: str) -> int:
    if not isinstance(value, int):
        raise ProtobufError(f"{what}: expected a varint, got a length-delimited value")
    return value


def _text(value: Value, what: str) -> str:
    try:
        return _length_delimited(value, what).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"{what}: not UTF-8") from exc


# ---- Kubernetes' special types ----


def _timestamp(data: bytes, what: str) -> tuple[int, int]:
    seconds = nanos = 0
    for number, _wire, value in wire_fields(data):
        if number == 1:
            seconds = _signed(_varint(value, what))
        elif number == 2:
            nanos = _signed(_varint(value, what))
    return seconds, nanos


def _go_time(seconds: int, micros: int, what: str, *, micro: bool) -> str | None:
    """metav1.Time (RFC 3339, seconds: its protobuf nanos are dropped on decode) or MicroTime
    (six decimals) as JSON; the zero time is null."""
    if seconds == _GO_ZERO_TIME and not micros:
        return None
    try:
        moment = _EPOCH + timedelta(seconds=seconds, microseconds=micros)
    except OverflowError as exc:
        raise ProtobufError(f"{what}: time out of range") from exc
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _time(data: bytes, what: str, *, micro: bool) -> str | None:
    if not data:  # how Time.Marshal writes the zero time
        return None
    seconds, nanos = _timestamp(data, what)
    return _go_time(seconds, nanos // 1000 if micro else 0, what, micro=micro)


def _int_or_string(data: bytes, what: str) -> int | str:
    kind, number_value, text = 0, 0, ""
    for number, _wire, value in wire_fields(data):
        if number == 1:
            kind = _varint(value, what)
        elif number == 2:
            number_value = _signed(_varint(value, what))
        elif number == 3:
            text = _text(value, what)
    return text if kind == 1 else number_value


def _single_string(data: bytes, what: str) -> str:
    """Quantity {string = 1} and FieldsV1 {Raw = 1}."""
    out = ""
    for number, _wire, value in wire_fields(data):
        if number == 1:
            out = _text(value, what)
    return out


def _fields_v1(data: bytes, what: str) -> Any:
    raw = _single_string(data, what)
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise ProtobufError(f"{what}: FieldsV1 is not JSON") from exc


# ---- schema-driven decoding ----


def _scalar(kind: str, value: Value, what: str, path: str) -> Any:
    if kind == "string":
        return _text(value, what)
    if kind == "int":
        return _signed(_varint(value, what))
    if kind == "bool":
        return _varint(value, what) != 0
    data = _length_delimited(value, what)
    if kind == "bytes":
        return base64.b64encode(data).decode("ascii")
    if kind in ("time", "microtime"):
        return _time(data, what, micro=kind == "microtime")
    if kind == "intstr":
        return _int_or_string(data, what)
    if kind == "quantity":
        return _single_string(data, what) or "0"
    if kind == "fields":
        return _fields_v1(data, what)
    return decode_message(kind, data, path)


def _map(kind: str, entries: list[Value], what: str, path: str) -> JSON:
    value_kind = {"map": "string", "map-bytes": "bytes", "map-quantity": "quantity",
                  "map-time": "time"}[kind]  # fmt: skip
    out: JSON = {}
    for entry in entries:
        key: str = ""
        raw: Value = b""
        for number, _wire, value in wire_fields(_length_delimited(entry, what)):
            if number == 1:
                key = _text(value, what)
            elif number == 2:
                raw = value
        # an entry without a value holds the zero value ("" for a string, empty bytes)
        out[key] = _scalar(value_kind, raw, what, path)
    return out


_ZEROS: dict[str, Any] = {"string": "", "int": 0, "bool": False, "intstr": 0, "quantity": "0"}


def _zero(field: Field, path: str) -> Any:
    """The JSON of a field the message did not carry: Go's zero value (None for a nil
    pointer, slice, map, []byte or FieldsV1, and for the zero Time)."""
    if field.pointer or field.repeated:
        return None
    if field.message:
        return decode_message(field.kind, b"", path)
    return _ZEROS.get(field.kind)


def _struct(field: Field) -> bool:
    """encoding/json never leaves out a struct for omitempty (Time's null included)."""
    return (
        not field.pointer
        and not field.repeated
        and (field.message or field.kind in ("time", "microtime", "intstr", "quantity"))
    )


def decode_message(name: str, data: bytes, path: str = "") -> JSON:
    """One message of the schema as encoding/json would write the Go struct."""
    fields = MESSAGES[name]
    by_number = {f.number: f for f in fields}
    seen: dict[int, list[Value]] = {}
    for number, wire, item in wire_fields(data):
        field = by_number.get(number)
        if field is None:
            where = f" (at {path})" if path else ""
            raise Unsupported(f"field {number} of {name}{where}")
        if field.repeated and field.kind in ("int", "bool") and wire == 2:  # packed
            seen.setdefault(number, []).extend(_packed(item))
        else:
            seen.setdefault(number, []).append(item)
    out: JSON = {}
    for field in fields:
        here = f"{path}.{field.name}" if path and field.name else field.name or path
        what = f"{name} field {field.number} ({field.name or 'inline'})"
        values = seen.get(field.number)
        if not field.name:  # json:",inline": the embedded struct's fields are the parent's
            out.update(decode_message(field.kind, b"".join(map(_bytes, values or [])), path))
            continue
        value: Any
        if values is None:
            value = _zero(field, here)
        elif field.kind in MAPS:
            value = _map(field.kind, values, what, here)
        elif field.repeated:
            value = [_scalar(field.kind, v, what, f"{here}[{i}]") for i, v in enumerate(values)]
        elif field.message:
            # repeated occurrences of a message merge, which is what decoding them joined does
            value = decode_message(field.kind, b"".join(_bytes(v) for v in values), here)
        else:
            value = _scalar(field.kind, values[-1], what, here)
        if value is None:  # nil, or a struct whose JSON is null (the zero Time)
            set_pointer = field.pointer and values is not None
            leave_out = field.omitempty and not _struct(field) and not set_pointer
        else:
            leave_out = (
                field.omitempty
                and not field.pointer
                and not _struct(field)
                and value in ("", 0, False, [], {})
            )
        if not leave_out:
            out[field.name] = value
    return out


def _bytes(value: Value) -> bytes:
    return _length_delimited(value, "embedded message")


def decode_object(raw: bytes) -> JSON:
    """A ``application/vnd.kubernetes.protobuf`` request body as the JSON object it stands
    for, ``kind`` and ``apiVersion`` first. 400 for bytes that are not a Kubernetes protobuf
    envelope, 415 for a kind or field the schema does not know."""
    try:
        if not raw.startswith(MAGIC):
            raise ProtobufError(f"it does not start with the Kubernetes protobuf magic {MAGIC!r}")
        api_version = kind = encoding = content_type = ""
        inner = b""
        for number, _wire, value in wire_fields(raw[len(MAGIC) :]):
            if number == 1:  # typeMeta
                for n, _w, v in wire_fields(_bytes(value)):
                    if n == 1:
                        api_version = _text(v, "typeMeta.apiVersion")
                    elif n == 2:
                        kind = _text(v, "typeMeta.kind")
            elif number == 2:
                inner = _bytes(value)
            elif number == 3:
                encoding = _text(value, "contentEncoding")
            elif number == 4:
                content_type = _text(value, "contentType")
        if encoding or content_type not in ("", PROTOBUF):
            raise Unsupported(f"a runtime.Unknown with contentEncoding={encoding!r} "
                              f"contentType={content_type!r}")  # fmt: skip
        name = ROOT_MESSAGES.get((api_version, kind))
        if name is None:
            raise Unsupported(f"kind {kind or '(none)'} of apiVersion {api_version or '(none)'}")
        decoded = decode_message(name, inner)
    except ProtobufError as exc:
        raise ApiError(400, f"the request body is not a valid {PROTOBUF} object: {exc}") from exc
    return {"kind": kind, "apiVersion": api_version, **decoded}
