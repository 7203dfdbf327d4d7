"""Live Metrics through a real framework adapter: a Flask app's failed request is one failed
request document and one exception document (Flask's own "Exception on /fail" log line is not
a second exception), with the request's stored name and response code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List

from fake_live_service import FakeLiveService, portal_default_configuration

ROOT = Path(__file__).resolve().parents[2]
KEY = "00000000-0000-0000-0000-0000000000aa"

APP = textwrap.dedent("""
    import os, sys, time
    from flask import Flask
    from flask_ai import ApplicationInsights

    app = Flask("shop")
    app.config["APPLICATION_INSIGHTS_CONNECTION_STRING"] = sys.argv[1]
    app.config["APPLICATION_INSIGHTS_DISABLE_OFFLINE_STORAGE"] = True

    @app.route("/items/<int:item_id>")
    def item(item_id):
        return "item %d" % item_id

    @app.route("/fail")
    def fail():
        raise KeyError("no such basket")

    ApplicationInsights(app)
    client = app.test_client()
    client.get("/items/1").close()  # the first item starts the stream (close: the request ends with its body)
    deadline = time.time() + 60
    while not os.path.exists(sys.argv[2]) and time.time() < deadline:  # the test says: subscribed
        time.sleep(0.05)
    for i in range(3):
        client.get("/fail").close()
        client.get("/items/%d" % i).close()
    while not os.path.exists(sys.argv[3]) and time.time() < deadline:  # the test has its posts
        time.sleep(0.05)
""")


def documents(calls: List[Any]) -> List[Dict[str, Any]]:
    return [d for c in calls if c.operation == "post" for d in c.point.get("Documents") or []]


def test_a_failed_flask_request_is_one_request_and_one_exception_document(tmp_path: Path) -> None:
    subscribed, finished = tmp_path / "subscribed", tmp_path / "finished"
    with FakeLiveService() as live:
        live.subscribed = True
        live.configuration = portal_default_configuration()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OTEL_"))}
        proc = subprocess.Popen([sys.executable, "-c", APP, live.connection_string(KEY, "http://127.0.0.1:9"),
                                 str(subscribed), str(finished)], cwd=str(ROOT), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            live.wait_for(lambda calls: any(c.operation == "post" for c in calls), timeout=60)
            subscribed.write_text("x")
            calls = live.wait_for(lambda calls: len([d for d in documents(calls) if d["DocumentType"] == "Request"]) >= 3
                                  and len([c for c in calls if c.operation == "post"]) >= 3, timeout=60)
            # two more posts: anything recorded with the last request has been posted
            seen = len(calls)
            calls = live.wait_for(lambda c: len([x for x in c[seen:] if x.operation == "post"]) >= 2, timeout=60)
        finally:
            finished.write_text("x")
            out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        docs = documents(calls)
        requests = [d for d in docs if d["DocumentType"] == "Request"]
        exceptions = [d for d in docs if d["DocumentType"] == "Exception"]
        assert [(d["Name"], d["ResponseCode"]) for d in requests] == [("GET /fail", "500")] * 3, json.dumps(docs)[:2000]
        assert [(d["ExceptionType"], d["ExceptionMessage"]) for d in exceptions] == [("KeyError", "'no such basket'")] * 3
