"""configure(): fast, offline, idempotent, one log handler, clear errors."""

import json

import pytest

from subprocess_helpers import run_python

CS = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9"


def test_configure_takes_milliseconds_and_makes_no_network_call():
    # An audit hook sees every socket connect and DNS lookup the interpreter makes.
    out = run_python(
        f"""
        import sys, time, json
        seen = []
        def hook(event, args):
            if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"):
                seen.append([event, repr(args)[:200]])
        sys.addaudithook(hook)
        import ai_core
        t = time.time()
        tel = ai_core.configure(connection_string={CS!r})
        elapsed = time.time() - t
        print(json.dumps({{"elapsed": elapsed, "network": seen, "enabled": tel.enabled}}))
        """
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["enabled"] is True
    assert result["network"] == []
    assert result["elapsed"] < 0.5, result


def test_second_configure_with_same_options_returns_the_same_handle():
    out = run_python(
        f"""
        import logging, ai_core
        a = ai_core.configure(connection_string={CS!r}, sampling_ratio=0.5)
        b = ai_core.configure(connection_string={CS!r}, sampling_ratio=0.5)
        handlers = [h for h in logging.getLogger().handlers if type(h).__name__ == "ApplicationInsightsLogHandler"]
        print(a is b, len(handlers))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "1"]


def test_second_configure_with_different_options_names_the_difference():
    out = run_python(
        f"""
        import ai_core
        ai_core.configure(connection_string={CS!r}, sampling_ratio=0.5)
        try:
            ai_core.configure(connection_string={CS!r}, sampling_ratio=0.25)
        except ai_core.ConfigurationError as exc:
            print("ERROR", exc)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR")
    assert "sampling_ratio" in out.stdout
    assert "already called" in out.stdout


def test_missing_connection_string_turns_telemetry_off_with_one_warning():
    out = run_python(
        """
        import ai_core, logging
        logging.basicConfig()
        tel = ai_core.configure()
        ai_core.configure()
        ai_core.track_event("ignored")
        print("enabled", tel.enabled)
        """
    )
    assert out.returncode == 0, out.stderr
    assert "enabled False" in out.stdout
    assert out.stderr.count("no connection string") == 1


def test_malformed_connection_string_fails_at_start_without_echoing_the_key():
    out = run_python(
        """
        import ai_core
        try:
            ai_core.configure(connection_string="InstrumentationKey=secret-not-a-guid-1234;IngestionEndpoint=https://x")
        except ai_core.ConfigurationError as exc:
            print("ERROR", exc)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR")
    assert "secret-not-a-guid-1234" not in out.stdout
    assert "InstrumentationKey" in out.stdout


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ("sampling_ratio=1.5", "sampling_ratio"),
        ("sampling_ration=0.5", "sampling_ratio"),  # a typo gets a suggestion
        ("excluded_urls=['(']", "excluded_urls"),
        ("trusted_proxies='lots'", "trusted_proxies"),
        ("logging_level='LOUD'", "logging_level"),
    ],
)
def test_bad_options_raise_configuration_error_naming_the_option(kwargs, expected):
    out = run_python(
        f"""
        import ai_core
        try:
            ai_core.configure(connection_string={CS!r}, {kwargs})
        except ai_core.ConfigurationError as exc:
            print("ERROR", exc)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR"), out.stdout
    assert expected in out.stdout


def test_enabled_false_builds_nothing():
    # Threads compared as sets, before and after configure() and again after a first span and
    # log record (the export thread starts on the first item, so a count taken right after
    # configure() would pass even if disabling did nothing).
    out = run_python(
        f"""
        import ai_core, logging, threading
        from opentelemetry import trace
        new = lambda: sorted(t.name for t in set(threading.enumerate()) - before)
        before = set(threading.enumerate())
        tel = ai_core.configure(connection_string={CS!r}, enabled=False)
        print(tel.enabled, new())
        with trace.get_tracer("t").start_as_current_span("first"):
            logging.getLogger("app").warning("first record")
        tel.force_flush(5)
        print(new())
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["False []", "[]"]


def test_a_logging_level_below_the_loggers_own_level_is_explained_once():
    out = run_python(
        f"""
        import ai_core
        ai_core.configure(connection_string={CS!r}, logging_level="INFO", disable_offline_storage=True)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("logging_level is INFO, but logger 'root' only passes WARNING") == 1
