"""The doctor's output: one line per check, with a mark the terminal can print."""

from __future__ import annotations

from typing import TextIO

OK, FAIL, WARN = "ok", "fail", "warn"
_UNICODE_MARKS = {OK: "\u2714", FAIL: "\u2718", WARN: "!"}
_ASCII_MARKS = {OK: "[ok]", FAIL: "[FAIL]", WARN: "[warn]"}


class Checklist:
    """Prints one line per check as it is made (the send may take a while); remembers failures."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.unicode = _can_encode(out, "".join(_UNICODE_MARKS.values()))
        self.marks = _UNICODE_MARKS if self.unicode else _ASCII_MARKS
        self.failed = 0

    def check(self, status: str, label: str, text: str) -> None:
        if status == FAIL:
            self.failed += 1
        self.line("%s %s: %s" % (self.marks[status], label, text))

    def note(self, text: str) -> None:
        """An indented detail under the previous check (a hint, a value)."""
        self.line("    " + text)

    def line(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()


def _can_encode(stream: TextIO, text: str) -> bool:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeError, LookupError):
        return False
    return True
