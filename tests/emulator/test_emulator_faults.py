"""Fault injection of the emulator (``/api/faults``), over real HTTP."""

from __future__ import annotations

import http.client as httpclient
import time
import urllib.error

import pytest

from emulator_fixtures import (  # noqa: F401  (fixtures are used by name)
    EmulatorProcess,
    emulator,
    emulator_process,
    golden_envelopes,
    http,
    post_track,
)

BATCH = golden_envelopes("traces")[:5]


def add_fault(emu, **spec):
    reply = http("POST", emu.url + "/api/faults", spec)
    assert reply.status == 201, reply.body
    return reply.json()


@pytest.mark.parametrize("status", [429, 439, 500, 503, 401, 408])
def test_whole_batch_status_with_retry_after_stores_nothing(emulator, status):
    add_fault(emulator, status=status, count=2, retry_after=2)
    for _ in range(2):
        reply = post_track(emulator.url, BATCH)
        assert reply.status == status
        assert reply.headers["Retry-After"] == "2"
        body = reply.json()
        assert body["itemsReceived"] == 5 and body["itemsAccepted"] == 0
        assert [e["statusCode"] for e in body["errors"]] == [status] * 5
    assert emulator.items() == []
    assert emulator.rejected() == []
    # Used up: the next batch is accepted, without Retry-After.
    reply = post_track(emulator.url, BATCH)
    assert reply.status == 200 and "Retry-After" not in reply.headers
    assert len(emulator.items()) == 5


def test_status_without_retry_after_has_no_header_and_custom_message(emulator):
    add_fault(emulator, status=439, message="Daily quota exceeded for test")
    reply = post_track(emulator.url, BATCH[:1])
    assert reply.status == 439 and "Retry-After" not in reply.headers
    assert reply.json()["errors"] == [
        {"index": 0, "statusCode": 439, "message": "Daily quota exceeded for test"}]


def test_206_with_cycling_item_status_stores_only_200_items(emulator):
    add_fault(emulator, status=206, item_status=[200, 500, 400], count=1)
    reply = post_track(emulator.url, BATCH)
    assert reply.status == 206
    body = reply.json()
    assert body["itemsReceived"] == 5 and body["itemsAccepted"] == 2
    assert [(e["index"], e["statusCode"]) for e in body["errors"]] == [(1, 500), (2, 400), (4, 500)]
    stored = {i["telemetry_id"] for i in emulator.items()}
    assert stored == {BATCH[0]["data"]["baseData"]["id"], BATCH[3]["data"]["baseData"]["id"]}
    # Scripted failures are not schema problems: nothing in the rejected list.
    assert emulator.rejected() == []


def test_item_status_still_validates_the_200_items(emulator):
    bad = dict(BATCH[0], iKey="nope")
    add_fault(emulator, item_status=[200, 503])
    reply = post_track(emulator.url, [bad, BATCH[1]])
    assert reply.status == 206  # the default status with item_status
    assert reply.json()["errors"] == [
        {"index": 0, "statusCode": 400, "message": "iKey: not a GUID ('nope')"},
        {"index": 1, "statusCode": 503, "message": "Service unavailable"}]


def test_200_with_errors_can_be_scripted(emulator):
    # The exporter treats any non-empty errors array as partial success, even with 200.
    add_fault(emulator, status=200, item_status=[200, 429])
    reply = post_track(emulator.url, BATCH[:2])
    assert reply.status == 200
    assert reply.json()["errors"][0]["statusCode"] == 429


def test_delay_is_measured_and_applies_count_times(emulator):
    add_fault(emulator, delay_ms=500, count=2)
    for _ in range(2):
        started = time.monotonic()
        reply = post_track(emulator.url, BATCH)
        assert time.monotonic() - started >= 0.5
        assert reply.status == 200
    # Used up: nothing is pending, so the next batch is answered without a delay (checked on
    # the queue, not with a stopwatch a loaded machine could trip).
    assert http("GET", emulator.url + "/api/faults").json() == {"pending": []}
    assert post_track(emulator.url, BATCH).status == 200
    assert len(emulator.items()) == 15


def test_delay_combines_with_status(emulator):
    add_fault(emulator, status=503, delay_ms=300)
    started = time.monotonic()
    assert post_track(emulator.url, BATCH).status == 503
    assert time.monotonic() - started >= 0.3


def test_dropped_connection_gives_client_connection_error(emulator):
    add_fault(emulator, drop_connection=True, count=1)
    with pytest.raises((urllib.error.URLError, httpclient.HTTPException, ConnectionError)):
        post_track(emulator.url, BATCH)
    assert emulator.items() == []
    assert emulator.stats()["received"]["batches_faulted"] == 1
    assert post_track(emulator.url, BATCH).status == 200


def test_dropped_connection_with_raw_keep_alive_client(emulator):
    add_fault(emulator, drop_connection=True)
    conn = httpclient.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    conn.request("POST", "/v2.1/track", b"[]", {"Content-Type": "application/json"})
    with pytest.raises((httpclient.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()


def test_faults_apply_in_order(emulator):
    http("POST", emulator.url + "/api/faults", [{"status": 503}, {"status": 429, "count": 2},
                                                {"status": 500}])
    statuses = [post_track(emulator.url, BATCH[:1]).status for _ in range(5)]
    assert statuses == [503, 429, 429, 500, 200]


def test_get_pending_and_delete(emulator):
    add_fault(emulator, status=503, count=3, retry_after=1)
    post_track(emulator.url, BATCH[:1])
    pending = http("GET", emulator.url + "/api/faults").json()["pending"]
    assert pending == [{"status": 503, "count": 3, "retry_after": "1", "delay_ms": 0,
                        "drop_connection": False, "applied": 1, "remaining": 2}]
    assert http("GET", emulator.url + "/api/stats").json()["faults_pending"] == 1
    assert http("DELETE", emulator.url + "/api/faults",
                headers={"X-Requested-With": "test"}).json() == {"cleared": 1}
    assert http("GET", emulator.url + "/api/faults").json() == {"pending": []}
    assert post_track(emulator.url, BATCH[:1]).status == 200


@pytest.mark.parametrize("spec,message", [
    ({"status": 42}, "status: must be an integer between 100 and 599"),
    ({"count": 2}, "a fault needs at least one of"),
    ({"status": 503, "colour": "red"}, "unknown fault field(s): colour"),
    ({"item_status": []}, "item_status: must be a non-empty list of HTTP status codes"),
    ({"drop_connection": "yes"}, "drop_connection: must be a boolean"),
])
def test_invalid_fault_is_refused(emulator, spec, message):
    reply = http("POST", emulator.url + "/api/faults", spec)
    assert reply.status == 400
    assert reply.json()["error"].startswith(message)
    assert http("GET", emulator.url + "/api/faults").json() == {"pending": []}


def test_stats_count_batches_and_items(emulator):
    add_fault(emulator, status=503)
    post_track(emulator.url, BATCH)
    bad = dict(BATCH[0], time="never")
    post_track(emulator.url, BATCH[:2] + [bad])
    received = http("GET", emulator.url + "/api/stats").json()["received"]
    assert received["batches_received"] == 2
    assert received["items_received"] == 8
    assert received["items_accepted"] == 2
    assert received["items_rejected"] == 1
    assert received["batches_faulted"] == 1


def test_in_process_add_fault(emulator):
    emulator.add_fault(status=500)
    assert post_track(emulator.url, BATCH).status == 500
    emulator.add_fault(status=500)
    emulator.clear_faults()
    assert post_track(emulator.url, BATCH).status == 200


def test_faults_in_subprocess(emulator_process: EmulatorProcess):
    assert emulator_process.add_fault(status=429, retry_after=3).status == 201
    reply = emulator_process.post_track(BATCH, gzip_body=True)
    assert reply.status == 429 and reply.headers["Retry-After"] == "3"
    assert emulator_process.items() == []
