"""A local certificate authority for serving the simulators over HTTPS, as the real services are.

The CA and a server certificate for 127.0.0.1/localhost are generated once into a directory
(`var/tls` for the demo, a temporary directory in tests) and reused. Clients trust the CA through
`ca_cert` (passed as `verify=` to httpx or `amazon.ca_bundle` in the settings); nothing is added
to the system trust store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LocalTLS:
    ca_cert: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def ensure(cls, directory: Path) -> LocalTLS:
        """Load the CA and server certificate from `directory`, creating them the first time."""
        directory.mkdir(parents=True, exist_ok=True)
        tls = cls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
        if not (tls.ca_cert.exists() and tls.server_cert.exists() and tls.server_key.exists()):
            import trustme  # only the simulators need it

            ca = trustme.CA(organization_name="m3-amazon local simulator CA")
            cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
            ca.cert_pem.write_to_path(str(tls.ca_cert))
            cert.private_key_pem.write_to_path(str(tls.server_key))
            tls.server_key.chmod(0o600)
            cert.cert_chain_pems[0].write_to_path(str(tls.server_cert))
        return tls
