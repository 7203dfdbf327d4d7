"""The emulator in a subprocess (``python -m ai_core.emulator``), for test suites, benchmarks and the demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from typing import Any, List, Mapping, Optional, Sequence
from urllib.parse import urlsplit

_CONNECTION_STRING = re.compile(r"^Connection string: (\S*IngestionEndpoint=(http://[^;\s]+)\S*)$")


class EmulatorProcess:
    """``python -m ai_core.emulator`` run by this Python in its own process.

    ``start()`` launches it and waits for its start-up lines, which give the real port (with
    ``port=0`` it picks a free one); ``stop()`` ends it with SIGTERM, on which it closes its
    database cleanly, then SIGKILL if it has not ended. A context manager does both::

        from ai_core.emulator.process import EmulatorProcess

        with EmulatorProcess() as emulator:
            ai_core.configure(connection_string=emulator.connection_string)
            ...  # then ask emulator.url + "/api/items" what arrived

    Use the in-process ``ai_core.emulator.Emulator`` when a thread will do; a process is for
    tests that restart it, signal it, or must not share the test's interpreter.

    Args:
        db: the SQLite file (kept by ``restart()``), or ``":memory:"`` (default).
        port: the port to listen on; 0 (default) picks a free one.
        args: more command-line arguments, e.g. ``("--log-requests",)``.
        log_path: a file for its stdout and stderr, truncated at each start (default: a
            temporary file, deleted by ``stop()``).
        env: its environment (default: this process's); ``PYTHONUNBUFFERED=1`` is added.
        popen_options: more ``subprocess.Popen`` arguments (``cwd``, ``start_new_session``...).
    """

    def __init__(self, db: str = ":memory:", port: int = 0, args: Sequence[str] = (),
                 log_path: Optional[str] = None, env: Optional[Mapping[str, str]] = None,
                 **popen_options: Any) -> None:
        self.db = db
        self.requested_port = port
        self.args = tuple(args)
        self.log_path = log_path
        self.env = env
        self.popen_options = popen_options
        self.process: Optional[subprocess.Popen] = None  # type: ignore[type-arg]
        self.url = ""  # http://127.0.0.1:<port>, once started
        self.connection_string = ""  # as the emulator printed it, once started
        self.banner: List[str] = []  # its start-up lines
        self._temporary_log: Optional[str] = None

    @property
    def port(self) -> int:
        """The port it listens on (the requested one until it has started)."""
        return (urlsplit(self.url).port or 0) if self.url else self.requested_port

    def start(self, timeout: float = 20.0) -> "EmulatorProcess":
        """Launch it and wait until it listens; RuntimeError (with its output) if it does not."""
        if self.log_path is None and self._temporary_log is None:
            fd, self._temporary_log = tempfile.mkstemp(prefix="ai-emulator-", suffix=".log")
            os.close(fd)
        env = dict(os.environ if self.env is None else self.env, PYTHONUNBUFFERED="1")
        options = dict(self.popen_options)
        options.setdefault("stdin", subprocess.DEVNULL)
        argv = [sys.executable, "-m", "ai_core.emulator", "--port", str(self.requested_port),
                "--db", self.db, *self.args]
        with open(self.log_path or self._temporary_log or "", "wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, **options)
        self.url = self.connection_string = ""
        deadline = time.monotonic() + timeout
        while True:
            exited = self.process.poll() is not None  # before reading: its last lines are in
            lines = self.output(complete_lines=True)
            for line in lines:
                match = _CONNECTION_STRING.match(line)
                if match:
                    self.connection_string, self.url = match.group(1), match.group(2)
                    self.banner = lines
                    return self
            if exited or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        stop_process(self.process)
        self.process = None
        text = "\n".join(self.output()[-25:])
        self._remove_temporary_log()
        raise RuntimeError("the emulator did not start on port %d (%s):\n%s" % (
            self.requested_port, "it exited" if exited else "no start-up line in %gs" % timeout, text))

    def output(self, complete_lines: bool = False) -> List[str]:
        """What it has printed so far (stdout and stderr), line by line; with
        ``complete_lines`` not a last line it is still writing."""
        try:
            with open(self.log_path or self._temporary_log or "", "rb") as f:
                data = f.read()
        except OSError:
            return []
        if complete_lines:
            data = data[:data.rfind(b"\n") + 1]
        return data.decode("utf-8", "replace").splitlines()

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM, then SIGKILL if it has not ended after ``timeout`` seconds; its exit code."""
        code = None
        if self.process is not None:
            code = stop_process(self.process, timeout)
            self.process = None
        self._remove_temporary_log()
        return code

    def restart(self) -> "EmulatorProcess":
        """Stop and start again with the same database (and a new free port when it was 0)."""
        self.stop()
        return self.start()

    def _remove_temporary_log(self) -> None:
        if self._temporary_log is not None:
            try:
                os.unlink(self._temporary_log)
            except OSError:
                pass
            self._temporary_log = None

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def stop_process(process: "subprocess.Popen[Any]", timeout: float = 10.0) -> Optional[int]:
    """SIGTERM (a server's cue to flush and close cleanly), then SIGKILL if it has not ended
    after ``timeout`` seconds; returns the exit code."""
    if process.poll() is None:
        try:
            process.terminate()
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        except OSError:
            pass
    return process.returncode
