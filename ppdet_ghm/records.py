"""A training run's records, as :func:`ppdet_ghm.engine.train` writes them
into the run folder ``<save_dir>/<config name>/``:

- ``loss_rank<r>.jsonl``: one line per optimizer step of rank ``r``
  (:class:`ppdet_ghm.engine.RankLossLogger`: ``epoch``, ``step``, ``lr`` and the
  loss terms), appended across resumes;
- ``eval_records.jsonl``: one line per in-training evaluation
  (:class:`ppdet_ghm.engine.EvalRecordWriter`: ``epoch``, ``iteration``,
  ``minutes``, ``train_minutes``, ``bbox`` with the 12 COCO statistics...).

Plots, tables and summaries read these, never the printed log.  (Plain
Python: importing this needs neither paddle nor ppdet.)
"""
import json
import os
import sys

__all__ = ['RecordsError', 'read_json_lines', 'read_run', 'LOSS_LOG',
           'EVAL_RECORDS']

LOSS_LOG = 'loss_rank{}.jsonl'
EVAL_RECORDS = 'eval_records.jsonl'


class RecordsError(ValueError):
    """A records file or run folder that cannot be read; the message names
    it."""


def read_json_lines(path, stream=None):
    """The JSON objects of the file ``path``, one per line ([] without the
    file).  A last line that is not complete JSON (the writer was killed
    while appending) is left out with a warning on ``stream``.

    Raises:
        RecordsError: a line before the last is not a JSON object (names
            the file and the line).
    """
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().split('\n')
    while lines and not lines[-1].strip():
        lines.pop()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError('not an object')
        except ValueError as err:
            if number == len(lines):
                print("warning: {}:{}: an incomplete last line is left out "
                      "({})".format(path, number, err),
                      file=stream or sys.stderr)
                break
            raise RecordsError('{}:{}: not a JSON record ({})'.format(
                path, number, err)) from err
        records.append(record)
    return records


def read_run(run_dir, rank=0):
    """The records of one run folder.

    Returns:
        dict: ``dir``, ``losses`` (rank ``rank``'s step records in order,
        each with ``iteration``: its 1-based position, which counts optimizer
        steps across resumes) and ``evals`` (the evaluation records).

    Raises:
        RecordsError: no loss log in ``run_dir`` (not a run folder), or a
            damaged line.
    """
    loss_path = os.path.join(run_dir, LOSS_LOG.format(rank))
    if not os.path.isfile(loss_path):
        raise RecordsError("'{}': not a training run folder (no {})".format(
            run_dir, LOSS_LOG.format(rank)))
    losses = read_json_lines(loss_path)
    for iteration, record in enumerate(losses, 1):
        record['iteration'] = iteration
    return {'dir': run_dir, 'losses': losses,
            'evals': read_json_lines(os.path.join(run_dir, EVAL_RECORDS))}
