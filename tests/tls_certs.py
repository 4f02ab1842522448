"""Certificates for the TLS tests, made with the `openssl` command at test time.

A test CA signs a server certificate for `localhost` only (so 127.0.0.1 is a host name the
certificate does not cover) and a client certificate; an unrelated CA stands for a wrong one.
EC P-256 keys: quick to make, and every TLS library here accepts them.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
_DAYS = "2"


def _openssl(*args: str) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("openssl not found; apt-get install openssl")
    subprocess.run([binary, *args], check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path


def _ca(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    _openssl(
        "req", "-x509", *_KEY, "-keyout", str(key), "-out", str(cert), "-days", _DAYS,
        "-subj", f"/CN=chatstore test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert, key


def _leaf(folder: Path, name: str, ca: tuple[Path, Path], extensions: str) -> tuple[Path, Path]:
    cert, key, request = folder / f"{name}.crt", folder / f"{name}.key", folder / f"{name}.csr"
    _openssl(
        "req", "-new", *_KEY, "-keyout", str(key), "-out", str(request), "-subj", f"/CN={name}"
    )
    ext = folder / f"{name}.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n" + extensions
    )
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-out", str(cert), "-days", _DAYS, "-extfile", str(ext),
    )  # fmt: skip
    # libpq refuses a client key that others may read.
    key.chmod(0o600)
    return cert, key


def make_certs(folder: Path) -> Certs:
    ca = _ca(folder, "ca")
    wrong_ca, _ = _ca(folder, "wrong-ca")
    server = _leaf(
        folder, "localhost", ca, "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n"
    )
    client = _leaf(folder, "chatstore", ca, "extendedKeyUsage=clientAuth\n")
    return Certs(ca[0], server[0], server[1], client[0], client[1], wrong_ca)
