"""The emulator against hostile input, over real HTTP: gzip bombs, JSON nested too deep, DNS
rebinding (a foreign ``Host``) and cross-site forms aimed at its control API."""

from __future__ import annotations

import gzip
import http.client as httpclient
import json
import zlib
from typing import Dict, Optional
from urllib.parse import urlsplit

import pytest

from emulator_fixtures import (  # noqa: F401  (fixtures are used by name)
    EmulatorProcess,
    emulator,
    golden_envelopes,
    http,
    post_track,
)

TRACES = golden_envelopes("traces")
MIB = 1024 * 1024


def gzip_of_spaces(inflated_mib: int) -> bytes:
    """A small gzip body that inflates to ``inflated_mib`` MiB (built in 1 MiB steps)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * MIB
    parts = [packer.compress(b"[")] + [packer.compress(chunk) for _ in range(inflated_mib)]
    parts += [packer.compress(b"]"), packer.flush()]
    return b"".join(parts)


def raw_request(url: str, method: str, path: str, body: bytes = b"",
                headers: Optional[Dict[str, str]] = None, host: Optional[str] = None):
    """One request with full control of the Host header (``host=""``: none at all)."""
    parts = urlsplit(url)
    conn = httpclient.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_host=host is not None, skip_accept_encoding=True)
        if host:
            conn.putheader("Host", host)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), reply.read()
    finally:
        conn.close()


def peak_rss_mib(pid: int) -> float:
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise LookupError("VmHWM")


# -- gzip bombs ---------------------------------------------------------------------------------

def test_a_gzip_bomb_is_refused_with_413_without_inflating_it(tmp_path):
    bomb = gzip_of_spaces(400)
    assert len(bomb) < 1 * MIB  # about 400 KB on the wire
    with EmulatorProcess(db=str(tmp_path / "emulator.db")) as emu:
        before = peak_rss_mib(emu.process.pid)
        reply = http("POST", emu.url + "/v2.1/track", bomb,
                     {"Content-Type": "application/json", "Content-Encoding": "gzip"}, timeout=120)
        assert reply.status == 413, reply.body[:300]
        body = reply.json()
        assert body["itemsReceived"] == 0 and body["itemsAccepted"] == 0
        assert body["errors"][0]["statusCode"] == 413
        assert "inflates to more than 64 MiB" in body["errors"][0]["message"]
        # Inflated as a stream and stopped at the cap: the emulator never held the 400 MB.
        assert peak_rss_mib(emu.process.pid) - before < 200
        # Nothing stored, and the emulator goes on answering.
        assert emu.get("/api/stats")["stored"]["items"] == 0
        assert emu.post_track(TRACES[:2], gzip_body=True).status == 200


def test_a_gzip_body_without_the_header_is_capped_too(emulator):
    reply = http("POST", emulator.url + "/v2.1/track", gzip_of_spaces(80),
                 {"Content-Type": "application/json"}, timeout=120)
    assert reply.status == 413
    assert emulator.items() == []


def test_a_deflate_bomb_is_refused_with_413(emulator):
    packer = zlib.compressobj(9)
    body = b"".join([packer.compress(b" " * MIB) for _ in range(80)] + [packer.flush()])
    reply = http("POST", emulator.url + "/v2.1/track", body,
                 {"Content-Type": "application/json", "Content-Encoding": "deflate"}, timeout=120)
    assert reply.status == 413
    assert "inflates to more than" in reply.json()["errors"][0]["message"]


def test_gzip_members_and_padding_still_inflate(emulator):
    first, second = json.dumps(TRACES[0]).encode(), json.dumps(TRACES[1]).encode()
    body = gzip.compress(first + b"\n") + gzip.compress(second) + b"\x00" * 8
    reply = http("POST", emulator.url + "/v2.1/track", body, {"Content-Encoding": "gzip"})
    assert reply.status == 200, reply.body
    assert reply.json()["itemsAccepted"] == 2


def test_a_truncated_gzip_body_is_a_400(emulator):
    body = gzip.compress(json.dumps(TRACES[:2]).encode())[:-12]
    reply = http("POST", emulator.url + "/v2.1/track", body, {"Content-Encoding": "gzip"})
    assert reply.status == 400
    assert "not valid gzip" in reply.json()["errors"][0]["message"]


# -- JSON nested too deep -----------------------------------------------------------------------

DEEP = 100_000


@pytest.mark.parametrize("body", [
    b"[" * DEEP + b"]" * DEEP,
    ("[" + json.dumps(TRACES[0])[:-1] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}]").encode(),
    b'{"a":' * DEEP + b"1" + b"}" * DEEP,
], ids=["array", "inside-an-envelope", "object"])
def test_json_nested_100000_deep_is_a_400_with_a_reason(emulator, body):
    for encoding in (None, "gzip"):
        headers = {"Content-Type": "application/json"}
        data = body
        if encoding:
            data = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        reply = http("POST", emulator.url + "/v2.1/track", data, headers)
        assert reply.status == 400, reply.body[:300]
        message = reply.json()["errors"][0]["message"]
        assert "nested too deeply" in message, message
    assert emulator.items() == []
    assert post_track(emulator.url, TRACES[:1]).status == 200  # still answering


def test_one_deep_ndjson_line_rejects_only_that_item(emulator):
    body = b"\n".join([json.dumps(TRACES[0]).encode(), b"[" * DEEP + b"]" * DEEP,
                       json.dumps(TRACES[1]).encode()])
    reply = http("POST", emulator.url + "/v2.1/track", body, {"Content-Type": "application/x-json-stream"})
    assert reply.status == 206, reply.body[:300]
    errors = reply.json()["errors"]
    assert [e["index"] for e in errors] == [1]
    assert "nested too deeply" in errors[0]["message"]
    assert len(emulator.items()) == 2


@pytest.mark.parametrize("depth", [400, 900, 990, 2000])
def test_nesting_near_the_parser_limit_answers_without_a_server_error(emulator, depth):
    text = ("[" + json.dumps(TRACES[0])[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}]")
    reply = http("POST", emulator.url + "/v2.1/track", text.encode(), {"Content-Type": "application/json"})
    assert reply.status in (200, 400), reply.body[:300]


def test_the_control_api_answers_deep_json_with_400(emulator):
    reply = http("POST", emulator.url + "/api/faults", b"[" * DEEP + b"]" * DEEP,
                 {"Content-Type": "application/json"})
    assert reply.status == 400
    assert "nested too deeply" in reply.json()["error"]


# -- strings that are not valid Unicode ---------------------------------------------------------

# JSON may escape a lone surrogate ("\\ud800"); Python parses it into a str that no UTF-8 codec
# can write, so such an item can be neither stored nor shown: it is refused, with a reason.
LONE_SURROGATE = ('"\\ud800 and \\udfff"', "\\ud83d\\ude00")  # lone ones; then a valid pair


def _with_property(value_json: str) -> str:
    """A valid envelope's JSON text with a property whose value is ``value_json`` as written."""
    env = json.loads(json.dumps(TRACES[0]))
    env["data"]["baseData"].setdefault("properties", {})["note"] = "PLACEHOLDER"
    return json.dumps(env).replace('"PLACEHOLDER"', value_json)


@pytest.mark.parametrize("ndjson", [False, True], ids=["array", "ndjson"])
def test_an_item_with_a_lone_surrogate_is_a_400_with_a_reason(emulator, ndjson):
    bad = _with_property(LONE_SURROGATE[0])
    pair = _with_property('"%s"' % LONE_SURROGATE[1])  # a valid surrogate pair is fine
    items = [json.dumps(TRACES[0]), bad, pair]
    body = ("\n".join(items) if ndjson else "[" + ",".join(items) + "]").encode()
    reply = http("POST", emulator.url + "/v2.1/track", body, {"Content-Type": "application/json"})
    assert reply.status == 206, reply.body[:300]
    errors = reply.json()["errors"]
    assert [(e["index"], e["statusCode"]) for e in errors] == [(1, 400)]
    assert "lone surrogate" in errors[0]["message"], errors[0]["message"]
    assert len(emulator.items()) == 2
    assert "\\ud800" in emulator.rejected()[0]["raw"]


def test_a_batch_of_only_lone_surrogates_is_a_400(emulator):
    body = ("[" + _with_property(LONE_SURROGATE[0]) + "]").encode()
    reply = http("POST", emulator.url + "/v2.1/track", body, {"Content-Type": "application/json"})
    assert reply.status == 400, reply.body[:300]
    assert "lone surrogate" in reply.json()["errors"][0]["message"]
    assert post_track(emulator.url, TRACES[:1]).status == 200  # still answering


def test_the_control_api_answers_a_lone_surrogate_with_400(emulator):
    reply = http("POST", emulator.url + "/api/faults", b'{"status": 503, "message": "x\\ud800"}',
                 {"Content-Type": "application/json"})
    assert reply.status == 400, reply.body[:300]
    assert "lone surrogate" in reply.json()["error"]
    assert post_track(emulator.url, TRACES[:1]).status == 200  # no fault was added


# -- DNS rebinding: only loopback Host names ----------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.nip.io:{port}",
                                  "localhost.evil.example", "attacker.com:{port}", "10.1.2.3:{port}"])
def test_a_foreign_host_name_is_refused_whatever_the_path(emulator, host):
    # A page of attacker.com whose DNS answer switched to 127.0.0.1 is same-origin with what it
    # fetches, but its requests still carry its own name in Host.
    host = host.format(port=emulator.port)
    post_track(emulator.url, TRACES[:1])
    name = host.split(":")[0]
    for method, path, body, headers in [
            ("GET", "/api/items", b"", {}), ("GET", "/", b"", {}), ("GET", "/api/rejected", b"", {}),
            ("DELETE", "/api/items", b"", {"X-Requested-With": "x"}),
            ("POST", "/v2.1/track", json.dumps(TRACES[:1]).encode(), {"Content-Type": "application/json"}),
            ("OPTIONS", "/v2.1/track", b"", {})]:
        status, _, reply = raw_request(emulator.url, method, path, body, headers, host=host)
        assert status == 421, (method, path, status)
        assert b"not a loopback" in reply and name.encode() in reply, reply
    assert len(emulator.items()) == 1  # nothing read, cleared or added


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LOCALHOST",
                                  "127.1.2.3:{port}", "[::1]:{port}", "app.localhost:{port}"])
def test_loopback_host_names_are_answered(emulator, host):
    status, _, body = raw_request(emulator.url, "GET", "/api/stats", host=host.format(port=emulator.port))
    assert status == 200, body


def test_a_request_without_host_is_answered(emulator):
    # Browsers always send Host; a client that sends none is not a web page.
    status, _, _ = raw_request(emulator.url, "GET", "/api/stats", host="")
    assert status == 200


def test_the_host_it_was_told_to_serve_and_allowed_names_are_answered(tmp_path):
    args = ("--host", "0.0.0.0", "--allow-host", "emulator", "--allow-host", "ai.test")
    with EmulatorProcess(db=":memory:", args=args) as emu:
        for host, expected in [("emulator:%d" % emu.port, 200), ("AI.test", 200),
                               ("127.0.0.1:%d" % emu.port, 200), ("other:%d" % emu.port, 421),
                               ("172.17.0.2:%d" % emu.port, 200)]:  # served on every interface
            status, _, _ = raw_request(emu.url, "GET", "/api/stats", host=host)
            assert status == expected, host
    with EmulatorProcess(db=":memory:", args=("--host", "localhost")) as emu:
        assert raw_request(emu.url, "GET", "/api/stats", host="localhost:%d" % emu.port)[0] == 200


# -- the control API refuses what a cross-site form can send ------------------------------------

FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain", None]


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_a_cross_site_form_cannot_clear_the_items(emulator, content_type):
    post_track(emulator.url, TRACES[:1])
    headers = {"Content-Type": content_type} if content_type else {}
    for method in ("DELETE", "POST"):
        status, _, body = raw_request(emulator.url, method, "/api/items", b"x=1" if method == "POST" else b"",
                                      headers, host="127.0.0.1:%d" % emulator.port)
        assert status == 403, (method, status, body)
        assert b"application/json" in body and b"X-Requested-With" in body
    assert len(emulator.items()) == 1


@pytest.mark.parametrize("content_type", FORM_TYPES)
def test_a_cross_site_form_cannot_add_or_clear_faults(emulator, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, _ = raw_request(emulator.url, "POST", "/api/faults", b'{"status": 503}', headers)
    assert status == 403
    emulator.add_fault(status=503)
    status, _, _ = raw_request(emulator.url, "DELETE", "/api/faults", b"", headers)
    assert status == 403
    assert len(emulator.app.faults.pending()) == 1


def test_json_or_a_custom_header_is_accepted_by_the_control_api(emulator):
    post_track(emulator.url, TRACES[:1])
    reply = http("POST", emulator.url + "/api/faults", {"status": 503},
                 {"Content-Type": "application/json; charset=utf-8"})
    assert reply.status == 201
    assert http("DELETE", emulator.url + "/api/faults", headers={"X-Requested-With": "test"}).status == 200
    assert http("DELETE", emulator.url + "/api/items", headers={"Content-Type": "application/json"}).json() == {
        "cleared": True}
    assert emulator.items() == []


def test_reading_needs_no_header(emulator):
    # GET is not state-changing: a browser address bar, curl and scripts read without ceremony.
    assert raw_request(emulator.url, "GET", "/api/items")[0] == 200
    assert raw_request(emulator.url, "GET", "/api/faults")[0] == 200
