"""``python -m ai_core.emulator``: run the emulator until interrupted.

Prints the connection string to use on start-up (with the real port when ``--port 0``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import List, Optional

from ai_core.emulator.service import Emulator


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ai_core.emulator",
        description="Local Application Insights ingestion emulator with a JSON query API.")
    parser.add_argument("--port", type=int, default=8990,
                        help="port to listen on; 0 picks a free one (default 8990)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: loopback only)")
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="also answer requests for this host name, e.g. a Docker Compose "
                             "service name (repeatable; loopback names and addresses always)")
    parser.add_argument("--db", default="emulator.db",
                        help="SQLite file, or :memory: (default ./emulator.db)")
    parser.add_argument("--log-requests", action="store_true",
                        help="log every HTTP request to stderr")
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    db = args.db if args.db == ":memory:" else os.path.abspath(args.db)
    try:
        emulator = Emulator(port=args.port, host=args.host, db=db,
                            log_requests=args.log_requests, allowed_hosts=args.allow_host)
    except OSError as exc:
        print("cannot listen on %s:%d: %s" % (args.host, args.port, exc), file=sys.stderr)
        return 2
    print("Application Insights emulator listening on %s (db: %s)" % (emulator.url, db))
    print("Connection string: %s" % emulator.connection_string)
    print("Viewer: %s/" % emulator.url)
    sys.stdout.flush()
    # SIGTERM (a test fixture stopping us) ends like Ctrl-C: the database is closed cleanly.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
