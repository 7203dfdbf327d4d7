"""Hello-world Flask app for benchmarks/web.py (gunicorn, 1 sync worker): ``/`` and ``/realistic``."""

from modes import CS, MODE, floor_provider, official, realistic_work

if MODE == "official":
    official()  # before Flask is imported: the distro replaces the Flask class

from flask import Flask  # noqa: E402

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"


@app.route("/realistic")
def realistic():
    return realistic_work("bench")


if MODE == "floor":
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    from opentelemetry.instrumentation.urllib import URLLibInstrumentor

    provider = floor_provider()
    FlaskInstrumentor.instrument_app(app, tracer_provider=provider)
    SQLite3Instrumentor().instrument(tracer_provider=provider)
    URLLibInstrumentor().instrument(tracer_provider=provider)
elif MODE == "ours":
    from flask_ai import ApplicationInsights

    app.config["APPLICATION_INSIGHTS_CONNECTION_STRING"] = CS
    app.config["APPLICATION_INSIGHTS_ROLE_NAME"] = "bench-flask"
    ApplicationInsights(app)
