"""The sender keeps each envelope as its JSON bytes from the moment it is final: the batch, the
206 retry, the size trimming and offline storage hold bytes, and the bytes that arrive are the
ones ``json.dumps(..., ensure_ascii=True)`` gives (core/ai_core/delivery/sender.py, storage.py).
Real HTTP to the emulator, real files."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path
from typing import Any, Dict, List

import pytest

from ai_core.delivery.encode import encode_item
from ai_core.delivery.sender import LazyStorage, Sender
from ai_core.delivery.storage import LocalStorage
from ai_core.delivery.transport import Transport
from ai_core.emulator import Emulator

IKEY = "00000000-0000-0000-0000-000000000000"


def message(text: str, **properties: str) -> Dict[str, Any]:
    return {"name": "Microsoft.ApplicationInsights.Message", "time": "2026-12-06T03:00:00.000000Z",
            "iKey": IKEY, "tags": {"ai.cloud.role": "bytes"},
            "data": {"baseType": "MessageData",
                     "baseData": {"ver": 2, "message": text, "properties": dict(properties)}}}


def stdlib(envelope: Dict[str, Any]) -> bytes:
    return json.dumps(envelope, ensure_ascii=True, separators=(",", ":"), default=str).encode()


@pytest.fixture
def emu():
    with Emulator(port=0) as emulator:
        yield emulator


def messages_received(emu: Emulator) -> List[str]:
    return sorted(i["envelope"]["data"]["baseData"]["message"] for i in emu.items(type="trace", limit=1000))


def test_a_206_resends_the_retriable_items_and_trims_the_one_refused_for_size(emu: Emulator, tmp_path: Path) -> None:
    long_text = "y" * 20000  # under the 64 KiB item limit, so not trimmed before sending
    batch = [message("kept é"), message(long_text), message("retried 東京 😀")]
    emu.add_fault(item_status=[200, 400, 503], message="Item too large", count=1)
    sender = Sender(Transport(emu.url + "/v2.1/track"), LazyStorage(str(tmp_path / "s")), sleep=lambda s: None)
    try:
        assert sender.send(iter(batch)) is False  # the size refusal was a failure, though it was repaired
    finally:
        sender.close()
    received = messages_received(emu)
    # Every item arrived once: the first at once, the 503 one re-sent unchanged, the refused one
    # trimmed (its bytes decoded, cut, encoded again) and re-sent.
    assert received == sorted(["kept é", "retried 東京 😀", "y" * 8192])
    assert not LocalStorage(str(tmp_path / "s")).count()


def test_items_kept_in_offline_storage_are_the_bytes_that_are_sent(emu: Emulator, tmp_path: Path) -> None:
    batch = [message("stored é", note="\x7f\u2028"), message("stored 😀 %d" % 2)]
    emu.add_fault(status=503, count=1)
    storage = LazyStorage(str(tmp_path / "s"))
    sender = Sender(Transport(emu.url + "/v2.1/track"), storage, sleep=lambda s: None, max_attempts=1)
    try:
        assert sender.send(batch) is False
        (blob_path,) = [p for p in (tmp_path / "s").iterdir()]
        # One line per item: the request-body bytes, ASCII only.
        assert blob_path.read_bytes() == b"".join(stdlib(e) + b"\n" for e in batch)
        # Stored under a short lease (the next attempt's time): make it ready now.
        blob_path.rename(blob_path.with_name(blob_path.name.split("@")[0]))
        assert sender.drain() == 1
    finally:
        sender.close()
    assert messages_received(emu) == sorted(["stored é", "stored 😀 2"])


def write_previous_version_blob(store: Path, name: str, envelopes: List[Dict[str, Any]]) -> None:
    """The previous version's format: UTF-8 lines, non-ASCII unescaped, surrogates passed through."""
    data = "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":"), default=str) + "\n" for e in envelopes)
    (store / ("20261205T120000.000000-%s-n%d.blob" % (name, len(envelopes)))).write_bytes(
        data.encode("utf-8", "surrogatepass"))


def test_a_blob_written_by_the_previous_version_is_read_and_sent_as_before(emu: Emulator, tmp_path: Path) -> None:
    store = tmp_path / "s"
    LocalStorage(str(store))  # the directory, as the previous version made it
    odd = [message("lone \ud800 surrogate", k="東京"), message("del \x7f")]
    write_previous_version_blob(store, "0123456789abcdef", odd)
    (blob,) = LocalStorage(str(store)).lease_next()
    assert blob.read_items() == [stdlib(e) for e in odd]  # the bytes it was always sent as
    blob.delete()
    old = [message("ancien é ☕"), message("autre 東京 😀", k="ü")]
    write_previous_version_blob(store, "fedcba9876543210", old)
    sender = Sender(Transport(emu.url + "/v2.1/track"), LazyStorage(str(store)), sleep=lambda s: None)
    try:
        assert sender.drain() == 1
    finally:
        sender.close()
    assert messages_received(emu) == sorted(["ancien é ☕", "autre 東京 😀"])
    assert LocalStorage(str(store)).count() == 0


def test_an_envelope_is_freed_once_encoded_never_kept_for_the_whole_batch(emu: Emulator) -> None:
    """The exporter hands its envelopes over one by one and the sender keeps only bytes: the
    dict tree of an item is gone before the next item is built (memory stays flat under load)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from ai_core.exporters import AzureMonitorTraceExporter

    class Tracked(dict):
        pass

    alive_when_next_built: List[int] = []
    refs: List["weakref.ref[Tracked]"] = []

    def track(envelope: Dict[str, Any]) -> Dict[str, Any]:
        gc.collect()  # no cycle keeps a finished envelope; collected or not, refcounts decide
        alive_when_next_built.append(sum(1 for r in refs if r() is not None))
        tracked = Tracked(envelope)
        refs.append(weakref.ref(tracked))
        return tracked

    exporter = AzureMonitorTraceExporter(
        connection_string="InstrumentationKey=%s;IngestionEndpoint=%s" % (IKEY, emu.url),
        disable_offline_storage=True, telemetry_processors=[track],
    )
    provider = TracerProvider()
    tracer = provider.get_tracer("t")
    spans = []
    for i in range(20):
        with tracer.start_as_current_span("span %d" % i) as span:
            pass
        spans.append(span)
    try:
        assert exporter.export(spans).name == "SUCCESS"
    finally:
        exporter.shutdown()
    assert len(alive_when_next_built) == 21  # the resource envelope and 20 spans
    # At most the previous item or two (loop variables), whatever the batch size; a batch kept
    # as dicts would have 20 alive at the end.
    assert max(alive_when_next_built) <= 2
    assert len(emu.items(limit=1000)) >= 20


def test_an_envelope_over_64_kib_is_trimmed_before_it_is_encoded_for_good() -> None:
    from ai_core.delivery.sender import MAX_ITEM_BYTES, encode_envelopes

    big = message("y" * 30000, **{"p%d" % i: "x" * 8000 for i in range(8)})
    small = message("small")
    items = encode_envelopes(iter([big, small]))
    assert len(items) == 2 and items[1] == stdlib(small)
    trimmed = json.loads(items[0])
    assert len(items[0]) < MAX_ITEM_BYTES
    assert trimmed["data"]["baseData"]["message"] == "y" * 8192
    assert trimmed["data"]["baseData"]["properties"]["p0"] == "x" * 1024


def test_an_envelope_that_cannot_be_encoded_is_dropped_alone() -> None:
    from ai_core.delivery.sender import encode_envelopes
    from ai_core.diagnostics import DROPS

    cyclic = message("cycle")
    cyclic["data"]["baseData"]["properties"]["self"] = cyclic  # a processor's mistake
    before = DROPS.totals().get("could not be encoded as JSON", 0)
    assert encode_envelopes([message("a"), cyclic, message("b")]) == [encode_item(message("a")), encode_item(message("b"))]
    assert DROPS.totals().get("could not be encoded as JSON", 0) - before == 1
