"""A tiny app for delivery tests: configure() from the environment, then emit numbered requests.

Environment: APPLICATIONINSIGHTS_CONNECTION_STRING, STORAGE_DIR (or DISABLE_STORAGE=1),
COUNT (spans to emit), EVERY_S (pause between spans), THEN (what to do at the end: flush,
kill, sleep:<s>, exit, or sentinel: wait for a line on stdin, then record one request named
``GET /sentinel/<pid>`` and flush, so a test knows everything queued before it has gone).
"""

import os
import signal
import sys
import time

import ai_core
from opentelemetry import trace
from opentelemetry.trace import SpanKind

options = {"role_name": os.environ.get("ROLE", "emitter")}
if os.environ.get("DISABLE_STORAGE") == "1":
    options["disable_offline_storage"] = True
elif os.environ.get("STORAGE_DIR"):
    options["storage_directory"] = os.environ["STORAGE_DIR"]
tel = ai_core.configure(**options)
tracer = trace.get_tracer("emitter")
count = int(os.environ.get("COUNT", "10"))
every = float(os.environ.get("EVERY_S", "0"))
prefix = os.environ.get("PREFIX", "item")


def record(name, route, **attributes):
    attributes.update({"http.request.method": "GET", "http.route": route, "http.response.status_code": 200,
                       "url.path": route})
    with tracer.start_as_current_span(name, kind=SpanKind.SERVER, attributes=attributes):
        pass


for i in range(count):
    record("%s-%d" % (prefix, i), "/%s/%d" % (prefix, i), seq=i)
    if every:
        time.sleep(every)
then = os.environ.get("THEN", "exit")
if then == "flush":
    print("flushed", tel.force_flush(30), flush=True)
elif then == "flush-kill":
    tel.force_flush(30)
    print("killing", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
elif then.startswith("sleep:"):
    print("sleeping", flush=True)
    time.sleep(float(then.split(":", 1)[1]))
elif then == "sentinel":
    print("waiting for the sentinel line", flush=True)
    sys.stdin.readline()
    record("sentinel", "/sentinel/%d" % os.getpid())
    print("flushed", tel.force_flush(30), flush=True)
elif then == "wait-signal":
    print("waiting", flush=True)
    signal.pause() if hasattr(signal, "pause") else time.sleep(60)
sys.exit(0)
