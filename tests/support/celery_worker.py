"""Real Celery processes for the task tests: ``celery -A <module> worker`` and ``celery beat``.

``CeleryWorker`` starts the worker in its own session with the options a test asks for (pool,
concurrency, ``--max-tasks-per-child``), its output in a file, and waits until it says it is
``ready`` (a condition, not a sleep). ``stop()`` sends SIGTERM (Celery's warm shutdown: the
running tasks finish, then the worker exits) and waits for the exit; ``kill()`` ends what a
failed test left behind. Use it as a context manager. ``CeleryBeat`` is the same for
``celery -A <module> beat`` (its schedule file in a temporary directory); ``sent`` waits until
it has sent a number of scheduled tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence

READY_TIMEOUT_S = 90.0  # a ceiling on a loaded machine: readiness is polled


class CeleryWorker:
    def __init__(
        self,
        app_module: str,
        app_dir: Path,
        env: Dict[str, str],
        pool: str = "prefork",
        concurrency: int = 2,
        extra_args: Sequence[str] = (),
        loglevel: str = "INFO",
    ) -> None:
        self.node = "test-%s@localhost" % uuid.uuid4().hex[:8]
        self.cmd: List[str] = [
            sys.executable, "-m", "celery", "-A", app_module, "worker",
            "--pool", pool, "--concurrency", str(concurrency), "--loglevel", loglevel,
            "--hostname", self.node,
            # No cluster chatter: only the tasks the test sends travel through the broker.
            "--without-heartbeat", "--without-mingle", "--without-gossip",
        ] + list(extra_args)
        self.app_dir = app_dir
        self.env = dict(env)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(app_dir), self.env.get("PYTHONPATH", "")]))
        fd, name = tempfile.mkstemp(prefix="ai-tests-celery-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)
        self.proc: Optional[subprocess.Popen] = None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> "CeleryWorker":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd, cwd=str(self.app_dir), env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        out = self.output()
        self.kill()
        raise RuntimeError("the Celery worker did not get ready (exit %s):\n%s" % (
            self.proc.returncode if self.proc else None, out[-6000:]))

    def wait_for_output(self, text: str, count: int = 1, timeout: float = 60.0) -> str:
        """Wait until ``text`` appears ``count`` times in the worker's output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = self.output()
            if out.count(text) >= count:
                return out
            time.sleep(0.05)
        raise TimeoutError("%r not seen %d times in the worker's output:\n%s" % (text, count, self.output()[-6000:]))

    def stop(self, timeout: float = 60.0) -> int:
        """Warm shutdown (SIGTERM): running tasks finish, the worker exits; its exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError("the Celery worker did not stop on SIGTERM:\n%s" % self.output()[-6000:])
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait(timeout=30)

    def __enter__(self) -> "CeleryWorker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            self.kill()
            try:
                self.log_path.unlink()
            except OSError:
                pass


class CeleryBeat(CeleryWorker):
    """``celery -A <module> beat``: started when it says it is starting, stopped by SIGTERM."""

    def __init__(self, app_module: str, app_dir: Path, env: Dict[str, str], schedule_dir: Path) -> None:
        super().__init__(app_module, app_dir, env)
        self.cmd = [sys.executable, "-m", "celery", "-A", app_module, "beat", "--loglevel", "INFO",
                    "--schedule", str(schedule_dir / "beat-schedule")]

    def start(self) -> "CeleryBeat":
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.cmd, cwd=str(self.app_dir), env=self.env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        return self

    def sent(self, count: int, timeout: float = 90.0) -> str:
        """Wait until beat has sent ``count`` scheduled tasks."""
        return self.wait_for_output("Sending due task", count=count, timeout=timeout)
