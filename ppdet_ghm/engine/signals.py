"""SIGTERM/SIGINT end training with a clear message, not a traceback.

:func:`interrupting_signals` turns SIGTERM (and SIGINT) into a
:class:`TrainingInterrupted` exception within its block (the process's
previous handlers are back afterwards), so the tool can say where training
stopped and which checkpoint is the latest.  A signal that arrives while
Paddle runs Python code of a ``PyLayer`` (GHM-C's backward is one) is held
until :class:`PendingSignalCheck` sees it at the step's end: Paddle would
turn an exception raised there into an anonymous ``OSError``.
"""
import contextlib
import os
import signal

from ppdet.engine.callbacks import Callback

__all__ = ['TrainingInterrupted', 'interrupting_signals',
           'PendingSignalCheck', 'raise_pending_interrupt']


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by a signal."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


# Signals held while Paddle's C++ code is calling back into Python.
_PENDING = []
_PYLAYER_FILE = os.path.join('paddle', 'autograd', 'py_layer.py')


def _inside_pylayer(frame):
    """True when ``frame`` runs (indirectly) inside a PyLayer's forward or
    backward, which Paddle calls from C++: an exception raised there reaches
    the caller as ``OSError`` with the Python error only in its text."""
    while frame is not None:
        if frame.f_code.co_filename.endswith(_PYLAYER_FILE):
            return True
        frame = frame.f_back
    return False


def raise_pending_interrupt():
    """Raise :class:`TrainingInterrupted` for a signal that was held."""
    if _PENDING:
        raise TrainingInterrupted(_PENDING.pop(0))


class PendingSignalCheck(Callback):
    """Raise a held signal at the next step boundary (see the module doc)."""

    def on_step_begin(self, status):
        raise_pending_interrupt()

    def on_step_end(self, status):
        raise_pending_interrupt()


@contextlib.contextmanager
def interrupting_signals(signals=(signal.SIGTERM, signal.SIGINT)):
    """Within the block, raise :class:`TrainingInterrupted` in the main
    thread on ``signals`` (a checkpoint being written is then abandoned,
    never left truncated: see :func:`.checkpoints.atomic_checkpoints`).
    Inside a PyLayer the first signal is held for
    :func:`raise_pending_interrupt`; a second one raises at once.  The
    previous handlers are restored after the block."""
    del _PENDING[:]

    def handler(signum, frame):
        if not _PENDING and _inside_pylayer(frame):
            _PENDING.append(signum)
            return
        del _PENDING[:]
        raise TrainingInterrupted(signum)
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        del _PENDING[:]
