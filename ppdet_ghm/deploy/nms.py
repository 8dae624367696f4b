"""Class-wise NMS in numpy, as Paddle's ``multiclass_nms3`` CPU kernel
computes it with the post-processor's settings (``normalized=True``,
``nms_top_k`` all, ``nms_eta=1``, no background class).

Used when a model is exported without its NMS step (for ONNX): the runner
applies it to the candidates the model returns.  Per class, in float32:
keep scores ``> score_threshold``; order by score, descending, ties by
candidate index (the kernel's stable sort); walk that order and keep a box
unless its IoU (areas ``w * h``, no ``+1``) with an already kept box of its
class is ``> nms_threshold``.  When more than ``keep_top_k`` boxes remain in
all classes, keep the ``keep_top_k`` best scores (stable: class order, then
the order above).  Rows come class by class, in the kernel's order.
"""
import numpy as np

__all__ = ['multiclass_nms', 'check_nms_settings']

_SETTINGS = ('score_threshold', 'nms_threshold', 'keep_top_k')


def check_nms_settings(settings, where):
    """The ``NMS`` block of ``infer_cfg.yml`` as floats/int.

    Raises:
        ValueError: not a mapping, a key missing, or a value of the wrong
            kind (naming ``where`` and the key).
    """
    if not isinstance(settings, dict):
        raise ValueError('{}: NMS must be a mapping of {}, got {!r}'.format(
            where, ', '.join(_SETTINGS), settings))
    checked = {}
    for key in _SETTINGS:
        value = settings.get(key)
        kind = int if key == 'keep_top_k' else float
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind is int and not float(value).is_integer()):
            raise ValueError('{}: NMS.{} must be {}, got {!r}'.format(
                where, key, 'an integer' if kind is int else 'a number', value))
        checked[key] = kind(value)
    return checked


def _area(boxes):
    """``w * h`` of ``(N, 4)`` boxes; 0 for a box with x2 < x1 or y2 < y1."""
    valid = (boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1])
    return np.where(valid, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]),
                    np.float32(0))


def _iou(boxes, areas, kept, candidates):
    """IoU of the boxes ``candidates`` (indices) with the box ``kept``,
    float32, with the kernel's disjointness test and operation order."""
    box, others = boxes[kept], boxes[candidates]
    disjoint = ((box[0] > others[:, 2]) | (box[2] < others[:, 0]) |
                (box[1] > others[:, 3]) | (box[3] < others[:, 1]))
    inter = ((np.minimum(others[:, 2], box[2]) - np.maximum(others[:, 0], box[0])) *
             (np.minimum(others[:, 3], box[3]) - np.maximum(others[:, 1], box[1])))
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (areas[candidates] + areas[kept] - inter)
    return np.where(disjoint, np.float32(0), iou)


def _nms_one_class(boxes, areas, scores, score_threshold, nms_threshold):
    """Kept candidate indices of one class, best score first."""
    candidates = np.flatnonzero(scores > score_threshold)
    order = candidates[np.argsort(-scores[candidates], kind='stable')]
    kept = []
    while order.size:
        best = order[0]
        kept.append(best)
        rest = order[1:]
        order = rest[_iou(boxes, areas, best, rest) <= nms_threshold]
    return np.asarray(kept, dtype=np.int64)


def multiclass_nms(boxes, scores, *, score_threshold, nms_threshold, keep_top_k):
    """Detections of one image (the keyword arguments as in
    ``compat.multiclass_nms``, the kernel this equals).

    Args:
        boxes (ndarray): ``(K, 4)`` x1, y1, x2, y2 (pixels).
        scores (ndarray): ``(C, K)`` class probabilities.
        keep_top_k (int): at most this many detections; -1: no limit.

    Returns:
        ndarray: ``(M, 6)`` float32 rows ``[class, score, x1, y1, x2, y2]``.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.ndim != 2 or \
            scores.shape[1] != boxes.shape[0]:
        raise ValueError('multiclass_nms: expected boxes (K, 4) and scores '
                         '(C, K), got {} and {}'.format(boxes.shape, scores.shape))
    areas = _area(boxes)      # once for all classes
    labels, indices = [], []
    for label, class_scores in enumerate(scores):
        kept = _nms_one_class(boxes, areas, class_scores, np.float32(score_threshold),
                              np.float32(nms_threshold))
        labels.append(np.full(kept.size, label, dtype=np.int64))
        indices.append(kept)
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    indices = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    if 0 <= keep_top_k < labels.size:
        best = np.argsort(-scores[labels, indices], kind='stable')[:keep_top_k]
        # regrouped by class, each class in score order (the kernel's map)
        best = best[np.argsort(labels[best], kind='stable')]
        labels, indices = labels[best], indices[best]
    return np.concatenate([labels[:, None].astype(np.float32),
                           scores[labels, indices][:, None],
                           boxes[indices]], axis=1).reshape(-1, 6)
