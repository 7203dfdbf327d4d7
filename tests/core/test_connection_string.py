"""ConnectionString: the official parser's results (tests/support/golden/cs_tests.out), tolerant input,
precise errors that never echo the string's values, and the environment fallbacks.

Every "ok" line of the golden file must give the same key, endpoints, AAD audience, region and
application id, except that our ingestion endpoint never ends with "/". Every "error" line must
raise ``ConfigurationError`` unless it is listed in ``TOLERATED`` with the reason we accept it.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any, Dict, List, Mapping, Optional

import pytest

from ai_core.connection_string import (
    DEFAULT_INGESTION_ENDPOINT,
    DEFAULT_LIVE_ENDPOINT,
    ConnectionString,
)
from ai_core.errors import ConfigurationError
from golden_support import GOLDEN_DIR

IKEY = "00000000-0000-0000-0000-000000000000"
SECRET_KEY = "4f1c2a9e-7b3d-4c8e-9a1f-0d2e3c4b5a69"


def _golden() -> Dict[str, List[Dict[str, Any]]]:
    """cs_tests.out has three parts: JSON results, env-precedence results, then plain-text lines."""
    parts: Dict[str, List[Dict[str, Any]]] = {"cases": [], "env": [], "text": []}
    part = "cases"
    for line in (GOLDEN_DIR / "cs_tests.out").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if line.startswith("--- env precedence"):
            part = "env"
        elif line.startswith("{"):
            parts[part].append(json.loads(line))
        else:  # 'input' OK ikey region  |  'input' ValueError message
            literal, rest = re.match(r"^('.*?')\s+(.*)$", line).groups()  # type: ignore[union-attr]
            fields = rest.split(" ", 1)
            entry: Dict[str, Any] = {"input": ast.literal_eval(literal)}
            if fields[0] == "OK":
                ikey, region = fields[1].split()
                entry["ok"] = {"ikey": ikey, "region": region}
            else:
                entry["error"] = rest
            parts["text"].append(entry)
    return parts


GOLDEN = _golden()
ALL_CASES = GOLDEN["cases"] + GOLDEN["text"]
OK_CASES = [c for c in ALL_CASES if "ok" in c]
ERROR_CASES = [c for c in ALL_CASES if "error" in c]

# Official errors we deliberately accept, with the reason; value = the key we must read.
TOLERATED: Dict[str, str] = {
    f"InstrumentationKey={IKEY};": "a trailing ';' is harmless (common when strings are concatenated)",
    f"InstrumentationKey={IKEY};;IngestionEndpoint=https://x/": "an empty segment carries no meaning",
    f"InstrumentationKey= {IKEY}": "spaces around a value are never part of a GUID",
    f"  InstrumentationKey={IKEY}": "spaces around a key (multi-line strings, YAML) are not part of it",
    f"InstrumentationKey ={IKEY}": "spaces around a key are not part of it",
    "InstrumentationKey=ABCDEF00-0000-0000-0000-00000000000A": "a GUID is case-insensitive; normalised to lower case",
    "InstrumentationKey={abcdef00-0000-0000-0000-00000000000a}": "the braced GUID form (.NET, registry) is still the same GUID",
}
TOLERATED_KEYS = {
    "InstrumentationKey=ABCDEF00-0000-0000-0000-00000000000A": "abcdef00-0000-0000-0000-00000000000a",
    "InstrumentationKey={abcdef00-0000-0000-0000-00000000000a}": "abcdef00-0000-0000-0000-00000000000a",
}


def _values_of(text: str) -> List[str]:
    """Each value (or whole segment without '=') of a string: none may appear in an error."""
    values = []
    for segment in text.split(";"):
        _, sep, value = segment.partition("=")
        candidate = (value if sep else segment).strip()
        if len(candidate) >= 3:
            values.append(candidate)
    return values


def _assert_no_values_in(message: str, text: str) -> None:
    for value in _values_of(text):
        assert value not in message, f"error message echoes {value!r}: {message}"


def test_golden_file_was_read_completely() -> None:
    assert len(GOLDEN["cases"]) == 25 and len(GOLDEN["env"]) == 4 and len(GOLDEN["text"]) == 4
    assert len(OK_CASES) + len(ERROR_CASES) == 29


@pytest.mark.parametrize("case", OK_CASES, ids=lambda c: str(c["input"])[:60])
def test_golden_ok_lines_give_the_official_values(case: Mapping[str, Any]) -> None:
    expected = case["ok"]
    cs = ConnectionString.parse(case["input"])
    assert cs.instrumentation_key == expected["ikey"]
    assert cs.region == expected["region"]
    if "endpoint" in expected:
        # The one deliberate difference: no trailing "/" (the official gives //v2.1/track).
        assert cs.ingestion_endpoint == expected["endpoint"].rstrip("/")
        assert cs.live_endpoint == expected["live"]
        assert cs.aad_audience == expected["aad_audience"]
        assert cs.application_id == expected["application_id"]
    assert not cs.ingestion_endpoint.endswith("/")
    assert "//v2.1" not in cs.track_url


@pytest.mark.parametrize("case", ERROR_CASES, ids=lambda c: str(c["input"])[:60])
def test_golden_error_lines_are_errors_unless_deliberately_tolerated(case: Mapping[str, Any]) -> None:
    text = case["input"]
    if text in TOLERATED:
        cs = ConnectionString.parse(text)
        assert cs.instrumentation_key == TOLERATED_KEYS.get(text, IKEY)
        return
    with pytest.raises(ConfigurationError) as err:
        ConnectionString.parse(text)
    if isinstance(text, str):
        _assert_no_values_in(str(err.value), text)


def test_every_tolerated_input_is_an_official_error() -> None:
    official_errors = {c["input"] for c in ERROR_CASES}
    assert set(TOLERATED) <= official_errors


def test_none_is_no_connection_string_for_resolve_but_an_error_for_parse() -> None:
    # Official: "Instrumentation key cannot be none or empty". README: missing means telemetry
    # off with one warning, so resolve() says "nothing configured" and the caller warns.
    assert ConnectionString.resolve(None, environ={}) is None
    with pytest.raises(ConfigurationError, match="must be a str"):
        ConnectionString.parse(None)  # type: ignore[arg-type]


# --- environment precedence (the golden "env precedence" block) -----------------------------

ENV_CS = "InstrumentationKey=22222222-2222-2222-2222-222222222222;IngestionEndpoint=https://env.example/"


def _env_for(case: Mapping[str, Any]) -> Dict[str, str]:
    # The block records results only; these are the environments it was measured with.
    if case.get("env_cs_without_ikey+APPINSIGHTS_INSTRUMENTATIONKEY"):
        return {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": "IngestionEndpoint=https://env.example/",
            "APPINSIGHTS_INSTRUMENTATIONKEY": "33333333-3333-3333-3333-333333333333",
        }
    return {"APPLICATIONINSIGHTS_CONNECTION_STRING": ENV_CS}


@pytest.mark.parametrize("case", GOLDEN["env"], ids=lambda c: str(c["input"]))
def test_golden_env_precedence(case: Mapping[str, Any]) -> None:
    cs = ConnectionString.resolve(case["input"], environ=_env_for(case))
    assert cs is not None
    assert cs.instrumentation_key == case["ikey"]
    assert cs.ingestion_endpoint == case["endpoint"].rstrip("/")
    if "live" in case:
        assert cs.live_endpoint == case["live"]


def test_resolve_reads_the_environment_when_no_text() -> None:
    cs = ConnectionString.resolve(None, environ={"APPLICATIONINSIGHTS_CONNECTION_STRING": f"InstrumentationKey={IKEY}"})
    assert cs == ConnectionString(IKEY)


def test_resolve_explicit_text_wins_per_key() -> None:
    env = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": ENV_CS + ";ApplicationId=env-app",
        "APPINSIGHTS_INSTRUMENTATIONKEY": "33333333-3333-3333-3333-333333333333",
    }
    cs = ConnectionString.resolve(f"InstrumentationKey={IKEY};IngestionEndpoint=https://code.example", environ=env)
    assert cs is not None
    assert (cs.instrumentation_key, cs.ingestion_endpoint, cs.application_id) == (IKEY, "https://code.example", "env-app")


def test_resolve_falls_back_to_the_legacy_instrumentation_key_variable() -> None:
    cs = ConnectionString.resolve(None, environ={"APPINSIGHTS_INSTRUMENTATIONKEY": " 33333333-3333-3333-3333-333333333333 "})
    assert cs == ConnectionString("33333333-3333-3333-3333-333333333333")


@pytest.mark.parametrize("blank", ["", "   "])
def test_resolve_treats_blank_values_as_unset(blank: str) -> None:
    env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": blank, "APPINSIGHTS_INSTRUMENTATIONKEY": blank}
    assert ConnectionString.resolve(blank, environ=env) is None
    assert ConnectionString.resolve(None, environ=env) is None


def test_resolve_blank_text_falls_back_to_env() -> None:
    env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": ENV_CS}
    cs = ConnectionString.resolve("", environ=env)
    assert cs is not None and cs.instrumentation_key.startswith("2222")


def test_resolve_error_names_the_environment_variable_not_its_value() -> None:
    env = {"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=not-a-guid-secret"}
    with pytest.raises(ConfigurationError) as err:
        ConnectionString.resolve(None, environ=env)
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in str(err.value)
    assert "not-a-guid-secret" not in str(err.value)


def test_resolve_bad_legacy_key_names_its_variable() -> None:
    with pytest.raises(ConfigurationError, match="^APPINSIGHTS_INSTRUMENTATIONKEY is not a GUID"):
        ConnectionString.resolve(None, environ={"APPINSIGHTS_INSTRUMENTATIONKEY": "nope-nope"})


def test_resolve_rejects_a_non_string() -> None:
    with pytest.raises(ConfigurationError, match="connection_string must be a str.*got bytes"):
        ConnectionString.resolve(b"InstrumentationKey=x", environ={})  # type: ignore[arg-type]


# --- tolerant input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"InstrumentationKey={IKEY};IngestionEndpoint=https://x.example/;",
        f";;InstrumentationKey={IKEY} ; IngestionEndpoint = https://x.example/ ;",
        f"\n  InstrumentationKey={IKEY};\n  IngestionEndpoint=https://x.example///\n",
        f"instrumentationkey={IKEY.upper()};ingestionendpoint=https://x.example",
        f"InstrumentationKey={{{IKEY}}};IngestionEndpoint=https://x.example",
    ],
)
def test_tolerant_spellings_parse_to_the_same_value(text: str) -> None:
    assert ConnectionString.parse(text) == ConnectionString(IKEY, ingestion_endpoint="https://x.example")


def test_equals_sign_inside_a_value_is_kept() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY};ApplicationId=abc==;AADAudience=https://a.example/.default?x=y")
    assert cs.application_id == "abc=="
    assert cs.aad_audience == "https://a.example/.default?x=y"


def test_trailing_slash_is_stripped_so_the_track_url_has_one_slash() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY};IngestionEndpoint=https://host.example/prefix/")
    assert cs.ingestion_endpoint == "https://host.example/prefix"
    assert cs.track_url == "https://host.example/prefix/v2.1/track"


def test_default_endpoints_and_track_url() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY}")
    assert cs.ingestion_endpoint == DEFAULT_INGESTION_ENDPOINT
    assert cs.live_endpoint == DEFAULT_LIVE_ENDPOINT
    assert cs.track_url == "https://dc.services.visualstudio.com/v2.1/track"


def test_region_of_a_regional_endpoint() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/")
    assert cs.region == "westeurope"


def test_endpoint_suffix_with_location() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY};EndpointSuffix=applicationinsights.azure.cn;Location=chinaeast2")
    assert cs.ingestion_endpoint == "https://chinaeast2.dc.applicationinsights.azure.cn"
    assert cs.live_endpoint == "https://chinaeast2.live.applicationinsights.azure.cn"


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8990", "http://[::1]:8990", "https://my_emulator:8990", "HTTPS://Host.Example"])
def test_local_and_unusual_but_valid_endpoints_are_accepted(endpoint: str) -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY};IngestionEndpoint={endpoint}/")
    assert cs.ingestion_endpoint == endpoint


def test_authorization_ikey_is_accepted_in_any_case() -> None:
    assert ConnectionString.parse(f"InstrumentationKey={IKEY};Authorization=IKey").instrumentation_key == IKEY


def test_unknown_keys_are_ignored() -> None:
    assert ConnectionString.parse(f"InstrumentationKey={IKEY};Foo=bar") == ConnectionString(IKEY)


def test_last_duplicate_key_wins() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY};InstrumentationKey={SECRET_KEY}")
    assert cs.instrumentation_key == SECRET_KEY


# --- precise errors ---------------------------------------------------------------------------


def _error(text: str) -> str:
    with pytest.raises(ConfigurationError) as err:
        ConnectionString.parse(text)
    message = str(err.value)
    _assert_no_values_in(message, text)
    assert SECRET_KEY not in message and SECRET_KEY.upper() not in message
    return message


def test_missing_instrumentation_key_is_named() -> None:
    message = _error("IngestionEndpoint=https://x.example")
    assert "no InstrumentationKey" in message


def test_empty_instrumentation_key_is_missing() -> None:
    assert "no InstrumentationKey" in _error("InstrumentationKey=;IngestionEndpoint=https://x.example")


@pytest.mark.parametrize(
    "key",
    [SECRET_KEY[:-1], SECRET_KEY + "0", SECRET_KEY.replace("-", ""), "{" + SECRET_KEY, SECRET_KEY + "}", "urn:uuid:" + SECRET_KEY, SECRET_KEY.replace("a", "g")],
)
def test_key_that_is_not_a_guid_is_rejected_without_echoing_it(key: str) -> None:
    message = _error(f"InstrumentationKey={key}")
    assert "InstrumentationKey in the connection string is not a GUID" in message
    assert key not in message


@pytest.mark.parametrize("auth", ["AAD", "aad", "Bearer", "ikey2"])
def test_unknown_authorization_is_rejected(auth: str) -> None:
    message = _error(f"InstrumentationKey={SECRET_KEY};Authorization={auth}")
    assert "unsupported Authorization" in message and "only 'ikey'" in message
    assert "'credential' option" in message


@pytest.mark.parametrize(
    "endpoint,problem",
    [
        ("ftp://files.example", "http:// or https://"),
        ("dc.services.visualstudio.com", "http:// or https://"),
        ("https://:443", "no host"),
        ("https:///path", "no host"),
        ("https://host.example:99999", "port"),
        ("https://host.example:abc", "port"),
        ("https://ho st.example", "whitespace"),
        ("https://host.example/?x=1", "query string"),
        ("https://host.example/#frag", "query string"),
        ("https://user:pw@host.example", "credentials"),
        ("https://a=b/", "host name"),
        ("https://[zz::1]/", "IPv6"),
    ],
)
def test_bad_endpoint_url_is_rejected_naming_the_key(endpoint: str, problem: str) -> None:
    message = _error(f"InstrumentationKey={SECRET_KEY};IngestionEndpoint={endpoint}")
    assert message.startswith("IngestionEndpoint in the connection string is not a valid endpoint URL")
    assert problem in message


def test_bad_live_endpoint_is_named() -> None:
    message = _error(f"InstrumentationKey={SECRET_KEY};LiveEndpoint=nonsense")
    assert message.startswith("LiveEndpoint in the connection string")


def test_bad_endpoint_suffix_is_named() -> None:
    message = _error(f"InstrumentationKey={SECRET_KEY};EndpointSuffix=bad suffix")
    assert message.startswith("EndpointSuffix in the connection string")


@pytest.mark.parametrize("text,position", [(f"InstrumentationKey={SECRET_KEY};garbage", 2), ("justgarbage", 1), (f"={SECRET_KEY}", 1)])
def test_segment_without_key_value_is_rejected_by_position(text: str, position: int) -> None:
    message = _error(text)
    assert f"part {position} is not Key=Value" in message


def test_empty_string_is_rejected() -> None:
    assert "empty" in _error("   ")


def test_errors_are_value_errors_for_official_compatibility() -> None:
    with pytest.raises(ValueError):
        ConnectionString.parse("InstrumentationKey=x")


# --- never leaking the key --------------------------------------------------------------------


def test_repr_masks_the_key() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={SECRET_KEY};IngestionEndpoint=https://x.example")
    text = repr(cs)
    assert SECRET_KEY not in text and SECRET_KEY[:8] not in text
    assert "********-****-****-****-********5a69" in text
    assert "https://x.example" in text
    assert str(cs) == text


def test_is_frozen_and_hashable() -> None:
    cs = ConnectionString.parse(f"InstrumentationKey={IKEY}")
    with pytest.raises(AttributeError):
        cs.instrumentation_key = SECRET_KEY  # type: ignore[misc]
    assert hash(cs) == hash(ConnectionString.parse(f"InstrumentationKey={IKEY.upper()}"))
