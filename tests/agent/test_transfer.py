"""A bundle in chunks: put back together whole, or refused with a reason (partial, corrupt, oversized, malformed)."""

from __future__ import annotations

import os

import pytest

from edgewatch.agent.transfer import Assembler, TransferRefused, chunk_messages


def _assembler(max_bytes: int = 10_000) -> Assembler:
    return Assembler(max_bytes=max_bytes, timeout_s=5.0)


def test_chunks_in_any_order_give_the_whole_back() -> None:
    data = os.urandom(2500)
    messages = chunk_messages(data, "t1", chunk_bytes=1000, force=True)
    assert len(messages) == 3
    assembler = _assembler()
    assert assembler.add(messages[2], 0.0) is None
    assert assembler.add(messages[0], 0.1) is None
    delivery = assembler.add(messages[1], 0.2)
    assert delivery is not None and delivery.data == data and delivery.force and delivery.transfer == "t1"
    assert assembler.add(messages[1], 0.3) is None  # a QoS 1 redelivery of a finished transfer is ignored


def test_an_oversized_transfer_is_refused_at_its_first_chunk() -> None:
    messages = chunk_messages(os.urandom(20_000), "big", chunk_bytes=5000)
    assembler = _assembler()
    with pytest.raises(TransferRefused, match=r"more than update\.max_bundle_bytes = 10000") as refused:
        assembler.add(messages[0], 0.0)
    assert refused.value.reason == "oversized"
    assert all(assembler.add(m, 0.0) is None for m in messages[1:])  # the rest is dropped quietly


def test_a_partial_transfer_is_refused_when_it_stalls_or_another_starts() -> None:
    messages = chunk_messages(os.urandom(3000), "part", chunk_bytes=1000)
    assembler = _assembler()
    assembler.add(messages[0], 0.0)
    assert assembler.expire(4.0) is None
    expired = assembler.expire(5.5)
    assert expired is not None and expired.reason == "incomplete" and "1 of 3 chunk(s)" in str(expired)
    assembler.add(messages[0], 10.0)  # ignored: that transfer was refused
    other = chunk_messages(b"x" * 10, "next", chunk_bytes=1000)
    assembler2 = _assembler()
    assembler2.add(messages[0], 0.0)
    with pytest.raises(TransferRefused, match="interrupted by transfer next") as interrupted:
        assembler2.add(other[0], 0.1)
    assert interrupted.value.reason == "incomplete"


def test_a_corrupt_or_malformed_chunk_is_refused() -> None:
    (message,) = chunk_messages(b"bundle bytes", "c1")
    damaged = message[:-1] + bytes([message[-1] ^ 1])
    with pytest.raises(TransferRefused, match="sha256 mismatch") as corrupt:
        _assembler().add(damaged, 0.0)
    assert corrupt.value.reason == "corrupt"
    with pytest.raises(TransferRefused, match="announced") as short:
        _assembler().add(message[:-3], 0.0)
    assert short.value.reason == "corrupt"
    for bad in (b"no header", b'{"transfer": "x"}\nbody', b'{"transfer": "x", "index": 3, "count": 1}\n'):
        with pytest.raises(TransferRefused, match="not a bundle chunk") as malformed:
            _assembler().add(bad, 0.0)
        assert malformed.value.reason == "malformed"
