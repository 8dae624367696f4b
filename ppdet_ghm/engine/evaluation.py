"""Evaluation that ends with a metric or an error.

PaddleDetection's COCO metric computes nothing when the model detected
nothing (every score below the threshold, or NaN outputs that NMS drops):
the log stops after "Total sample number", no ``bbox.json`` is written and
the tool exits 0.  :func:`evaluate` raises :class:`EvaluationError` then.
"""
from ..compat import record_metric_results

__all__ = ['EvaluationError', 'evaluate']


class EvaluationError(RuntimeError):
    """An evaluation that produced no metric."""


def evaluate(trainer):
    """``trainer.evaluate()`` (an eval-mode PaddleDetection ``Trainer`` with
    its weights loaded); returns the metrics' results, e.g.
    ``[{'bbox': [AP, AP50, ...]}]``.

    Raises:
        EvaluationError: no metric came out (and the config did not ask for
            predictions only, ``save_prediction_only``).
    """
    results = record_metric_results(trainer)
    trainer.evaluate()
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
