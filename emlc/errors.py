"""User-facing errors: one line naming the problem and the fix, never a traceback."""


class EmlcError(Exception):
    """A mistake in the user's input or request; the CLI prints ``emlc: error: <msg>``."""


class IRError(EmlcError):
    """Malformed IR: raised by the verifier and the text parser."""


class RecompileWarning(UserWarning):
    """A saved JIT predictor was compiled for another CPU or toolchain, so it was recompiled."""
