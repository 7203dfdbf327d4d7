"""Setup from an app's options: the role default, one handle per process, errors that name the
setting as the user wrote it (the adapter's label), and the per-app request rules."""

import json

import pytest

from ai_core.emulator import Emulator
from ai_core.errors import ConfigurationError
from ai_core.web.setup import setup_web
from subprocess_helpers import run_python

from django_ai import options as django_options
from flask_ai import options as flask_options


def django_setup(settings, **kwargs):
    """What django_ai does with settings.APPLICATION_INSIGHTS."""
    return setup_web(django_options.options_from_settings(settings), django_options.label, django_options.SOURCE,
                     **kwargs)


def flask_setup(config, **kwargs):
    """What flask_ai does with app.config."""
    return setup_web(flask_options.options_from_config(config), flask_options.label, flask_options.SOURCE, **kwargs)

SERVE = """
import json, ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from ai_core.web.setup import setup_web
from django_ai import options as django_options
from flask_ai import options as flask_options


def django_setup(settings, **kwargs):
    return setup_web(django_options.options_from_settings(settings), django_options.label, django_options.SOURCE,
                     **kwargs)


def flask_setup(config, **kwargs):
    return setup_web(flask_options.options_from_config(config), flask_options.label, flask_options.SOURCE, **kwargs)


def serve(web, path="/items/7"):
    with trace.get_tracer("app").start_as_current_span("GET", kind=SpanKind.SERVER,
            attributes={"http.request.method": "GET", "url.path": path, "url.scheme": "http",
                        "server.address": "shop", "http.route": "/items/{id}",
                        "http.response.status_code": 200}):
        pass
"""


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def _roles(emu, count):
    items = emu.wait_for_items(count=count, timeout=60, type="request")
    return [item["envelope"]["tags"]["ai.cloud.role"] for item in items]


def test_the_app_identity_is_the_role_and_a_second_setup_returns_the_same_handle(emu):
    out = run_python(SERVE + f"""
first = django_setup({{"CONNECTION_STRING": {emu.connection_string!r}}}, role_default="mysite")
again = django_setup({{"CONNECTION_STRING": {emu.connection_string!r}}}, role_default="other")
serve(first)
print(json.dumps([first.telemetry is again.telemetry, first.stop(), again.stop()]))
""")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == [True, True, True]
    assert _roles(emu, 1) == ["mysite"]


@pytest.mark.parametrize(
    "env, settings, role",
    [
        ({"OTEL_SERVICE_NAME": "from-env"}, {}, "from-env"),  # the operator's word beats a guess
        ({"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs"}, {}, "from-attrs"),
        ({"OTEL_SERVICE_NAME": "from-env"}, {"APPLICATION_INSIGHTS_ROLE_NAME": "explicit"}, "explicit"),
    ],
)
def test_role_precedence(emu, env, settings, role):
    config = dict(settings, APPLICATION_INSIGHTS_CONNECTION_STRING=emu.connection_string, OTHER_KEY=1)
    out = run_python(SERVE + f"""
web = flask_setup({config!r}, role_default="flask_app")
serve(web)
web.stop()
""", env=env)
    assert out.returncode == 0, out.stderr
    assert _roles(emu, 1) == [role]


@pytest.mark.parametrize(
    "settings, spelling, names",
    [
        ({"SAMPLING_RATIO": 2}, "django", "APPLICATION_INSIGHTS['SAMPLING_RATIO'] in settings"),
        ({"APPLICATION_INSIGHTS_SAMPLING_RATIO": "half"}, "flask",
         "app.config['APPLICATION_INSIGHTS_SAMPLING_RATIO'] in the Flask app"),
        ({"sampling_ratio": -1}, "keywords", "sampling_ratio in ApplicationInsightsMiddleware"),
        ({"TRUSTED_PROXIES": "10.0.0.0/8"}, "django", "APPLICATION_INSIGHTS['TRUSTED_PROXIES']"),
        ({"USER_ID": "nowhere_xyz.user"}, "django", "APPLICATION_INSIGHTS['USER_ID']"),
        ({"CONNECTION_STRING": "InstrumentationKey=not-a-guid"}, "django", "APPLICATION_INSIGHTS['CONNECTION_STRING']"),
    ],
)
def test_a_bad_setting_fails_at_start_up_naming_it_as_written(settings, spelling, names):
    with pytest.raises(ConfigurationError) as err:
        if spelling == "django":
            django_setup(settings)
        elif spelling == "flask":
            flask_setup(settings)
        else:
            setup_web(settings, source="ApplicationInsightsMiddleware")
    assert names in str(err.value)


def test_an_unknown_key_is_named_with_a_suggestion():
    with pytest.raises(ConfigurationError, match=r"unknown key 'SAMPLNG_RATIO'; did you mean 'SAMPLING_RATIO'"):
        django_setup({"SAMPLNG_RATIO": 0.5})


def test_no_connection_string_is_off_with_one_warning():
    out = run_python("""
from ai_core.web.setup import setup_web
web = setup_web({}, role_default="mysite")
again = setup_web({}, role_default="mysite")
print(web.enabled, web.telemetry is again.telemetry, web.client_ip("203.0.113.1"), web.stop())
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "203.0.113.1", "True"]
    assert out.stderr.count("telemetry is off") == 1, out.stderr


def test_the_request_rules_come_from_the_app_settings():
    out = run_python("""
from ai_core.web.setup import setup_web
web = setup_web({"trusted_proxies": 1, "excluded_routes": ["health"], "user_id": "os.path.basename",
                 "enabled": False})
print(web.client_ip("10.0.0.2", "198.51.100.20, 203.0.113.5"), web.excludes("/h", ["health"]),
      web.excludes("/h", ["home"]), web.user_id("/home/alice"))
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["203.0.113.5", "True", "False", "alice"]
