"""The demo driver (run by ``./scripts/demo``): example apps against the local emulator.

It starts the ingestion emulator (``python -m ai_core.emulator``) and every example app of the
``APPS`` registry below whose requirements are installed, each as a real server process on
loopback sending to the emulator; drives a little realistic traffic (normal pages, a login, a
slow report, a failing checkout); waits until the telemetry has arrived; prints what arrived
per role and type and the viewer's URL. Then it keeps everything running until Ctrl-C (or
SIGTERM), or with ``--once`` (or ``DEMO_ONCE=1``) stops the apps, checks that every role's
telemetry arrived and exits: 0 when it did, 1 with the reason when not.

A throwaway Redis (Debian's ``redis-server``, when installed) is the broker of the Django
shop's Celery worker, an app without a URL: it is ready when its log says so, and ``--once``
waits for its task requests before stopping anything and checks the map edge to it.

Nothing leaves the machine: the emulator and the apps listen on 127.0.0.1 only, and no Azure
account is involved. State (the emulator's SQLite file, offline storage, one log file per
process) lives under ``./.demo/`` (``--state-dir``); each run starts with an empty emulator.

Adding an example app (each framework adapter adds its own): append an ``ExampleApp`` to
``APPS`` with the command that serves it on ``{port}`` and sends to ``{connection_string}``
(also in ``$APPLICATIONINSIGHTS_CONNECTION_STRING``); commands to run before it (``prepare``,
e.g. a database migration) and its environment (``env``); list the apps it calls in ``calls``
(their base URLs are ``{url[name]}``) and the requests the driver should make in ``traffic``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ai_core.emulator.process import EmulatorProcess, stop_process

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8990
HOST = "127.0.0.1"
# Telemetry types in the table, in order: (type in the emulator's API, column heading).
TYPES = [("request", "requests"), ("dependency", "dependencies"), ("exception", "exceptions"),
         ("trace", "traces"), ("event", "events"), ("metric", "metrics")]


@dataclass(frozen=True)
class Step:
    """One request the driver makes to an app (``data`` is sent as a form).

    Redirects are followed unless ``follow`` is False (then ``expect`` is the 3xx itself). Like
    a browser's form, a POST carries the CSRF token of the app's ``csrftoken`` cookie when it
    has set one (Django's ``X-CSRFToken`` header).
    """

    method: str
    path: str
    what: str
    expect: int = 200
    data: Optional[Dict[str, str]] = None
    follow: bool = True


@dataclass(frozen=True)
class ExampleApp:
    """An example app the demo starts: its role name, how to run it, what to ask it.

    ``argv`` items are ``str.format`` templates with ``{python}``, ``{root}``, ``{port}``,
    ``{connection_string}``, ``{storage}`` (a private offline-storage directory for this app),
    ``{state}`` (the demo's state directory) and ``{url[other]}`` (the base URL of app
    ``other``, which must be listed in ``calls`` and come earlier in ``APPS``); so are the
    ``prepare`` commands and the ``env`` values. The app must answer ``GET health`` once it is
    ready.
    """

    name: str  # also its cloud role name
    argv: Sequence[str]
    # Commands run to completion before the app starts (with its env but no connection
    # string: their telemetry is not the demo's); one failing stops the demo.
    prepare: Sequence[Sequence[str]] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment variables
    requires: Sequence[str] = ()  # importable modules; without them the app is skipped
    calls: Sequence[str] = ()  # apps it calls: started first, and --once checks the map edge
    health: str = "/health"
    traffic: Sequence[Step] = ()
    expect: Sequence[str] = ("request",)  # telemetry types --once requires from this role
    # A background worker instead of a server: ready when its log shows this text; no URL.
    ready_line: Optional[str] = None
    services: Sequence[str] = ()  # services it needs ("redis"); without them it is skipped
    # Apps it hands work to when they run (a Celery worker): --once checks the map edge to
    # each one that was started, and waits for its requests before stopping anything.
    sends_work_to: Sequence[str] = ()


STANDIN = "{root}/example_projects/standin/"
DJANGO_SHOP = "{root}/example_projects/django_shop/"
FASTAPI_SHOP = "{root}/example_projects/fastapi_shop/"
FLASK_SHOP = "{root}/example_projects/flask_shop"
CELERY_WORKER_OPTIONS = ["--pool", "prefork", "--concurrency", "2", "--loglevel", "INFO",
                         "--without-heartbeat", "--without-mingle", "--without-gossip"]
APPS: List[ExampleApp] = [
    # Stand-ins for the framework example apps (plain WSGI + ai_core.configure()).
    ExampleApp(
        name="inventory",
        argv=["{python}", STANDIN + "inventory.py", "--port", "{port}",
              "--connection-string", "{connection_string}", "--storage-dir", "{storage}"],
        requires=["requests", "opentelemetry.instrumentation.wsgi"],
        traffic=[Step("GET", "/api/products/4", "the API called directly")],
        expect=["request", "dependency", "exception", "trace", "metric"],
    ),
    ExampleApp(
        name="storefront",
        argv=["{python}", STANDIN + "storefront.py", "--port", "{port}",
              "--connection-string", "{connection_string}", "--storage-dir", "{storage}",
              "--inventory-url", "{url[inventory]}"],
        requires=["requests", "opentelemetry.instrumentation.wsgi"],
        calls=["inventory"],
        traffic=[
            Step("GET", "/", "home page: product list"),
            Step("GET", "/products/1", "a product page"),
            Step("GET", "/products/99", "an unknown product", expect=404),
            Step("GET", "/account", "account page before signing in", expect=401),
            Step("POST", "/login", "login as alice", data={"user": "alice"}),
            Step("GET", "/account", "account page as alice"),
            Step("GET", "/reports/stock", "slow stock report"),
            Step("POST", "/checkout", "checkout (inventory fails)", expect=502, data={"sku": "TEA-01"}),
        ],
        expect=["request", "dependency", "exception", "trace", "event", "metric"],
    ),
    # Framework example apps (their adapters' one-line set-up), as the adapters land.
    ExampleApp(
        # example_projects/django_shop's Celery worker (Redis broker): it loads the shop's
        # settings, so django_ai records its tasks as role django-shop-worker, nothing added.
        name="django-shop-worker",
        argv=["{python}", "-m", "celery", "--workdir", DJANGO_SHOP, "-A", "django_shop", "worker"]
        + CELERY_WORKER_OPTIONS,
        env={"DJANGO_SHOP_DB": "{state}/django-shop.sqlite3", "DJANGO_SHOP_STORAGE_DIR": "{storage}",
             "DJANGO_SHOP_BROKER_URL": "{broker}", "DJANGO_SETTINGS_MODULE": "django_shop.settings"},
        requires=["django", "celery", "redis", "opentelemetry.instrumentation.celery"],
        services=["redis"],
        ready_line=" ready.",
        expect=["request", "dependency", "trace"],
    ),
    ExampleApp(
        # example_projects/django_shop: "django_ai" in INSTALLED_APPS, served by gunicorn with
        # two workers; its SQLite database lives in the state directory (migrated first).
        name="django-shop",
        prepare=[["{python}", DJANGO_SHOP + "manage.py", "migrate", "--noinput"]],
        argv=["{python}", "-m", "gunicorn", "--workers", "2", "--chdir", DJANGO_SHOP,
              "--bind", "127.0.0.1:{port}", "django_shop.wsgi"],
        env={"DJANGO_SHOP_DB": "{state}/django-shop.sqlite3", "DJANGO_SHOP_STORAGE_DIR": "{storage}",
             "INVENTORY_URL": "{url[inventory]}", "DJANGO_SHOP_BROKER_URL": "{broker}",
             # The shop's own settings, whatever DJANGO_SETTINGS_MODULE the demo was started with.
             "DJANGO_SETTINGS_MODULE": "django_shop.settings"},
        requires=["django", "gunicorn", "requests", "celery", "opentelemetry.instrumentation.django"],
        calls=["inventory"],
        sends_work_to=["django-shop-worker"],
        health="/health/",
        traffic=[
            Step("GET", "/", "product list (an ORM query)"),
            Step("GET", "/products/1/", "a product page"),
            Step("GET", "/products/4/", "a product low on stock (logs a warning)"),
            Step("GET", "/products/99/", "an unknown product", expect=404),
            Step("GET", "/account/", "account page before signing in", expect=302, follow=False),
            Step("GET", "/accounts/login/", "the sign-in form"),
            Step("POST", "/accounts/login/", "sign in as alice", expect=302, follow=False,
                 data={"username": "alice", "password": "wonderland"}),
            Step("GET", "/account/", "account page as alice"),
            Step("POST", "/orders/1/", "order as alice (the worker sends the confirmation)", expect=202),
            Step("GET", "/api/stock/4/", "stock JSON (calls inventory)"),
            Step("GET", "/health/", "health check (excluded: no telemetry)"),
            Step("GET", "/fail/", "a view that raises", expect=500),
            Step("POST", "/accounts/logout/", "sign out", expect=302, follow=False),
        ],
        expect=["request", "dependency", "exception", "trace", "event", "metric"],
    ),
    ExampleApp(
        # example_projects/fastapi_shop: one add_middleware(ApplicationInsightsMiddleware) line,
        # served by uvicorn with two workers; it calls inventory with httpx.
        name="fastapi-shop",
        argv=["{python}", "-m", "uvicorn", "--app-dir", FASTAPI_SHOP, "fastapi_shop.main:app", "--workers", "2",
              "--host", "127.0.0.1", "--port", "{port}", "--no-access-log"],
        env={"FASTAPI_SHOP_DB": "{state}/fastapi-shop.sqlite3", "FASTAPI_SHOP_STORAGE_DIR": "{storage}",
             "INVENTORY_URL": "{url[inventory]}"},
        requires=["fastapi", "uvicorn", "httpx", "opentelemetry.instrumentation.asgi"],
        calls=["inventory"],
        traffic=[
            Step("GET", "/api/products", "product list (SQL in a worker thread)"),
            Step("GET", "/api/products/99", "an unknown product", expect=404),
            Step("GET", "/api/products/4/stock", "stock (calls inventory with httpx)"),
            Step("POST", "/api/orders/1", "order before signing in", expect=401),
            Step("POST", "/login", "sign in as alice", data={"user": "alice"}),
            Step("POST", "/api/orders/1", "order as alice (confirmed in a background task)", expect=201),
            Step("GET", "/health", "health check (excluded: no telemetry)"),
            Step("GET", "/api/reports/broken", "a route that raises", expect=500),
        ],
        expect=["request", "dependency", "exception", "trace", "event", "metric"],
    ),
    ExampleApp(
        # example_projects/flask_shop: an app factory with ai.init_app(app), served by gunicorn
        # with two workers; its SQLite database lives in the state directory (init-db first).
        # FLASK_* variables are its config keys (app.config.from_prefixed_env()).
        name="flask-shop",
        prepare=[["{python}", "-m", "flask", "--app", FLASK_SHOP, "init-db"]],
        argv=["{python}", "-m", "gunicorn", "--workers", "2", "--chdir", "{root}/example_projects",
              "--bind", "127.0.0.1:{port}", "flask_shop:create_app()"],
        env={"FLASK_DATABASE": "{state}/flask-shop.sqlite3", "FLASK_APPLICATION_INSIGHTS_STORAGE_DIRECTORY": "{storage}",
             "FLASK_INVENTORY_URL": "{url[inventory]}"},
        requires=["flask", "flask_login", "gunicorn", "requests", "opentelemetry.instrumentation.wsgi"],
        calls=["inventory"],
        traffic=[
            Step("GET", "/", "product list (a SQL query)"),
            Step("GET", "/products/4", "a product low on stock (logs a warning)"),
            Step("GET", "/products/99", "an unknown product", expect=404),
            Step("GET", "/account", "account page before signing in", expect=302, follow=False),
            Step("POST", "/login", "sign in as alice", expect=302, follow=False,
                 data={"username": "alice", "password": "wonderland"}),
            Step("GET", "/account", "account page as alice"),
            Step("GET", "/api/stock/4", "stock JSON (calls inventory)"),
            Step("GET", "/health", "health check (excluded: no telemetry)"),
            Step("GET", "/fail", "a view that raises", expect=500),
        ],
        expect=["request", "dependency", "exception", "trace", "event", "metric"],
    ),
]


class DemoError(Exception):
    """A failure to report in one clear line (plus a log tail) and exit 1."""


# -- processes ----------------------------------------------------------------------------


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if the driver dies without cleaning up (e.g. SIGKILL)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen  # type: ignore[type-arg]
    log_path: Path
    log_file: Optional[IO[bytes]] = None  # ours to close, when we opened it
    url: str = ""
    port: int = 0
    extra: Dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 25) -> str:
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM (apps flush their telemetry on it), then SIGKILL if it does not end."""
        code = stop_process(self.process, timeout)
        if self.log_file is not None:
            self.log_file.close()
        return code


def _tail(log_path: Path, lines: int = 25) -> str:
    try:
        text = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    | " + line for line in text[-lines:])


def _child_env(extra: Mapping[str, str]) -> Dict[str, str]:
    # The apps get their settings from the command line and these: nothing inherited may send
    # their telemetry elsewhere (a real connection string, an OTLP endpoint).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# How every child is started. Own session: Ctrl-C reaches only the driver, which stops the
# apps first (so their last telemetry reaches the emulator) and the emulator last.
_CHILD_OPTIONS: Dict[str, Any] = dict(
    cwd=str(ROOT), stdin=subprocess.DEVNULL, start_new_session=True,
    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
)


def _spawn(name: str, argv: Sequence[str], logs: Path, env: Mapping[str, str]) -> Child:
    log_path = logs / (name + ".log")
    log_file = open(log_path, "wb")
    process = subprocess.Popen(list(argv), env=_child_env(env), stdout=log_file, stderr=subprocess.STDOUT,
                               **_CHILD_OPTIONS)
    return Child(name, process, log_path, log_file)


def _port_free(port: int) -> bool:
    """True when nothing listens on ``port``. SO_REUSEADDR, as the emulator's own server sets it,
    so the TIME_WAIT connections a demo that just stopped leaves behind do not count as busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def emulator_port(wanted: int) -> int:
    """``wanted`` if it is free, else the first free port above it (else any free port)."""
    for port in range(wanted, min(wanted + 100, 65536)):
        if _port_free(port):
            if port != wanted:
                print("Port %d is busy; the emulator uses %d instead." % (wanted, port))
            return port
    return free_port()


def start_emulator(port: int, state: Path, logs: Path, timeout: float = 20.0) -> Child:
    db = state / "emulator.db"
    for suffix in ("", "-wal", "-shm", "-journal"):  # each run starts empty
        Path(str(db) + suffix).unlink(missing_ok=True)
    log_path = logs / "emulator.log"
    emulator = EmulatorProcess(db=str(db), port=port, log_path=str(log_path), env=_child_env({}), **_CHILD_OPTIONS)
    try:
        emulator.start(timeout)
    except RuntimeError:
        raise DemoError("the emulator did not start on port %d (log: %s)\n%s"
                        % (port, log_path, _tail(log_path))) from None
    assert emulator.process is not None
    return Child("emulator", emulator.process, log_path, url=emulator.url, port=emulator.port,
                 extra={"connection_string": emulator.connection_string})


def _get(url: str, timeout: float = 5.0) -> Tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _values(emulator: Child, started: Mapping[str, Child], state: Path, app: ExampleApp,
            port: int = 0) -> Dict[str, Any]:
    redis = started.get("redis")
    return dict(python=sys.executable, root=str(ROOT), port=port, storage=str(state / "storage" / app.name),
                state=str(state), connection_string=emulator.extra["connection_string"],
                url={name: child.url for name, child in started.items()},
                broker=redis.extra["url"] if redis is not None else "memory://")


def start_redis(state: Path, logs: Path, timeout: float = 20.0) -> Optional[Child]:
    """A throwaway Redis (Debian's redis-server) on a free port: the Celery broker of the
    example apps. None when redis-server is not installed (their workers are skipped)."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    directory = state / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        port = free_port()
        child = _spawn("redis", [binary, "--port", str(port), "--bind", HOST, "--dir", str(directory),
                                 "--save", "", "--appendonly", "no"], logs, {})
        child.port, child.extra["url"] = port, "redis://%s:%d/0" % (HOST, port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and child.alive():
            try:
                with socket.create_connection((HOST, port), timeout=2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return child
            except OSError:
                pass
            time.sleep(0.05)
        last = child.tail()
        child.stop()
        if "Address already in use" not in last:
            raise DemoError("redis-server did not start (log: %s)\n%s" % (child.log_path, last))
    raise DemoError("redis-server found no free port")


def prepare_app(app: ExampleApp, emulator: Child, started: Mapping[str, Child], state: Path, logs: Path,
                timeout: float = 120.0) -> None:
    """Run the app's ``prepare`` commands (e.g. ``manage.py migrate``), each to completion."""
    values = _values(emulator, started, state, app)
    env = {key: value.format(**values) for key, value in app.env.items()}
    for number, command in enumerate(app.prepare, 1):
        argv = [item.format(**values) for item in command]
        log_path = logs / ("%s.prepare%s.log" % (app.name, number if len(app.prepare) > 1 else ""))
        with open(log_path, "wb") as log_file:
            try:
                code = subprocess.run(argv, env=_child_env(env), stdout=log_file, stderr=subprocess.STDOUT,
                                      timeout=timeout, **_CHILD_OPTIONS).returncode
            except subprocess.TimeoutExpired:
                code = "a timeout after %.0f s" % timeout
        if code != 0:
            raise DemoError("preparing %r failed (%s, exit %s; log: %s)\n%s"
                            % (app.name, " ".join(argv[1:]), code, log_path, _tail(log_path)))


def start_app(app: ExampleApp, emulator: Child, started: Mapping[str, Child], state: Path, logs: Path,
              timeout: float = 30.0) -> Child:
    last = ""
    for _attempt in range(3):  # the free port may be taken between choosing and binding it
        port = free_port()
        values = _values(emulator, started, state, app, port)
        argv = [item.format(**values) for item in app.argv]
        env = {key: value.format(**values) for key, value in app.env.items()}
        env.update(APPLICATIONINSIGHTS_CONNECTION_STRING=emulator.extra["connection_string"], PORT=str(port))
        child = _spawn(app.name, argv, logs, env)
        if app.ready_line is None:
            child.port, child.url = port, "http://%s:%d" % (HOST, port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and child.alive():
            if app.ready_line is not None:
                if app.ready_line in child.tail(200):
                    return child
            else:
                try:
                    if _get(child.url + app.health, timeout=2)[0] == 200:
                        return child
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        last = child.tail()
        child.stop()
        if "Address already in use" not in last:
            break
    raise DemoError("example app %r did not become ready (log: %s)\n%s" % (app.name, logs / (app.name + ".log"), last))


def stop_all(children: List[Child]) -> None:
    """Apps first, newest first (so callers stop before what they call), the emulator last."""
    for child in reversed(children):
        child.stop()
    children.clear()


# -- traffic and results ------------------------------------------------------------------


def drive_traffic(apps: Sequence[ExampleApp], started: Mapping[str, Child]) -> List[str]:
    """Make every app's requests (one cookie session per app); return the unexpected answers."""
    import requests  # installed with the package's test extra; not instrumented here

    problems = []
    print("\nTraffic:")
    for app in apps:
        session = requests.Session()
        for step in app.traffic:
            began = time.monotonic()
            csrf = session.cookies.get("csrftoken") if step.method not in ("GET", "HEAD", "OPTIONS") else None
            try:
                reply = session.request(step.method, started[app.name].url + step.path, data=step.data, timeout=30,
                                        allow_redirects=step.follow, headers={"X-CSRFToken": csrf} if csrf else None)
                status = str(reply.status_code)
                ok = reply.status_code == step.expect
            except requests.RequestException as exc:
                status, ok = "error: %s" % exc, False
            ms = (time.monotonic() - began) * 1000
            print("  %-12s %-5s %-19s -> %-4s %6.0f ms  %s" % (app.name, step.method, step.path, status, ms, step.what))
            if not ok:
                problems.append("%s %s %s answered %s, expected %d"
                                % (app.name, step.method, step.path, status, step.expect))
    return problems


def _api(emulator: Child, path: str) -> Any:
    status, body = _get(emulator.url + path)
    if status != 200:
        raise DemoError("emulator %s answered %d: %r" % (path, status, body[:200]))
    return json.loads(body)


def role_counts(emulator: Child) -> Dict[str, Dict[str, int]]:
    return {r["role"]: dict(r["counts"]) for r in _api(emulator, "/api/roles")["roles"]}


def missing_telemetry(counts: Mapping[str, Mapping[str, int]], apps: Sequence[ExampleApp],
                      types_for: Any) -> List[str]:
    missing = []
    for app in apps:
        have = counts.get(app.name, {})
        lacking = [t for t in types_for(app) if not have.get(t)]
        if not have:
            missing.append("%s: nothing arrived" % app.name)
        elif lacking:
            missing.append("%s: no %s" % (app.name, ", ".join(lacking)))
    return missing


def wait_for_telemetry(emulator: Child, apps: Sequence[ExampleApp], types_for: Any,
                       timeout: float) -> Dict[str, Dict[str, int]]:
    """Poll the emulator until every app's expected types arrived and the counts settled."""
    deadline = time.monotonic() + timeout
    previous: Optional[Dict[str, Dict[str, int]]] = None
    while True:
        counts = role_counts(emulator)
        done = not missing_telemetry(counts, apps, types_for)
        if (done and counts == previous) or time.monotonic() >= deadline:
            return counts
        previous = counts
        time.sleep(0.5)


def print_table(counts: Mapping[str, Mapping[str, int]], emulator: Child) -> None:
    stats = _api(emulator, "/api/stats")
    headings = [h for _t, h in TYPES]
    width = max([len("role")] + [len(r) for r in counts] + [len("total")])
    print("\nTelemetry received by the emulator:")
    print("  " + "role".ljust(width) + "".join("  " + h.rjust(len(h)) for h in headings))
    totals = {t: 0 for t, _h in TYPES}
    for role in sorted(counts):
        row = counts[role]
        for t, _h in TYPES:
            totals[t] += row.get(t, 0)
        print("  " + role.ljust(width) + "".join("  " + str(row.get(t, 0)).rjust(len(h)) for t, h in TYPES))
    print("  " + "total".ljust(width) + "".join("  " + str(totals[t]).rjust(len(h)) for t, h in TYPES))
    rejected = stats["stored"]["rejected"]
    print("  items rejected by schema validation: %d%s" % (
        rejected, "  <- see the viewer's Rejected page" if rejected else ""))


def map_edges(emulator: Child) -> Dict[Tuple[str, str], Dict[str, Any]]:
    edges = {}
    for edge in _api(emulator, "/api/map")["edges"]:
        if edge["source"].startswith("role:") and edge["target"].startswith("role:"):
            edges[(edge["source"][5:], edge["target"][5:])] = edge
    return edges


def print_edges(edges: Mapping[Tuple[str, str], Mapping[str, Any]]) -> None:
    for (source, target), edge in sorted(edges.items()):
        print("  application map: %s -> %s (%d calls, %d failed, avg %.0f ms)"
              % (source, target, edge["calls"], edge["failures"], edge["avg_duration_ms"] or 0))


# -- main ---------------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="emulator port; the next free one if busy (default %d)" % DEFAULT_PORT)
    parser.add_argument("--once", action="store_true",
                        default=os.environ.get("DEMO_ONCE", "").lower() in ("1", "true", "yes"),
                        help="check that telemetry arrived from every role, then exit (also DEMO_ONCE=1)")
    parser.add_argument("--state-dir", default=str(ROOT / ".demo"),
                        help="emulator database, offline storage and logs (default ./.demo)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for the telemetry to arrive (default 30)")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    state = Path(args.state_dir).resolve()
    logs = state / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: List[Child] = []
    try:
        emulator = start_emulator(emulator_port(args.port), state, logs)
        children.append(emulator)
        print("Emulator:  %s  (connection string: %s)" % (emulator.url, emulator.extra["connection_string"]))

        apps, started = [], {}
        redis = start_redis(state, logs) if any(a.services for a in APPS) else None
        if redis is not None:
            children.append(redis)
            started["redis"] = redis
            print("Redis:     %s  (the Celery broker)" % redis.extra["url"])
        for app in APPS:
            absent = [m for m in app.requires if find_spec(m) is None]
            unmet = [c for c in list(app.calls) + list(app.services) if c not in started]
            if absent or unmet:
                print("Skipping %s: %s" % (app.name, "not installed: " + ", ".join(absent) if absent
                                           else "needs " + ", ".join(unmet)))
                continue
            prepare_app(app, emulator, started, state, logs)
            child = start_app(app, emulator, started, state, logs)
            children.append(child)
            apps.append(app)
            started[app.name] = child
            print("App:       %-12s %s  (log: %s)" % (app.name, child.url or "(worker)", child.log_path))
        if not apps:
            raise DemoError("no example app could be started")

        problems = drive_traffic(apps, started)

        workers = [a for a in apps if a.ready_line is not None]
        if args.once and workers:
            # The work handed to workers is done (and its requests sent) before anything stops.
            wait_for_telemetry(emulator, workers, lambda app: ["request"], args.timeout)
        if args.once:
            # SIGTERM makes each app flush what it still holds (metrics included) before it exits.
            for app in reversed(apps):
                code = started[app.name].stop()
                if code not in (0, -signal.SIGTERM):
                    problems.append("%s exited with %s (log: %s)" % (app.name, code, started[app.name].log_path))
            children[:] = [c for c in children if c.name in ("emulator", "redis")]
            counts = wait_for_telemetry(emulator, apps, lambda app: app.expect, args.timeout)
        else:
            # Metrics leave every 60 s, so do not wait for them while the apps keep running.
            counts = wait_for_telemetry(emulator, apps, lambda app: [t for t in app.expect if t != "metric"],
                                        args.timeout)
        print_table(counts, emulator)
        edges = map_edges(emulator)
        print_edges(edges)
        print("\nViewer: %s/" % emulator.url)

        if args.once:
            problems += missing_telemetry(counts, apps, lambda app: app.expect)
            problems += ["no application map edge %s -> %s (the distributed trace is broken)" % (app.name, callee)
                         for app in apps
                         for callee in list(app.calls) + [w for w in app.sends_work_to if w in started]
                         if (app.name, callee) not in edges]
            if problems:
                print("\nDemo FAILED:\n  " + "\n  ".join(problems) + "\n  (logs: %s)" % logs, file=sys.stderr)
                return 1
            print("Demo OK: telemetry arrived from every role (%s)." % ", ".join(a.name for a in apps))
            return 0

        for problem in problems:
            print("warning: " + problem)
        if "storefront" in started:
            print("Shop:   %s/  (browse it; every page shows up in the viewer)" % started["storefront"].url)
        if "django-shop" in started:
            print("Django shop: %s/  (sign in as alice / wonderland)" % started["django-shop"].url)
        if "flask-shop" in started:
            print("Flask shop: %s/  (sign in as alice / wonderland)" % started["flask-shop"].url)
        print("Metrics arrive every 60 s. Press Ctrl-C to stop.")
        sys.stdout.flush()
        while True:
            for child in children:
                if not child.alive():
                    raise DemoError("%s stopped unexpectedly (exit %s, log: %s)\n%s"
                                    % (child.name, child.process.returncode, child.log_path, child.tail()))
            time.sleep(1)
    except DemoError as exc:
        print("\nDemo FAILED: %s" % exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping.")
        return 0
    finally:
        stop_all(children)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)  # SIGTERM cleans up like Ctrl-C
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _terminate)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
