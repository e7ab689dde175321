"""A throwaway certificate authority and a server certificate for the loopback emulators.

The CA certificate is what clients trust (``REQUESTS_CA_BUNDLE`` for requests and
simple-salesforce, ``SSL_CERT_FILE`` for httpx); verification is never turned off.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import trustme

from engine.serving import TLSFiles

SERVER_NAMES = ("127.0.0.1", "localhost", "::1")


def make_tls_files(directory: Path | None = None) -> TLSFiles:
    """Write ``ca.pem``, ``server.pem`` (certificate chain) and ``server.key`` into `directory`.

    Without a directory, a new private temporary one is made (the caller may remove it).
    """
    folder = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="zoomforce-tls-"))
    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="zoomforce local emulator CA")
    server = ca.issue_cert(*SERVER_NAMES, organization_name="zoomforce local emulator")
    ca_file = folder / "ca.pem"
    certfile = folder / "server.pem"
    keyfile = folder / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    certfile.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    keyfile.touch(mode=0o600)
    os.chmod(keyfile, 0o600)
    server.private_key_pem.write_to_path(str(keyfile))
    return TLSFiles(certfile=str(certfile), keyfile=str(keyfile), ca_file=str(ca_file))
