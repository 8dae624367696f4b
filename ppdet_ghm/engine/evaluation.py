"""Evaluation that ends with a metric or an error, and prediction.

PaddleDetection's COCO metric computes nothing when the model detected
nothing (every score below the threshold, or NaN outputs that NMS drops):
the log stops after "Total sample number", no ``bbox.json`` is written and
the tool exits 0.  :func:`evaluate` raises :class:`EvaluationError` then.
Both functions run the trainer inside :func:`~.training.reader_errors_raised`.
"""
import weakref

from ppdet.engine.callbacks import Callback

from ..compat import current_metric_results, restart_loader_iterator
from .training import reader_errors_raised

__all__ = ['EvaluationError', 'MetricResults', 'evaluate', 'predict']


class EvaluationError(RuntimeError):
    """An evaluation that produced no metric."""


class MetricResults(Callback):
    """Keeps each evaluation's metric results (``results``: one list of
    dicts per evaluation), read at the end of the evaluation, before the
    trainer resets its metrics."""

    def __init__(self, model):
        super().__init__(model)
        self.results = []

    def on_epoch_end(self, status):
        if status.get('mode') == 'eval':
            self.results.append(current_metric_results(self.model))


# one MetricResults per trainer (a trainer has no API to remove a callback)
_COLLECTORS = weakref.WeakKeyDictionary()


def _metric_results(trainer):
    if trainer not in _COLLECTORS:
        _COLLECTORS[trainer] = MetricResults(trainer)
        trainer.register_callbacks([_COLLECTORS[trainer]])
    return _COLLECTORS[trainer]


def evaluate(trainer):
    """``trainer.evaluate()`` (an eval-mode PaddleDetection ``Trainer`` with
    its weights loaded); returns the metrics' results, e.g.
    ``[{'bbox': [AP, AP50, ...]}]``.

    Raises:
        EvaluationError: no metric came out (and the config did not ask for
            predictions only, ``save_prediction_only``).
        DataPipelineError: an image failed in the data pipeline.
    """
    collector = _metric_results(trainer)
    done = len(collector.results)
    with reader_errors_raised():
        # the loader's first iterator started with the trainer, maybe outside
        # the block: a new one reads the same images in the same order
        restart_loader_iterator(trainer.loader)
        trainer.evaluate()
    results = collector.results[done] if len(collector.results) > done else []
    if trainer.cfg.get('save_prediction_only', False) or any(results):
        return results
    post = trainer.cfg.get('GHMRetinaPostProcess') or {}
    raise EvaluationError(
        '{}: evaluation ended without a metric: the model detected nothing '
        'on the {} evaluation image(s){} (weights {})'.format(
            trainer.cfg.get('_config_path', 'config'), len(trainer.dataset),
            ' above score_threshold {}'.format(post['score_threshold'])
            if 'score_threshold' in post else '',
            trainer.cfg.get('weights')))


def predict(trainer, images, **kwargs):
    """``trainer.predict(images, **kwargs)`` (a test-mode Trainer with its
    weights loaded; ``draw_threshold``, ``output_dir``, ``save_results`` as
    PaddleDetection's); an image failing in the data pipeline raises
    :class:`~ppdet_ghm.data.DataPipelineError` naming it."""
    with reader_errors_raised():
        return trainer.predict(images, **kwargs)
