"""The self-signed certificate `fleet serve` uses when TLS is on and no certificate is configured.

It is generated once into ``<data dir>/tls/`` and reused, so agents that pinned it (osquery's
``--tls_server_certs``) keep working across restarts. It is its own CA (basicConstraints CA:TRUE), so
the same file serves as the trust anchor for clients: ``curl --cacert <data dir>/tls/server.crt``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_NAME: Final = "server.crt"
KEY_NAME: Final = "server.key"
_VALIDITY: Final = dt.timedelta(days=3650)


def ensure_self_signed(data_dir: Path) -> tuple[Path, Path]:
    """(certificate, key) paths under data_dir/tls, generating them if absent; safe to race."""
    tls_dir = data_dir / "tls"
    cert, key = tls_dir / CERT_NAME, tls_dir / KEY_NAME
    if cert.is_file() and key.is_file():
        return cert, key
    data_dir.mkdir(parents=True, exist_ok=True)
    # The pair is written into a private directory that is renamed into place in one step, so a
    # concurrent starter never sees (or mixes) a half-written pair.
    staging = Path(tempfile.mkdtemp(prefix=".tls-", dir=data_dir))
    try:
        cert_pem, key_pem = generate_self_signed()
        (staging / KEY_NAME).write_bytes(key_pem)
        (staging / KEY_NAME).chmod(0o600)
        (staging / CERT_NAME).write_bytes(cert_pem)
        staging.chmod(0o755)
        try:
            os.rename(staging, tls_dir)
        except OSError:
            if not (cert.is_file() and key.is_file()):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cert, key


def generate_self_signed(now: dt.datetime | None = None) -> tuple[bytes, bytes]:
    """A fresh (certificate PEM, unencrypted PKCS#8 key PEM) for localhost, 127.0.0.1 and ::1."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fleet-py"),
        x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
    ])
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=False,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def read_certificate_chain(cert_path: Path) -> str:
    """The PEM certificates in cert_path (the chain the server presents), without any key."""
    text = cert_path.read_text()
    certs = x509.load_pem_x509_certificates(text.encode())
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)
