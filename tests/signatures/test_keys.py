"""Reading ``imagesVerification.cosignKey``: what is accepted, what is refused, and that no
refusal ever quotes the Secret's value."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from devcluster import cosign
from imageupdater.errors import InvalidInput
from imageupdater.signatures import InvalidVerificationKey, load_public_key

SPKI = serialization.PublicFormat.SubjectPublicKeyInfo
PEM = serialization.Encoding.PEM


def load(data: bytes | str) -> object:
    return load_public_key(data, secret="team-a/cosign", key="cosign.pub")


@pytest.mark.parametrize("curve", ["P-256", "P-384", "P-521"])
def test_an_ecdsa_public_key_on_a_sigstore_curve_is_accepted(curve: cosign.Curve) -> None:
    private = cosign.generate_key(curve)

    key = load_public_key(cosign.public_pem(private), secret="ns/s", key="cosign.pub")

    der = private.public_key().public_bytes(serialization.Encoding.DER, SPKI)
    assert key.curve == curve
    assert key.fingerprint == "sha256:" + hashlib.sha256(der).hexdigest()


def test_the_same_key_read_twice_is_equal_and_text_or_bytes_make_no_difference() -> None:
    pem = cosign.public_pem(cosign.generate_key())

    assert load(pem) == load(pem.decode()) == load(b"\n  " + pem + b"\n")


def test_a_p384_signature_verifies_by_sha256_or_by_the_curves_own_hash() -> None:
    private = cosign.generate_key("P-384")
    key = load_public_key(cosign.public_pem(private), secret="ns/s", key="k")

    by_sha384 = cosign.sign_bytes(private, b"payload", algorithm=hashes.SHA384)
    by_sha256 = cosign.sign_bytes(private, b"payload", algorithm=hashes.SHA256)
    by_sha512 = cosign.sign_bytes(private, b"payload", algorithm=hashes.SHA512)

    assert key.verifies(by_sha384, b"payload") and key.verifies(by_sha256, b"payload")
    assert not key.verifies(by_sha512, b"payload")  # not a hash any cosign uses for P-384
    assert not key.verifies(by_sha384, b"payload!")


def _pem(public: object) -> bytes:
    return public.public_bytes(PEM, SPKI)  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize(
    ("make", "words"),
    [
        pytest.param(
            lambda: _pem(rsa.generate_private_key(65537, 2048).public_key()),
            "an RSA key (2048 bits)",
            id="rsa",
        ),
        pytest.param(
            lambda: _pem(ed25519.Ed25519PrivateKey.generate().public_key()),
            "an EdDSA key",
            id="ed25519",
        ),
        pytest.param(
            lambda: _pem(ec.generate_private_key(ec.SECP224R1()).public_key()),
            "an ECDSA key on secp224r1",
            id="p-224",
        ),
        pytest.param(
            lambda: _pem(ec.generate_private_key(ec.SECP256K1()).public_key()),
            "an ECDSA key on secp256k1",
            id="secp256k1",
        ),
    ],
)
def test_keys_cosign_key_based_verification_cannot_use_are_refused_by_kind(
    make: object, words: str
) -> None:
    with pytest.raises(InvalidVerificationKey) as caught:
        load(make())  # type: ignore[operator]

    message = str(caught.value)
    assert message.startswith("Secret 'team-a/cosign', key 'cosign.pub' holds " + words)
    assert "ECDSA P-256, P-384 or P-521" in message
    assert isinstance(caught.value, InvalidInput)


def _private_pem(encrypted: bool) -> bytes:
    algorithm: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(b"pw") if encrypted else serialization.NoEncryption()
    )
    return cosign.generate_key().private_bytes(PEM, serialization.PrivateFormat.PKCS8, algorithm)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        pytest.param(b"", "is empty", id="empty"),
        pytest.param(b"   \n", "is empty", id="blank"),
        pytest.param(b"ssh-ed25519 AAAAC3Nza not a pem", "is not PEM", id="not-pem"),
        pytest.param(
            b"-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
            "does not decode to a public key",
            id="not-a-key",
        ),
        pytest.param(
            b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
            "does not decode to a public key",
            id="not-base64",
        ),
        pytest.param(
            b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END CERTIFICATE-----\n",
            "begins 'PUBLIC KEY' but ends 'CERTIFICATE'",
            id="mismatched-armour",
        ),
        pytest.param(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "holds a certificate",
            id="certificate",
        ),
        pytest.param(
            b"-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n",
            "holds a 'RSA PUBLIC KEY' PEM block",
            id="pkcs1",
        ),
        pytest.param(_private_pem(False), "holds a private key ('PRIVATE KEY')", id="private"),
        pytest.param(
            _private_pem(True), "holds a private key ('ENCRYPTED PRIVATE KEY')", id="encrypted"
        ),
        pytest.param(
            cosign.public_pem(cosign.generate_key()) * 2, "holds 2 PEM blocks", id="two-keys"
        ),
        pytest.param(b"x" * (64 * 1024 + 1), "more than any public key", id="huge"),
    ],
)
def test_a_malformed_secret_value_is_a_clear_error_naming_the_secret_and_key(
    value: bytes, words: str
) -> None:
    with pytest.raises(InvalidVerificationKey) as caught:
        load(value)

    message = str(caught.value)
    assert message.startswith("Secret 'team-a/cosign', key 'cosign.pub'")
    assert words in message
    assert "expected" in message or "needs" in message


def _base64_lines(pem: bytes) -> list[bytes]:
    return [line for line in pem.splitlines() if line and not line.startswith(b"-----")]


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_private_key_put_in_the_secret_is_never_quoted_back(encrypted: bool) -> None:
    pem = _private_pem(encrypted)

    with pytest.raises(InvalidVerificationKey) as caught:
        load(pem)

    message = str(caught.value)
    assert all(line.decode() not in message for line in _base64_lines(pem))
    assert all(line[:8].decode() not in message for line in _base64_lines(pem))


@given(body=st.binary(min_size=1, max_size=300))
def test_no_refusal_quotes_the_value_it_refuses(body: bytes) -> None:
    text = base64.b64encode(body)
    pem = b"-----BEGIN PUBLIC KEY-----\n" + text + b"\n-----END PUBLIC KEY-----\n"
    try:
        load(pem)
    except InvalidVerificationKey as exc:
        assert text.decode() not in str(exc)
        assert "does not decode" in str(exc) or "holds" in str(exc)
