"""Telemetry.shutdown(): everything it started is stopped and closed."""

import pytest

from ai_core.emulator import Emulator
from subprocess_helpers import run_python


@pytest.fixture()
def emu():
    with Emulator(port=0, db=":memory:") as e:
        yield e


def test_shutdown_closes_the_connection_to_the_endpoint(emu):
    out = run_python(
        f"""
        import ai_core
        from opentelemetry import trace
        tel = ai_core.configure(connection_string={emu.connection_string!r})
        with trace.get_tracer("t").start_as_current_span("work"):
            pass
        print("flushed", tel.force_flush(10))
        print("open before", tel.sender.transport._conn is not None)
        tel.shutdown()
        print("open after", tel.sender.transport._conn is not None)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["flushed", "True", "open", "before", "True", "open", "after", "False"]
