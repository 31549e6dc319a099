"""Hostile and broken XML never gets past the hardened parser, and never costs much."""

from __future__ import annotations

import time
import zlib

import pytest

from m3a_bod_samples import BILLION_LAUGHS, MALFORMED, WRONG_NAMESPACE, XXE, XXE_PARAMETER, shipment
from m3amazon.m3.ion import bod
from m3amazon.m3.ion.ims import ImsProtocolError, inflate
from m3amazon.m3.ion.xml import BodError, parse


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BILLION_LAUGHS, "BOD_FORBIDDEN_XML"),
        (XXE, "BOD_FORBIDDEN_XML"),
        (XXE_PARAMETER, "BOD_FORBIDDEN_XML"),
        (MALFORMED, "BOD_MALFORMED"),
        (b"", "BOD_MALFORMED"),
        (b"\x00\xff\xfe garbage", "BOD_MALFORMED"),
        (WRONG_NAMESPACE, "BOD_WRONG_NAMESPACE"),
    ],
)
def test_hostile_documents_are_refused_quickly(data: bytes, reason: str) -> None:
    started = time.perf_counter()
    with pytest.raises(BodError) as caught:
        bod.decode(data)
    assert caught.value.reason_code == reason and caught.value.is_rejection
    assert time.perf_counter() - started < 1.0


def test_a_doctype_in_utf16_is_refused_after_parsing() -> None:
    # The byte scan cannot see a UTF-16 DOCTYPE; the parsed tree's docinfo still does.
    data = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'.encode("utf-16")
    with pytest.raises(BodError) as caught:
        parse(data)
    assert caught.value.reason_code == "BOD_FORBIDDEN_XML"


def test_the_size_limit_applies_before_parsing() -> None:
    data = bod.encode("Sync", shipment(), sender_logical_id="lid://x")
    with pytest.raises(BodError) as caught:
        bod.decode(data, max_bytes=len(data) - 1)
    assert caught.value.reason_code == "BOD_TOO_LARGE"
    assert bod.decode(data, max_bytes=len(data)).documents


def test_deeply_nested_documents_hit_libxml2_limits_not_the_stack() -> None:
    data = b"<a>" * 100_000 + b"</a>" * 100_000
    with pytest.raises(BodError) as caught:
        parse(data)
    assert caught.value.reason_code == "BOD_MALFORMED"


def test_a_deflate_bomb_is_cut_at_the_limit() -> None:
    bomb = zlib.compress(b"<" + b"a" * (64 * 1024 * 1024))
    assert len(bomb) < 200_000
    with pytest.raises(ImsProtocolError) as caught:
        inflate(bomb, 1024 * 1024)
    assert caught.value.status == 413


def test_raw_and_zlib_deflate_are_both_inflated() -> None:
    payload = b"<x>" + b"y" * 1000 + b"</x>"
    raw = zlib.compressobj(wbits=-15)
    assert inflate(raw.compress(payload) + raw.flush(), 10_000) == payload
    assert inflate(zlib.compress(payload), 10_000) == payload
    with pytest.raises(ImsProtocolError):
        inflate(b"not deflate at all", 10_000)
