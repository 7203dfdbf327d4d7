""""This server is stopping": what was recorded is delivered before the process ends, even
when the process then dies without running atexit (uvicorn re-raises SIGTERM)."""

import json

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_stop_delivers_everything_and_is_safe_twice_without_atexit(emu, tmp_path):
    # Offline storage of its own: the default directory is per instrumentation key and endpoint,
    # and an earlier test's emulator on the same port may have left a batch there, which this
    # process would deliver too (seen once in CI: 51 dependencies).
    out = run_python(f"""
import json, logging, os, sys
from opentelemetry import trace
from ai_core.web.setup import setup_web
web = setup_web({{"connection_string": {emu.connection_string!r}, "storage_directory": {str(tmp_path)!r}}},
                role_default="shop")
tracer = trace.get_tracer("app")
for i in range(50):
    with tracer.start_as_current_span("job %d" % i):
        pass
logging.getLogger("shop").warning("last words")
first, second = web.stop(), web.stop()
print(json.dumps([first, second, web.enabled]))
sys.stdout.flush()
os._exit(0)  # no atexit, no interpreter shutdown: only stop() could have sent anything
""")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == [True, True, False]
    assert len(emu.wait_for_items(count=50, timeout=60, type="dependency")) == 50
    assert emu.wait_for_items(count=1, timeout=60, type="trace")[0]["envelope"]["data"]["baseData"]["message"] == "last words"
