"""Issuing and renewing the webhook's CA and serving certificate."""

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certs.authority import Bundle, renew, rotation_due, service_dns_names

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
NAMES = service_dns_names("image-updater-webhook", "argocd")


def fresh(now: dt.datetime = NOW, **kw: dt.timedelta) -> Bundle:
    bundle = renew(None, NAMES, now=now, **kw)
    assert bundle is not None
    return bundle


def test_service_names_include_the_name_kube_apiserver_verifies() -> None:
    assert "image-updater-webhook.argocd.svc" in NAMES


def test_a_new_bundle_is_ecdsa_p256_signed_by_its_own_ca() -> None:
    bundle = fresh()
    bundle.validate()
    cert = x509.load_pem_x509_certificate(bundle.cert)
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    assert sorted(bundle.dns_names) == sorted(NAMES)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usage


def test_repr_never_shows_key_material() -> None:
    bundle = fresh()
    assert "PRIVATE" not in repr(bundle)
    assert "BEGIN" not in repr(bundle)


def test_a_young_bundle_is_kept() -> None:
    bundle = fresh()
    assert renew(bundle, NAMES, now=NOW + dt.timedelta(days=30)) is None


def test_the_serving_certificate_rotates_after_two_thirds_of_its_life_and_keeps_the_ca() -> None:
    bundle = fresh(cert_lifetime=dt.timedelta(days=90))
    due = rotation_due(bundle.cert)
    assert NOW + dt.timedelta(days=59) < due < NOW + dt.timedelta(days=61)
    assert renew(bundle, NAMES, now=due - dt.timedelta(hours=1)) is None
    renewed = renew(bundle, NAMES, now=due + dt.timedelta(hours=1))
    assert renewed is not None
    assert renewed.ca_cert == bundle.ca_cert
    assert renewed.cert != bundle.cert
    renewed.validate()


def test_changed_service_names_reissue_the_serving_certificate() -> None:
    bundle = fresh()
    renewed = renew(bundle, [*NAMES, "extra.example"], now=NOW + dt.timedelta(days=1))
    assert renewed is not None
    assert "extra.example" in renewed.dns_names
    assert renewed.ca_cert == bundle.ca_cert


def test_a_renewed_ca_keeps_the_old_one_trusted_until_it_expires() -> None:
    bundle = fresh(ca_lifetime=dt.timedelta(days=30), cert_lifetime=dt.timedelta(days=10))
    later = NOW + dt.timedelta(days=25)
    renewed = renew(bundle, NAMES, now=later, ca_lifetime=dt.timedelta(days=30))
    assert renewed is not None
    assert renewed.ca_cert != bundle.ca_cert
    trusted = x509.load_pem_x509_certificates(renewed.ca_bundle)
    assert len(trusted) == 2
    after_expiry = renew(renewed, NAMES, now=NOW + dt.timedelta(days=31))
    assert after_expiry is not None
    assert len(x509.load_pem_x509_certificates(after_expiry.ca_bundle)) == 1


def test_material_that_does_not_verify_is_replaced() -> None:
    one, other = fresh(), fresh()
    mixed = Bundle(one.ca_cert, one.ca_key, other.cert, other.key)
    with pytest.raises(ValueError, match="not issued by the stored CA"):
        mixed.validate()
    replaced = renew(mixed, NAMES, now=NOW)
    assert replaced is not None
    replaced.validate()


def test_the_serving_certificate_never_outlives_its_ca() -> None:
    bundle = fresh(ca_lifetime=dt.timedelta(days=5), cert_lifetime=dt.timedelta(days=365))
    ca = x509.load_pem_x509_certificate(bundle.ca_cert)
    assert bundle.not_after <= ca.not_valid_after_utc
