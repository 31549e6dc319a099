"""The IMS v3 multipart wire format: what we send is what we read; broken messages say what is wrong."""

from __future__ import annotations

import json

import pytest

from m3amazon.m3.ion.ims import DEFLATE, ImsParameters, ImsProtocolError, decode_message, encode_message


def test_a_message_round_trips_with_and_without_deflate() -> None:
    payload = b"<SyncShipment/>" * 50
    for encoding in ("NONE", DEFLATE):
        parameters = ImsParameters(
            "SyncShipment", "lid://infor.m3.m3", message_id="m-1", encoding=encoding, variation_id="7"
        )
        content_type, body = encode_message(parameters, payload)
        assert (payload in body) is (encoding == "NONE")
        message = decode_message(content_type, body, max_payload=10_000)
        assert message.payload == payload and message.parameters == parameters


def _multipart(parts: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    body = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + content + b"\r\n"
        for name, content in parts
    )
    return "multipart/form-data; boundary=b", body + b"--b--\r\n"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "reason"),
    [
        ("application/json", b"{}", 415, "IMS_NOT_MULTIPART"),
        (*_multipart([("ParameterRequest", b"{}")]), 400, "IMS_MISSING_PART"),
        (
            *_multipart([("ParameterRequest", b"not json"), ("MessagePayload", b"<x/>")]),
            400,
            "IMS_BAD_PARAMETERS",
        ),
        (*_multipart([("ParameterRequest", b"[]"), ("MessagePayload", b"<x/>")]), 400, "IMS_BAD_PARAMETERS"),
        (
            *_multipart(
                [("ParameterRequest", json.dumps({"documentName": "X"}).encode()), ("MessagePayload", b"x")]
            ),
            400,
            "IMS_BAD_PARAMETERS",
        ),
        (
            *_multipart(
                [
                    (
                        "ParameterRequest",
                        json.dumps({"documentName": "X", "messageId": "1", "encoding": "ZIP"}).encode(),
                    ),
                    ("MessagePayload", b"x"),
                ]
            ),
            400,
            "IMS_BAD_PARAMETERS",
        ),
        (
            *_multipart(
                [
                    (
                        "ParameterRequest",
                        json.dumps({"documentName": "X", "messageId": "1", "encoding": "DEFLATE"}).encode(),
                    ),
                    ("MessagePayload", b"not deflated"),
                ]
            ),
            400,
            "IMS_BAD_DEFLATE",
        ),
        ("multipart/form-data; boundary=b", b"--b\r\nbroken", 400, "IMS_MISSING_PART"),
    ],
)
def test_unusable_messages_are_refused_with_a_reason(
    content_type: str, body: bytes, status: int, reason: str
) -> None:
    with pytest.raises(ImsProtocolError) as caught:
        decode_message(content_type, body, max_payload=10_000)
    assert (caught.value.status, caught.value.reason_code) == (status, reason)


def test_a_part_larger_than_the_limit_is_refused_while_reading() -> None:
    content_type, body = encode_message(ImsParameters("SyncShipment", "lid://x"), b"x" * 5000)
    with pytest.raises(ImsProtocolError) as caught:
        decode_message(content_type, body, max_payload=4000)
    assert caught.value.status == 413
