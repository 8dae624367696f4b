"""One training per ``save_dir``.

Two trainings writing one folder (the same command started twice, or a
resume while the first run is still alive) would interleave checkpoints and
loss logs without a word.  :func:`save_dir_lock` holds an exclusive
``flock`` on ``<save_dir>/.train-rank<r>.lock`` for the whole training (one
file per rank, so a second launch collides rank by rank); a second training
into the folder stops at once, naming the process that holds it.

Stale locks: the kernel releases a ``flock`` when the last open copy of the
file descriptor closes, that is when the holding process ends, however it
ends (``kill -9`` included; its data-loader workers, which share the
descriptor, end with it).  A training that ends removes its lock file; one
killed leaves it behind, where it means nothing: the next run takes the lock
and writes its own process id into it.
(On NFS, ``flock`` is emulated with ``fcntl`` locks and holds across clients
on Linux; on file systems without locks the training says so and refuses.)
"""
import contextlib
import fcntl
import json
import os
import socket
import sys
import time

from ..utils.paths import OutputError

__all__ = ['RunLockError', 'save_dir_lock', 'lock_path']


class RunLockError(OutputError):
    """``save_dir`` is in use by another training."""


def lock_path(save_dir, rank=0):
    """The lock file of ``rank`` in ``save_dir``."""
    return os.path.join(save_dir, '.train-rank{}.lock'.format(rank))


def _holder_text(fd):
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096).decode() or '{}')
    except (OSError, ValueError):
        holder = {}
    if not holder.get('pid'):
        return 'another process'
    return 'process {} on {} since {} ({})'.format(
        holder['pid'], holder.get('host', '?'), holder.get('started', '?'),
        holder.get('command', '?'))


@contextlib.contextmanager
def save_dir_lock(save_dir, rank=0):
    """Hold ``save_dir``'s training lock of ``rank`` within the block.

    Raises:
        RunLockError: another live process holds it (named in the message),
            or the file system cannot lock.
    """
    path = lock_path(save_dir, rank)
    fd = _locked_fd(save_dir, path)
    try:
        holder = {'pid': os.getpid(), 'host': socket.gethostname(),
                  'started': time.strftime('%Y-%m-%d %H:%M:%S'),
                  'command': ' '.join(sys.argv)[:300]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield path
    finally:
        # removed while still held: a process that opened it meanwhile
        # finds it unlinked after its flock (_locked_fd) and starts over
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)    # releases the lock


def _locked_fd(save_dir, path):
    """A descriptor of ``path`` holding its exclusive flock, the file still
    at ``path`` (not unlinked by a training that just ended)."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise RunLockError("save_dir: cannot create the lock file '{}': {}".format(
                path, err.strerror or err)) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = _holder_text(fd)
            os.close(fd)
            raise RunLockError(
                "save_dir '{}' is in use by another training: {}; wait for it "
                "to end or stop it, or train into another folder (-o save_dir="
                "...)".format(save_dir, text)) from None
        except OSError as err:
            os.close(fd)
            raise RunLockError("save_dir: cannot lock '{}' ({}); this file "
                               "system has no file locks".format(
                                   path, err.strerror or err)) from err
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
