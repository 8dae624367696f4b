"""A study's records: one JSON line per evaluation of every run
(``records.jsonl`` in the study's output folder), appended run by run.

A record: ``study``, ``run`` (``variant[@noise]/seedN``), ``variant``,
``noise``, ``seed``, ``fingerprint`` (what the run trained, see
``runner.run_fingerprint``), ``status`` (``'ok'`` or ``'failed'``), and for
an evaluation the fields the training wrote (``epoch``, ``iteration``,
``minutes``, ``train_minutes``, ``time``, ``bbox``, ``detected_nothing``;
``ppdet_ghm.engine.EvalRecordWriter``) plus ``run_minutes`` (the whole run,
start-up included); for a failed run ``error``.  ``reused_from`` marks
records copied from another study with the same fingerprint.
"""
import json
import os

from ..records import RecordsError, read_json_lines
from .spec import StudyError

__all__ = ['RECORDS_FILE', 'read_records', 'append_records',
           'finished_runs']

RECORDS_FILE = 'records.jsonl'


def read_records(path, stream=None):
    """The records in ``path`` (a list; [] when there is no file).

    A last line that is not complete JSON (the study was killed while
    appending) is left out with a warning on ``stream``: its run has no
    final record and runs again.

    Raises:
        StudyError: a line before the last is not a JSON object (names the
            file and line).
    """
    try:
        return read_json_lines(path, stream)
    except RecordsError as err:
        raise StudyError(str(err)) from err


def append_records(path, records):
    """Append ``records`` to ``path`` in one write, flushed to disk."""
    text = ''.join(json.dumps(r, sort_keys=True) + '\n' for r in records)
    with open(path, 'a') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def finished_runs(records, epochs):
    """``{run name: fingerprint}`` of the runs that ended: failed, or with
    an evaluation after ``epochs`` epochs."""
    done = {}
    for record in records:
        if record.get('status') == 'failed' or (
                record.get('status') == 'ok' and record.get('epoch') == epochs):
            done[record['run']] = record.get('fingerprint')
    return done
