"""Output paths checked before the work starts.

A tool that writes its results at the end (detections, an export, a
figure) would otherwise run the model and then fail with a bare
``NotADirectoryError`` or ``PermissionError``.  :func:`check_output_path`
decides from what exists, without creating anything: the path, or the
folder it would be created in, must be a writable folder (on a read-write
file system), and nothing on the way may be a file.  :func:`output_dir` and
:func:`output_file` are argparse ``type=`` callables built on it, so a bad
flag ends in the parser's one-line error naming the flag.
"""
import argparse
import os

__all__ = ['OutputError', 'check_output_path', 'prepare_output_dir',
           'output_dir', 'output_file']


class OutputError(RuntimeError):
    """An output (a path given to a tool, a checkpoint, a log) that cannot
    be written."""


def _nearest_existing(path):
    """``path`` or its closest existing ancestor."""
    current = os.path.abspath(path)
    while not os.path.exists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def _writable_folder(folder):
    """Why ``folder`` (an existing directory) cannot be written, or None."""
    try:
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        return "'{}' is on a read-only file system".format(folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        return "no permission to write in '{}'".format(folder)
    return None


def check_output_path(path, kind='dir', what='output'):
    """Raise :class:`OutputError` naming ``what`` and ``path`` when
    ``path`` cannot be written as a ``kind`` (``'dir'`` or ``'file'``).

    Nothing is created.  Returns ``path``.
    """
    if kind not in ('dir', 'file'):
        raise ValueError("kind: expected 'dir' or 'file', got {!r}".format(kind))
    if not path:
        raise OutputError('{}: an empty path'.format(what))
    if os.path.isdir(path) and kind == 'file':
        raise OutputError("{}: '{}' is a folder, expected a file name".format(
            what, path))
    if os.path.exists(path) and not os.path.isdir(path) and kind == 'dir':
        raise OutputError("{}: '{}' is a file, expected a folder".format(
            what, path))
    folder = path if kind == 'dir' and os.path.isdir(path) else (
        _nearest_existing(path if kind == 'dir' else os.path.dirname(
            os.path.abspath(path))))
    if not os.path.isdir(folder):
        raise OutputError("{}: cannot create '{}': '{}' is a file".format(
            what, path, folder))
    problem = _writable_folder(folder)
    if problem:
        raise OutputError('{}: cannot write {}: {}'.format(
            what, "'{}'".format(path), problem))
    return path


def prepare_output_dir(path, what='output'):
    """:func:`check_output_path`, then create the folder (with its
    parents: PaddleDetection's COCO metric creates ``output_eval`` without
    them).  Returns ``path``."""
    check_output_path(path, 'dir', what)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise OutputError("{}: cannot create '{}': {}".format(
            what, path, err.strerror or err)) from err
    return path


def _argparse_type(kind):
    def check(path):
        try:
            return check_output_path(path, kind, what='path')
        except OutputError as err:
            # argparse prefixes the flag: "argument --output_dir: ..."
            raise argparse.ArgumentTypeError(str(err)[len('path: '):]) from err
    check.__name__ = 'output_' + kind
    return check


output_dir = _argparse_type('dir')
output_file = _argparse_type('file')
