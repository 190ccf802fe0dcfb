"""`sessionlens serve --tls-cert --tls-key` serves HTTPS itself, with an optional redirect."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx2 as httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sessionlens import config
from tests.server import Server, free_port, server_env


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_with_hsts_secure_cookies_and_a_redirect(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port, plain = free_port(), free_port()
    env = server_env(
        tmp_path / "data",
        f"sqlite:///{tmp_path / 'tls.db'}",
        port,
        SESSIONLENS_TLS_CERT=str(cert),
        SESSIONLENS_TLS_KEY=str(key),
        SESSIONLENS_HTTP_REDIRECT_PORT=str(plain),
        SESSIONLENS_BASE_URL=f"https://127.0.0.1:{port}",
    )
    server = Server(env, port, tmp_path / "server.log", scheme="https")
    server.start()
    try:
        trust = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=trust, timeout=10) as client:
            page = client.get(f"{server.base_url}/login")
            assert page.status_code == 200
            assert page.headers["strict-transport-security"].startswith("max-age=")
            assert "Secure" in page.headers["set-cookie"]
        moved = httpx.get(f"http://127.0.0.1:{plain}/projects?x=1", timeout=10)
        assert moved.status_code == 308
        assert moved.headers["location"] == f"https://127.0.0.1:{port}/projects?x=1"
    finally:
        server.stop()


def test_certificate_without_key_stops_start_up(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(config.SettingsError, match="TLS_CERT and SESSIONLENS_TLS_KEY"):
        config.load({"SESSIONLENS_DATA_DIR": str(tmp_path), "SESSIONLENS_TLS_CERT": str(cert)})
