"""A `.ionapi` credentials file that points at the M3 simulator's ION-API-style routes.

Cloud mode is configured with nothing but such a file, so the demo and the tests exercise the same
path a CloudSuite customer uses: token URL `pu + ot`, revoke URL `pu + or`, API base `iu/ti/M3`.
The keys are those of an ION API "backend service" file (see research notes §2.1).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def ionapi_document(
    base_url: str, tenant: str, client_id: str, client_secret: str, saak: str, sask: str
) -> dict[str, str]:
    base = base_url.rstrip("/")
    return {
        "ti": tenant,
        "cn": "m3amazon-simulator",
        "dt": "12",
        "ci": client_id,
        "cs": client_secret,
        "iu": base,
        "pu": f"{base}/{tenant}/as/",
        "oa": "authorization.oauth2",
        "ot": "token.oauth2",
        "or": "revoke_token.oauth2",
        "v": "1.0",
        "saak": saak,
        "sask": sask,
    }


def write_ionapi(
    path: str | Path, base_url: str, tenant: str, client_id: str, client_secret: str, saak: str, sask: str
) -> Path:
    """Write the file (readable by its owner only, as a real one should be) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = ionapi_document(base_url, tenant, client_id, client_secret, saak, sask)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2)
    return target
