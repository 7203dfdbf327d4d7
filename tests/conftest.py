"""Suite-wide set-up: the one thing every test file needs before it starts a server.

A suite started as a background job (``./scripts/test &``, nohup, some CI runners) inherits
SIGINT *ignored*, and an ignored signal stays ignored across ``exec``: every dev server a test
starts would then ignore the Ctrl-C the tests send to stop it, and those tests would fail for
a reason that has nothing to do with the package. Python's own SIGINT handler is restored here,
so the servers the tests start get the default action, as they would from a terminal.
"""

import signal

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
