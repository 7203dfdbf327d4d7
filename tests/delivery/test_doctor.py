"""``python -m ai_core doctor`` as users run it: a real subprocess, real HTTP to the emulator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from ai_core.delivery.storage import LocalStorage
from ai_core.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
IKEY = "0a1b2c3d-4e5f-4a6b-8c7d-0123456789ab"
MASKED = "********-****-****-****-********89ab"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
posix_only = pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="POSIX file system semantics")

# Variables that would make the doctor read something other than what a test sets up.
_STRIP_PREFIXES = ("APPLICATIONINSIGHTS_", "APPINSIGHTS_", "OTEL_")
_STRIP = {"DJANGO_SETTINGS_MODULE", "FLASK_APP", "PYTHONPATH", "TMPDIR", "TEMP", "TMP"}


def connection_string(endpoint: str, ikey: str = IKEY) -> str:
    return "InstrumentationKey=%s;IngestionEndpoint=%s" % (ikey, endpoint)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(port=0, db=":memory:") as emulator:
        yield emulator


@pytest.fixture
def run_doctor(tmp_path: Path):
    """Run ``python -m ai_core doctor ARGS`` with a clean environment; TMPDIR is the test's own
    directory, so the default storage directory is looked for there."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    def run(*args: str, env: Optional[Dict[str, str]] = None, encoding: str = "utf-8",
            command: Optional[List[str]] = None) -> subprocess.CompletedProcess:
        full = {
            k: v for k, v in os.environ.items()
            if not k.startswith(_STRIP_PREFIXES) and k not in _STRIP and "proxy" not in k.lower()
        }
        full.update({"TMPDIR": str(tmp), "PYTHONIOENCODING": encoding, "PYTHONPATH": str(tmp_path)})
        full.update(env or {})
        argv = command if command is not None else ["doctor", *args]
        return subprocess.run(
            [sys.executable, "-m", "ai_core", *argv], cwd=str(ROOT), env=full,
            capture_output=True, text=True, encoding=encoding, errors="replace", timeout=60,
        )

    run.tmp = tmp  # type: ignore[attr-defined]
    return run


def write_module(tmp_path: Path, dotted: str, source: str) -> None:
    """Write ``dotted`` (e.g. 'mysite.settings') under tmp_path, with package __init__ files."""
    parts = dotted.split(".")
    directory = tmp_path
    for package in parts[:-1]:
        directory = directory / package
        directory.mkdir(exist_ok=True)
        (directory / "__init__.py").touch()
    (directory / (parts[-1] + ".py")).write_text(textwrap.dedent(source))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def traces(emu: Emulator) -> List[dict]:
    return emu.items(type="trace")


# -- the connection string from the environment ------------------------------------------------


def test_all_good_sends_one_test_item_that_arrives(emu: Emulator, run_doctor) -> None:
    result = run_doctor(env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(emu.url)})

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "\u2714 connection string: from APPLICATIONINSIGHTS_CONNECTION_STRING (key %s)" % MASKED in out
    assert "\u2714 ingestion endpoint: %s (track URL %s/v2.1/track)" % (emu.url, emu.url) in out
    assert "\u2714 instrumentations available:" in out and "urllib" in out
    assert "sending one test item to %s/v2.1/track ..." % emu.url in out
    assert "\u2714 endpoint answered 200: 1 item accepted" in out
    assert "\u2718" not in out
    assert IKEY not in out + result.stderr

    (item,) = traces(emu)
    assert item["name"] == "appinsights-otel doctor: test item"
    assert item["severity"] == 1
    assert item["role"] == "ai_core-doctor"
    assert item["ikey"] == IKEY
    assert item["envelope"]["tags"]["ai.internal.sdkVersion"].startswith(("u", "a", "f", "k"))
    assert ":aio" in item["envelope"]["tags"]["ai.internal.sdkVersion"]
    assert item["envelope"]["data"]["baseType"] == "MessageData"
    assert emu.rejected() == []


def test_default_storage_directory_is_inspected_not_created(emu: Emulator, run_doctor) -> None:
    cs = connection_string(emu.url)
    result = run_doctor("--no-send", env={"APPLICATIONINSIGHTS_CONNECTION_STRING": cs})

    assert result.returncode == 0, result.stdout + result.stderr
    tmp = run_doctor.tmp
    assert "offline storage: %s" % tmp in result.stdout
    assert "does not exist yet" in result.stdout
    assert list(tmp.iterdir()) == []  # nothing created, not even the per-user level


def test_no_send_sends_nothing(emu: Emulator, run_doctor) -> None:
    result = run_doctor("--no-send", env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(emu.url)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "test item not sent (--no-send)" in result.stdout
    assert traces(emu) == []


def test_missing_connection_string_says_telemetry_is_off(run_doctor) -> None:
    result = run_doctor()

    assert result.returncode == 1
    assert "\u2718 connection string: not set, so the app sends no telemetry at all" in result.stdout
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in result.stdout
    assert "test item not sent" in result.stdout


@pytest.mark.parametrize(
    "text, problem",
    [
        ("InstrumentationKey=%s-nope;IngestionEndpoint=http://127.0.0.1:1" % IKEY,
         "InstrumentationKey in APPLICATIONINSIGHTS_CONNECTION_STRING is not a GUID"),
        ("InstrumentationKey=%s;IngestionEndpoint=ftp://example.com" % IKEY,
         "IngestionEndpoint in APPLICATIONINSIGHTS_CONNECTION_STRING is not a valid endpoint URL: "
         "it must start with http:// or https://"),
        ("IngestionEndpoint=https://example.com", "the connection string has no InstrumentationKey"),
        ("%s" % IKEY, "APPLICATIONINSIGHTS_CONNECTION_STRING is malformed: part 1 is not Key=Value"),
    ],
)
def test_bad_connection_string_names_the_problem_without_echoing_the_key(run_doctor, text: str, problem: str) -> None:
    result = run_doctor(env={"APPLICATIONINSIGHTS_CONNECTION_STRING": text})

    assert result.returncode == 1
    assert "\u2718 connection string: " + problem in result.stdout
    assert IKEY not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "sending one test item" not in result.stdout


def test_connection_string_argument_wins_and_is_never_echoed(emu: Emulator, run_doctor) -> None:
    dead = "http://127.0.0.1:%d" % free_port()
    result = run_doctor(
        "--connection-string", connection_string(emu.url),
        env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(dead, "ffffffff-ffff-ffff-ffff-ffffffffffff")},
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "connection string: from --connection-string" in result.stdout
    assert MASKED in result.stdout and IKEY not in result.stdout
    assert len(traces(emu)) == 1


def test_bad_connection_string_argument_is_named_as_such(run_doctor) -> None:
    result = run_doctor("--connection-string", "InstrumentationKey=%s;IngestionEndpoint=http://exa mple" % IKEY)

    assert result.returncode == 1
    assert "\u2718 connection string: --connection-string in the command line: IngestionEndpoint in the " \
           "connection string is not a valid endpoint URL: it contains whitespace" in result.stdout
    assert IKEY not in result.stdout + result.stderr


# -- the endpoint's answers --------------------------------------------------------------------


def test_unreachable_endpoint(run_doctor) -> None:
    dead = "http://127.0.0.1:%d" % free_port()
    result = run_doctor("--timeout", "5", env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(dead)})

    assert result.returncode == 1
    assert "\u2718 could not reach %s/v2.1/track: " % dead in result.stdout
    assert "refused" in result.stdout.lower()
    assert "1 problem found" in result.stdout


@pytest.mark.parametrize(
    "fault, expected, hint",
    [
        ({"status": 400, "message": "Invalid instrumentation key"},
         "\u2718 endpoint answered 400: Invalid instrumentation key", "copy the connection string again"),
        ({"status": 503}, "\u2718 endpoint answered 503: the endpoint is having trouble", "transient"),
        ({"status": 503, "retry_after": 7}, "\u2718 endpoint answered 503: the endpoint is having trouble (Retry-After: 7)",
         "transient"),
        ({"status": 401}, "\u2718 endpoint answered 401", "credential option"),
        ({"status": 403}, "\u2718 endpoint answered 403", "Entra ID"),
        ({"status": 429, "retry_after": 3}, "\u2718 endpoint answered 429: throttled: too many requests (Retry-After: 3)",
         "sampling_ratio"),
        ({"status": 439}, "\u2718 endpoint answered 439: daily quota exceeded", "Daily cap"),
        ({"status": 206, "item_status": [400]}, "\u2718 endpoint answered 206: 0 of 1 item accepted", None),
    ],
)
def test_endpoint_failures_are_shown_with_a_hint(emu: Emulator, run_doctor, fault: dict, expected: str,
                                                 hint: Optional[str]) -> None:
    emu.add_fault(**fault)
    result = run_doctor(env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(emu.url)})

    assert result.returncode == 1, result.stdout
    assert expected in result.stdout, result.stdout
    if hint:
        assert hint in result.stdout
    assert IKEY not in result.stdout + result.stderr


def test_item_rejected_by_validation_shows_the_message(emu: Emulator, run_doctor) -> None:
    # A key the emulator cannot accept is not possible (it takes any GUID), so reject the whole
    # batch the way the service does for a bad body: the 400's errors[].message is shown.
    emu.add_fault(status=400, message="data.baseData.message: required")
    result = run_doctor(env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(emu.url)})

    assert result.returncode == 1
    assert "\u2718 endpoint answered 400: data.baseData.message: required" in result.stdout
    assert result.stdout.count("data.baseData.message: required") == 1  # one line per distinct message


# -- Django settings and Flask apps ------------------------------------------------------------


def test_django_settings_module_is_read(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_site.settings", """
        INSTALLED_APPS = ["django_ai"]
        APPLICATION_INSIGHTS = {
            "CONNECTION_STRING": %r,
            "SAMPLING_RATIO": 0.25,
            "ROLE_NAME": "shop",
        }
    """ % connection_string(emu.url))
    result = run_doctor("--django-settings", "doc_site.settings")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "reading Django settings doc_site.settings" in out
    assert "connection string: from CONNECTION_STRING in settings.APPLICATION_INSIGHTS (key %s)" % MASKED in out
    assert "\u2714 options: 3 set in settings.APPLICATION_INSIGHTS, all valid" in out
    assert "! sampling_ratio: 0.25: only 25% of traces are kept" in out
    assert len(traces(emu)) == 1


def test_django_settings_module_from_environment(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_env_settings", "APPLICATION_INSIGHTS = {'CONNECTION_STRING': %r}\n"
                 % connection_string(emu.url))
    result = run_doctor(env={"DJANGO_SETTINGS_MODULE": "doc_env_settings"})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Django settings doc_env_settings (from DJANGO_SETTINGS_MODULE)" in result.stdout
    assert len(traces(emu)) == 1


def test_django_bad_options_are_reported_with_the_django_spelling(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_bad_settings", """
        APPLICATION_INSIGHTS = {
            "CONNECTION_STRING": %r,
            "SAMPLING_RATIO": 1.5,
            "EXCLUDED_URLS": "^/health$",
            "SAMPLNG_RATIO": 0.5,
        }
    """ % connection_string(emu.url))
    result = run_doctor("--django-settings", "doc_bad_settings")

    assert result.returncode == 1
    out = result.stdout
    assert "\u2718 sampling_ratio: SAMPLING_RATIO in settings.APPLICATION_INSIGHTS" in out
    assert "\u2718 excluded_urls: EXCLUDED_URLS in settings.APPLICATION_INSIGHTS must be a list" in out
    assert "unknown key 'SAMPLNG_RATIO'; did you mean 'SAMPLING_RATIO'?" in out
    assert "3 problems found" in out
    # The endpoint is still tested: the connection string itself is fine.
    assert "\u2714 endpoint answered 200" in out
    assert len(traces(emu)) == 1


def test_django_bad_connection_string_in_settings(run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_badcs_settings",
                 "APPLICATION_INSIGHTS = {'CONNECTION_STRING': 'InstrumentationKey=%s-x'}\n" % IKEY)
    result = run_doctor("--django-settings", "doc_badcs_settings")

    assert result.returncode == 1
    assert "\u2718 connection string: CONNECTION_STRING in settings.APPLICATION_INSIGHTS: InstrumentationKey " \
           "in the connection string is not a GUID" in result.stdout
    assert IKEY not in result.stdout + result.stderr


def test_django_settings_that_cannot_be_imported(run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_broken_settings", "import does_not_exist_anywhere\n")
    result = run_doctor("--django-settings", "doc_broken_settings")
    assert result.returncode == 1
    assert "\u2718 configuration: cannot import the Django settings module doc_broken_settings: " \
           "ModuleNotFoundError: No module named 'does_not_exist_anywhere'" in result.stdout

    result = run_doctor("--django-settings", "no_such_settings_module")
    assert result.returncode == 1
    assert "cannot import the Django settings module no_such_settings_module" in result.stdout
    assert "PYTHONPATH" in result.stdout


def test_django_settings_without_the_setting_fall_back_to_the_environment(emu: Emulator, run_doctor,
                                                                          tmp_path: Path) -> None:
    write_module(tmp_path, "doc_plain_settings", "DEBUG = True\n")
    result = run_doctor("--django-settings", "doc_plain_settings",
                        env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(emu.url)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "it has no APPLICATION_INSIGHTS setting" in result.stdout
    assert "connection string: from APPLICATIONINSIGHTS_CONNECTION_STRING" in result.stdout


FLASK_APP = """
    from flask import Flask

    app = Flask("doc_shop")
    app.config["APPLICATION_INSIGHTS_CONNECTION_STRING"] = %r
    app.config["APPLICATION_INSIGHTS_EXCLUDED_URLS"] = ["^/health$"]
    %s
"""


def test_flask_app_config_is_read(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_flask_ok", FLASK_APP % (connection_string(emu.url), ""))
    result = run_doctor("--flask-app", "doc_flask_ok:app")

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "reading Flask app doc_flask_ok:app" in out
    assert "connection string: from APPLICATION_INSIGHTS_CONNECTION_STRING in app.config (key %s)" % MASKED in out
    assert "\u2714 options: 2 set in app.config, all valid" in out
    assert len(traces(emu)) == 1


def test_flask_app_factory(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_flask_factory", """
        from flask import Flask

        def create_app():
            app = Flask("doc_factory")
            app.config["APPLICATION_INSIGHTS_CONNECTION_STRING"] = %r
            return app
    """ % connection_string(emu.url))
    for spec in ("doc_flask_factory", "doc_flask_factory:create_app()"):
        result = run_doctor("--flask-app", spec, "--no-send")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "connection string: from APPLICATION_INSIGHTS_CONNECTION_STRING in app.config" in result.stdout


def test_flask_bad_option_is_reported_with_the_flask_spelling(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    extra = ('app.config["APPLICATION_INSIGHTS_TRUSTED_PROXIES"] = ["10.0.0.1/8"]\n'
             '    app.config["APPLICATION_INSIGHTS_LOGING_LEVEL"] = "INFO"')
    write_module(tmp_path, "doc_flask_bad", FLASK_APP % (connection_string(emu.url), extra))
    result = run_doctor("--flask-app", "doc_flask_bad:app")

    assert result.returncode == 1
    out = result.stdout
    assert ("\u2718 trusted_proxies: APPLICATION_INSIGHTS_TRUSTED_PROXIES in app.config: '10.0.0.1/8' is not a "
            "network in CIDR notation") in out
    assert "did you mean '10.0.0.0/8'?" in out
    assert "unknown key 'APPLICATION_INSIGHTS_LOGING_LEVEL'; did you mean 'APPLICATION_INSIGHTS_LOGGING_LEVEL'?" in out
    assert len(traces(emu)) == 1


def test_flask_app_that_is_not_there(run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_flask_none", "x = 1\n")
    result = run_doctor("--flask-app", "doc_flask_none:app")
    assert result.returncode == 1
    assert "\u2718 configuration: module doc_flask_none has no attribute 'app'" in result.stdout


# -- offline storage ---------------------------------------------------------------------------


def _settings_with_storage(tmp_path: Path, name: str, endpoint: str, directory: Path) -> None:
    write_module(tmp_path, name, "APPLICATION_INSIGHTS = {'CONNECTION_STRING': %r, 'STORAGE_DIRECTORY': %r}\n"
                 % (connection_string(endpoint), str(directory)))


@posix_only
def test_storage_directory_that_is_a_symlink_is_refused(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    link = tmp_path / "store-link"
    link.symlink_to(target)
    _settings_with_storage(tmp_path, "doc_symlink_settings", emu.url, link)
    result = run_doctor("--django-settings", "doc_symlink_settings")

    assert result.returncode == 1
    assert "\u2718 offline storage: refused: offline storage directory %s is a symbolic link, which is never " \
           "followed" % link in result.stdout
    assert list(target.iterdir()) == []
    assert "\u2714 endpoint answered 200" in result.stdout  # telemetry is still sent without storage


@posix_only
def test_default_per_user_directory_that_is_a_symlink_is_refused(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    cs = connection_string(emu.url)
    # Where the app would put it, under the TMPDIR the doctor runs with.
    script = ("import tempfile, sys; tempfile.tempdir = sys.argv[1]; "
              "from ai_core.delivery.storage import default_storage_directory as d; "
              "print(d(%r))" % ("%s;%s" % (IKEY, emu.url)))
    directory = subprocess.run([sys.executable, "-c", script, str(run_doctor.tmp)], capture_output=True,
                               text=True, check=True).stdout.strip()
    per_user = Path(directory).parent
    (tmp_path / "attacker").mkdir()
    per_user.symlink_to(tmp_path / "attacker")
    result = run_doctor("--no-send", env={"APPLICATIONINSIGHTS_CONNECTION_STRING": cs})

    assert result.returncode == 1
    assert "\u2718 offline storage: refused: offline storage directory %s is a symbolic link" % per_user in result.stdout


def test_storage_directory_with_waiting_blobs(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    store = tmp_path / "store"
    LocalStorage(str(store)).put([{"name": "x", "data": {}}, {"name": "y", "data": {}}])
    _settings_with_storage(tmp_path, "doc_blob_settings", emu.url, store)
    result = run_doctor("--django-settings", "doc_blob_settings", "--no-send")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "\u2714 offline storage: %s (writable, 0700, 1 blob waiting (" % store in result.stdout


def test_storage_directory_that_is_a_file_is_refused(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    store = tmp_path / "store-file"
    store.write_text("not a directory")
    _settings_with_storage(tmp_path, "doc_file_settings", emu.url, store)
    result = run_doctor("--django-settings", "doc_file_settings", "--no-send")

    assert result.returncode == 1
    assert "\u2718 offline storage: refused: offline storage directory %s exists and is not a directory" % store \
        in result.stdout


@pytest.mark.skipif(not IS_ROOT, reason="needs root to chown to another user")
def test_storage_directory_of_another_user_is_refused(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    store = tmp_path / "theirs"
    store.mkdir(mode=0o700)
    os.chown(store, 65534, 65534)
    _settings_with_storage(tmp_path, "doc_other_settings", emu.url, store)
    result = run_doctor("--django-settings", "doc_other_settings", "--no-send")

    assert result.returncode == 1
    assert "refused: offline storage directory %s is owned by another user (uid 65534" % store in result.stdout


def test_disabled_offline_storage(emu: Emulator, run_doctor, tmp_path: Path) -> None:
    write_module(tmp_path, "doc_nodisk_settings", "APPLICATION_INSIGHTS = {'CONNECTION_STRING': %r, "
                 "'DISABLE_OFFLINE_STORAGE': True}\n" % connection_string(emu.url))
    result = run_doctor("--django-settings", "doc_nodisk_settings", "--no-send")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "\u2714 offline storage: disabled (disable_offline_storage=True)" in result.stdout


# -- output and usage --------------------------------------------------------------------------


def test_plain_ascii_when_stdout_is_not_utf8(emu: Emulator, run_doctor) -> None:
    emu.add_fault(status=503)
    result = run_doctor(env={"APPLICATIONINSIGHTS_CONNECTION_STRING": connection_string(emu.url)}, encoding="ascii")

    assert result.returncode == 1
    assert "[ok] connection string: from APPLICATIONINSIGHTS_CONNECTION_STRING" in result.stdout
    assert "[FAIL] endpoint answered 503" in result.stdout
    assert result.stdout.isascii()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["nonsense"],
        ["doctor", "--django-settings", "a.settings", "--flask-app", "b:app"],
        ["doctor", "--timeout", "-1"],
        ["doctor", "--no-such-option"],
    ],
)
def test_usage_errors_exit_2(run_doctor, command: List[str]) -> None:
    result = run_doctor(command=command)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "usage: python -m ai_core" in result.stderr


def test_help_says_why(run_doctor) -> None:
    result = run_doctor("--help")
    assert result.returncode == 0
    assert "sends ONE test item" in result.stdout
    assert "--django-settings" in result.stdout and "django.setup() is not called" in result.stdout
    assert "Exit code: 0 all checks passed, 1 a check failed, 2 usage error." in result.stdout
    top = run_doctor(command=["--help"])
    assert "doctor" in top.stdout and "check the configuration the app would use" in top.stdout


CREDENTIAL_SETTINGS = """
    class Token:
        token = "SECRET-TOKEN-" + "0123456789"
        expires_on = 4102444800

    class FakeCredential:
        def get_token(self, *scopes):
            return Token()

    APPLICATION_INSIGHTS = {"CONNECTION_STRING": %r, "CREDENTIAL": FakeCredential()}
"""


def test_credential_over_plain_http_is_refused_and_no_token_is_shown(emu: Emulator, run_doctor,
                                                                     tmp_path: Path) -> None:
    write_module(tmp_path, "doc_cred_settings", CREDENTIAL_SETTINGS % connection_string(emu.url))
    result = run_doctor("--django-settings", "doc_cred_settings")

    assert result.returncode == 1
    out = result.stdout
    assert "\u2718 authentication: a credential is set but the endpoint is plain http" in out
    assert "\u2718 test item not sent: refusing to send an Entra ID bearer token over plain http" in out
    assert "SECRET-TOKEN" not in out + result.stderr
    assert traces(emu) == []


def test_credential_with_https_endpoint_names_the_scope(run_doctor, tmp_path: Path) -> None:
    cs = connection_string("https://westeurope-5.in.applicationinsights.azure.com/")
    write_module(tmp_path, "doc_cred_https_settings", CREDENTIAL_SETTINGS % cs)
    result = run_doctor("--django-settings", "doc_cred_https_settings", "--no-send")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "\u2714 authentication: Entra ID via FakeCredential (scope https://monitor.azure.com/.default)" \
        in result.stdout
    assert "track URL https://westeurope-5.in.applicationinsights.azure.com/v2.1/track" in result.stdout
    assert "SECRET-TOKEN" not in result.stdout + result.stderr


@pytest.mark.parametrize("endpoint, warned", [
    ("http://127.0.0.1:8990", False),
    ("http://localhost:8990", False),
    ("http://[::1]:8990", False),
    ("http://127.attacker.example", True),  # a name that merely starts with "127." is no loopback
    ("http://ingest.example.com", True),
])
def test_plain_http_is_noted_unless_the_endpoint_is_loopback(endpoint: str, warned: bool) -> None:
    import io

    from ai_core.doctor.checks import check_endpoint
    from ai_core.doctor.report import Checklist
    from ai_core.options import resolve_options

    cs = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=" + endpoint
    out = io.StringIO()
    check_endpoint(resolve_options({"connection_string": cs}, environ={}), Checklist(out))
    assert ("plain http" in out.getvalue()) == warned, out.getvalue()
