"""The property every damaged file must satisfy: it loads into verified IR or is refused cleanly."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import tempfile
from pathlib import Path

import numpy as np

import emlc
from emlc.errors import EmlcError
from emlc.ir.interpret import interpret
from emlc.ir.verify import verify

#: Seconds one load may take before it counts as a hang (tiny files load in milliseconds).
TIME_LIMIT = 20.0


class Hang(BaseException):
    """Raised by the alarm; a BaseException so no loader's ``except Exception`` can swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float = TIME_LIMIT):
    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def load_or_refuse(data: bytes, filename: str) -> emlc.Ensemble | None:
    """Load ``data`` saved as ``filename``: verified IR, or None after a one-line EmlcError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        with time_limit():
            try:
                ens = emlc.load(path)
            except EmlcError as exc:
                message = str(exc)
                assert message and "\n" not in message, f"error message is not one line: {message!r}"
                return None
    verify(ens)
    rows = np.zeros((3, ens.n_features))
    rows[1] = np.nan
    rows[2] = 1.5
    with time_limit():
        interpret(ens, rows.astype(ens.input_type) if ens.input_type != "float32" else rows)
    return ens


def cli_refuses_or_compiles(data: bytes, filename: str) -> int:
    """Run ``emlc FILE --emit ir``: exit 0, or 1 with one ``emlc: error:`` line; never 2."""
    from emlc.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), time_limit():
            code = main([str(path), "--emit", "ir", "-o", os.devnull])
    text = err.getvalue()
    assert code in (0, 1), f"exit {code}:\n{text}"
    if code == 1:
        lines = text.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("emlc: error: "), text
    return code
