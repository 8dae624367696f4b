"""Do two runs of a detector give the same detections?

Per image: the same number of detections, and each detection of one run has
one of the other run of the same class whose box is within ``box_tol`` px and
whose score is within ``score_tol``.  Detections are paired by nearest box
within the class (NMS leaves no two boxes of one class close together, and
the order of near-equal scores may differ between backends).
"""
from dataclasses import dataclass, field
from typing import List

import numpy as np

__all__ = ['Agreement', 'CLIENT', 'compare_detections', 'compare_deployments',
           'deployment_runner', 'route_name']

CLIENT = 'paddledetection'   # PaddleDetection's deploy/python/infer.py


@dataclass
class Agreement:
    """images, detections: counted in the reference run.
    identical: images whose labels, scores and boxes are bit-equal.
    max_score_diff, max_box_diff: over the paired detections.
    problems: one line per image that does not agree."""
    images: int = 0
    detections: int = 0
    identical: int = 0
    max_score_diff: float = 0.0
    max_box_diff: float = 0.0
    problems: List[str] = field(default_factory=list)

    def summary(self):
        return ('{} image(s), {} detection(s): {} image(s) bit-identical; paired '
                'detections differ by at most {:.3g} in score and {:.3g} px in box; '
                '{} image(s) disagree'.format(
                    self.images, self.detections, self.identical,
                    self.max_score_diff, self.max_box_diff, len(self.problems)))


def _compare_image(name, ref, other, score_tol, box_tol, agreement):
    labels, scores, boxes = ref
    if len(scores) != len(other[1]):
        agreement.problems.append('{}: {} detections, the other run has {}'.format(
            name, len(scores), len(other[1])))
        return
    unpaired = np.ones(len(scores), dtype=bool)
    for label, score, box in zip(*other):
        same_class = np.flatnonzero(unpaired & (labels == label))
        if not same_class.size:
            agreement.problems.append('{}: class {} has more detections in the '
                                      'other run'.format(name, int(label)))
            return
        box_diff = np.abs(boxes[same_class] - box).max(axis=1)
        nearest = same_class[np.argmin(box_diff)]
        unpaired[nearest] = False
        score_diff = abs(float(scores[nearest]) - float(score))
        agreement.max_box_diff = max(agreement.max_box_diff, float(box_diff.min()))
        agreement.max_score_diff = max(agreement.max_score_diff, score_diff)
        if box_diff.min() > box_tol or score_diff > score_tol:
            agreement.problems.append(
                '{}: class {} box {} score {:.6f}: nearest of the reference is '
                '{} px / {:.2g} in score away'.format(
                    name, int(label), '[{}]'.format(', '.join(
                        '{:.3f}'.format(v) for v in box)), float(score),
                    float(box_diff.min()), score_diff))
            return


def compare_detections(reference, other, score_tol=1e-5, box_tol=1e-3):
    """Compare per-image detections.

    Args:
        reference, other (list): per image, ``(labels (N,), scores (N,),
            boxes (N, 4))`` or an object with those attributes
            (:class:`.predictor.Detections`), in the same image order.

    Returns:
        Agreement
    """
    def arrays(item):
        if hasattr(item, 'labels'):
            item = (item.labels, item.scores, item.boxes)
        labels, scores, boxes = item
        return (np.asarray(labels).astype(np.int64).reshape(-1),
                np.asarray(scores, np.float32).reshape(-1),
                np.asarray(boxes, np.float32).reshape(-1, 4))
    if len(reference) != len(other):
        raise ValueError('compare_detections: {} images against {}'.format(
            len(reference), len(other)))
    agreement = Agreement()
    for index, (ref, oth) in enumerate(zip(reference, other)):
        name = getattr(ref, 'image', 'image {}'.format(index))
        ref, oth = arrays(ref), arrays(oth)
        agreement.images += 1
        agreement.detections += len(ref[1])
        agreement.identical += all(np.array_equal(a, b) for a, b in zip(ref, oth))
        _compare_image(name, ref, oth, score_tol, box_tol, agreement)
    return agreement


def deployment_runner(model_dir, backend, cpu_threads=1, onednn=True,
                      paddledetection_dir=None):
    """What runs ``model_dir`` on ``backend``: a predictor of one of
    ``BACKENDS``, or for :data:`CLIENT` PaddleDetection's own client from the
    checkout ``paddledetection_dir``.  Both have ``predict_batches(paths,
    batch_size)``."""
    from .infer_config import DeployError
    from .predictor import create_predictor
    if backend == CLIENT:
        from .ppdet_client import PaddleDetectionClient
        if not paddledetection_dir:
            raise DeployError('--other_backend paddledetection needs '
                              '--paddledetection_dir (a PaddleDetection checkout)')
        return PaddleDetectionClient(model_dir, paddledetection_dir, cpu_threads, onednn)
    return create_predictor(model_dir, backend, cpu_threads=cpu_threads, onednn=onednn)


def route_name(backend, onednn=True):
    """``backend``, with "without oneDNN" for Paddle Inference without it."""
    return backend + ('' if onednn or backend != 'paddle' else ' without oneDNN')


def compare_deployments(images, reference, other, batch_size=1, score_tol=1e-5,
                        box_tol=1e-3):
    """Run two :func:`deployment_runner` results on the image files
    ``images`` (``batch_size`` at a time) and compare their detections
    (:func:`compare_detections`).

    Returns:
        Agreement
    """
    return compare_detections(list(reference.predict_batches(images, batch_size)),
                              list(other.predict_batches(images, batch_size)),
                              score_tol, box_tol)
