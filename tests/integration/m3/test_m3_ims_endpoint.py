"""Our IMS endpoints over real HTTP and a real database: stored once, handed over once, hostile input refused.

The sender is our own outbound `ImsClient` (the same v3 multipart format ION uses), so these tests
cover both directions of the protocol.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from m3_ims_support import TOKEN, Receiver, raw_post

from m3a_bod_samples import BILLION_LAUGHS, MALFORMED, WRONG_NAMESPACE, XXE, invoice, shipment
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.ims import DEFLATE, ImsClient, ImsParameters, ImsSendError, encode_message
from m3amazon.m3.ion.inbox import counts, record
from m3amazon.ops import db

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _client(receiver: Receiver, **kwargs: object) -> ImsClient:
    async def token() -> str:
        return TOKEN

    return ImsClient(receiver.url, from_logical_id="lid://infor.m3.m3", token=token, wait_initial=0, **kwargs)  # type: ignore[arg-type]


def _send(receiver: Receiver, payload: bytes, document: str = "SyncShipment", **kwargs: object) -> str:
    async def scenario() -> str:
        async with _client(
            receiver, **{k: v for k, v in kwargs.items() if k in ("deflate", "attempts")}
        ) as client:
            return await client.send(document, payload, message_id=kwargs.get("message_id"))  # type: ignore[arg-type]

    return asyncio.run(scenario())


def _post(
    receiver: Receiver, payload: bytes, *, document: str = "SyncShipment", message_id: str = "m-1"
) -> httpx.Response:
    content_type, body = encode_message(ImsParameters(document, "lid://x", message_id=message_id), payload)
    return httpx.post(
        f"{receiver.url}/v3/multipartMessage", content=body, headers={**AUTH, "Content-Type": content_type}
    )


def test_ping_and_protocol_answer_ion_with_credentials_only(receiver: Receiver) -> None:
    assert httpx.get(f"{receiver.url}/ping").status_code == 401
    assert httpx.get(f"{receiver.url}/ping", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{receiver.url}/ping", headers=AUTH).json() == {"status": "OK", "code": 200}
    assert httpx.get(f"{receiver.url}/protocol", headers=AUTH).json()["messageMethod"] == "multipartMessage"
    assert httpx.post(f"{receiver.url}/v3/multipartMessage", content=b"x").status_code == 401


def test_basic_auth_can_be_configured_instead(tmp_path: Path) -> None:
    from m3_ims_support import start_receiver

    r = start_receiver(tmp_path, inbound_auth="basic", inbound_username="ion", inbound_password="secret")
    try:
        assert httpx.get(f"{r.url}/ping", auth=("ion", "secret")).status_code == 200
        assert httpx.get(f"{r.url}/ping", auth=("ion", "wrong")).status_code == 401
        assert httpx.get(f"{r.url}/ping", headers=AUTH).status_code == 401  # bearer is not accepted then
    finally:
        r.server.stop()


def test_a_bod_is_stored_and_handed_over_once_per_message_id_and_per_bodid(receiver: Receiver) -> None:
    payload = bod.encode("Sync", shipment(), sender_logical_id="lid://infor.m3.m3")
    _send(receiver, payload, message_id="msg-1")
    _send(receiver, payload, message_id="msg-1")  # ION delivers the same message again
    _send(receiver, payload, message_id="msg-2", deflate=True)  # the same BOD in another message
    (stored,) = receiver.handed
    assert stored.document_name == "SyncShipment" and stored.message_id == "msg-1"
    assert stored.bod_id == bod.decode(payload).envelope.bod_id
    assert bod.decode(stored.payload.encode()).documents == (shipment(),)
    assert counts(receiver.engine) == {"enqueued": 1, "enqueued_deliveries": 3}


def test_an_answer_is_2xx_only_once_the_handover_worked(receiver: Receiver) -> None:
    payload = bod.encode("Sync", invoice(), sender_logical_id="lid://infor.m3.m3")
    receiver.fail_next = 1
    with pytest.raises(ImsSendError) as caught:
        _send(receiver, payload, document="SyncInvoice", message_id="inv-1", attempts=1)
    assert caught.value.status == 503
    assert counts(receiver.engine)["received"] == 1 and not receiver.handed  # stored, not handed over
    _send(receiver, payload, document="SyncInvoice", message_id="inv-1")  # ION tries again
    assert len(receiver.handed) == 1 and counts(receiver.engine)["enqueued"] == 1


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (BILLION_LAUGHS, "BOD_FORBIDDEN_XML"),
        (XXE, "BOD_FORBIDDEN_XML"),
        (MALFORMED, "BOD_MALFORMED"),
        (WRONG_NAMESPACE, "BOD_WRONG_NAMESPACE"),
    ],
)
def test_hostile_bods_are_refused_and_kept_as_incidents(
    receiver: Receiver, payload: bytes, reason: str
) -> None:
    response = _post(receiver, payload, message_id=f"hostile-{reason}")
    assert response.status_code == 400 and response.json()["reason"] == reason
    (incident,) = receiver.incidents()
    assert incident["reason_code"] == reason and incident["category"] == "bod"
    assert json.loads(incident["payload"])["payload"] == payload.decode()
    assert not receiver.handed
    assert httpx.get(f"{receiver.url}/ping", headers=AUTH).status_code == 200  # still serving


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'<SyncFoo xmlns="http://schema.infor.com/InforOAGIS/2"><ApplicationArea><BODID>f-1</BODID>'
         b"</ApplicationArea><DataArea><Foo/></DataArea></SyncFoo>", "BOD_UNKNOWN_NOUN"),
        (bod.encode("Sync", shipment(), sender_logical_id="lid://x").replace(b">2<", b">-2<"), "BOD_INVALID"),
    ],
)  # fmt: skip
def test_unusable_bods_are_acknowledged_as_incidents(receiver: Receiver, payload: bytes, reason: str) -> None:
    response = _post(receiver, payload, message_id="unusable-1")
    assert response.status_code == 202 and response.json() == {
        "status": "incident",
        "reason": reason,
        "message": response.json()["message"],
    }
    (incident,) = receiver.incidents()
    assert (
        incident["reason_code"] == reason and json.loads(incident["payload"])["payload"] == payload.decode()
    )
    _post(receiver, payload, message_id="unusable-1")  # delivered again: one incident, two occurrences
    (incident,) = receiver.incidents()
    assert incident["occurrences"] == 2


def test_a_body_that_is_not_an_ims_message_is_refused(receiver: Receiver) -> None:
    response = httpx.post(f"{receiver.url}/v3/multipartMessage", json={"x": 1}, headers=AUTH)
    assert response.status_code == 415 and response.json()["reason"] == "IMS_NOT_MULTIPART"
    assert receiver.incidents()[0]["reason_code"] == "IMS_NOT_MULTIPART"


def _rss_peak_kib() -> tuple[int, int]:
    status = Path("/proc/self/status").read_text()
    fields = {
        line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")
    }
    return fields["VmRSS"], fields["VmHWM"]


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


MIB = 1024 * 1024


def _chunked(total: int, size: int = MIB) -> Iterator[bytes]:
    block = b"x" * size
    frame = f"{size:x}\r\n".encode() + block + b"\r\n"
    for _ in range(total // size):
        yield frame
    yield b"0\r\n\r\n"


def test_50_mb_is_refused_without_reading_it_and_memory_stays_bounded(receiver: Receiver) -> None:
    host, port = receiver.server.host, receiver.server.port
    path = "/service/v3/multipartMessage"
    content_type = "multipart/form-data; boundary=b"
    resettable = _reset_peak()
    before, _ = _rss_peak_kib()

    # 1. declared size: refused before a byte of the body is read
    status, sent = raw_post(
        host, port, path, {**AUTH, "Content-Type": content_type, "Content-Length": str(50 * MIB)},
        iter([b"x" * MIB] * 50),
    )  # fmt: skip
    assert status == 413 and sent < 50 * MIB

    # 2. no declared size (chunked): cut off once the limit (4 MiB + envelope) is passed
    status, sent = raw_post(
        host,
        port,
        path,
        {**AUTH, "Content-Type": content_type, "Transfer-Encoding": "chunked"},
        _chunked(50 * MIB),
    )
    assert status == 413 and sent < 50 * MIB

    _, peak = _rss_peak_kib()
    if resettable:
        assert (peak - before) * 1024 < 30 * MIB, f"peak RSS grew by {(peak - before) // 1024} MiB"
    assert [i["reason_code"] for i in receiver.incidents()] == ["BOD_TOO_LARGE", "BOD_TOO_LARGE"]
    assert httpx.get(f"{receiver.url}/ping", headers=AUTH).status_code == 200


def test_a_deflate_bomb_is_refused_at_the_limit(receiver: Receiver) -> None:
    bomb = zlib.compress(b"<" + b"a" * (64 * MIB))
    parameters = ImsParameters("SyncShipment", "lid://x", message_id="bomb", encoding=DEFLATE)
    content_type, body = encode_message(parameters, b"")
    body = body.replace(zlib.compress(b""), bomb)
    response = httpx.post(
        f"{receiver.url}/v3/multipartMessage", content=body, headers={**AUTH, "Content-Type": content_type}
    )
    assert response.status_code == 413 and response.json()["reason"] == "BOD_TOO_LARGE"


@pytest.mark.postgres
def test_the_inbox_deduplicates_on_postgresql(pg_url: str) -> None:
    engine = db.create_engine(pg_url)
    db.create_tables(engine)
    try:
        common = {"verb": "Sync", "noun": "Shipment", "from_logical_id": "lid://x", "payload": "<x/>"}
        first, new = record(engine, message_id="m-1", bod_id="b-1", **common)
        again, new_again = record(engine, message_id="m-2", bod_id="b-1", **common)
        other, new_other = record(engine, message_id="m-3", bod_id="b-2", **common)
        assert new and not new_again and new_other
        assert again.inbox_id == first.inbox_id != other.inbox_id
        assert counts(engine) == {"received": 2, "received_deliveries": 3}
    finally:
        engine.dispose()
