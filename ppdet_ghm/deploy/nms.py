"""Class-wise NMS in numpy, as Paddle's ``multiclass_nms3`` CPU kernel
computes it with the post-processor's settings (``normalized=True``,
``nms_top_k`` all, ``nms_eta=1``, no background class).

Used when a model is exported without its NMS step (for ONNX): the runner
applies it to the candidates the model returns.  What the kernel does, per
class, in float32:
keep scores ``> score_threshold``; order by score, descending, ties by
candidate index (the kernel's stable sort); walk that order and keep a box
unless its IoU (areas ``w * h``, no ``+1``) with an already kept box of its
class is ``> nms_threshold``.  When more than ``keep_top_k`` boxes remain in
all classes, keep the ``keep_top_k`` best scores (stable: class order, then
the order above).  Rows come class by class, in the kernel's order.

The walk is not run box by box here: the IoUs are computed once for all
classes (the boxes are shared), and every class's walk is solved at once as
the fixed point of "kept iff no kept box before it suppresses it"
(:func:`_greedy_keep`); the result is the walk's, to the bit.
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


def _suppression_pairs(boxes, areas, nms_threshold, indices):
    """Pairs of ``indices`` whose IoU is not ``<= nms_threshold`` (NaN
    counts, as in the kernel's test), with the kernel's float32 IoU:
    disjointness test, then ``inter / (area_j + area_i - inter)``.  The IoU
    is symmetric to the bit (min, max, products and sums commute), so each
    pair is computed once, for either box as the kept one.

    Only pairs that can intersect are computed: with the boxes sorted by x1,
    box j (after i) can only meet box i if ``x1_j <= x2_i``; disjoint boxes
    have IoU 0, which suppresses only for a negative threshold (then every
    pair is computed).

    Returns:
        two int64 arrays of box indices.
    """
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, k]) for k in range(4))
    if nms_threshold < 0:
        first, second = np.triu_indices(indices.size, 1)
        first, second = indices[first], indices[second]
    else:
        by_x1 = indices[np.argsort(x1[indices], kind='stable')]
        end = np.searchsorted(x1[by_x1], x2[by_x1], side='right')
        counts = np.maximum(end - np.arange(1, by_x1.size + 1), 0)
        first = np.repeat(np.arange(by_x1.size), counts)
        # j runs from i + 1 to end_i - 1 for each i
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        first, second = by_x1[first], by_x1[first + 1 + offsets]
        # and apart in y: disjoint as well (IoU 0)
        meet = ~((y1[first] > y2[second]) | (y2[first] < y1[second]))
        first, second = first[meet], second[meet]
    disjoint = ((x1[first] > x2[second]) | (x2[first] < x1[second]) |
                (y1[first] > y2[second]) | (y2[first] < y1[second]))
    inter = ((np.minimum(x2[second], x2[first]) - np.maximum(x1[second], x1[first])) *
             (np.minimum(y2[second], y2[first]) - np.maximum(y1[second], y1[first])))
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (areas[second] + areas[first] - inter)
    iou = np.where(disjoint, np.float32(0), iou)
    suppress = ~(iou <= nms_threshold)
    return first[suppress], second[suppress]


def _descending_bits(values):
    """float32 ``values`` as uint32 keys that sort in descending value order
    (``-0.0`` as ``0.0``)."""
    bits = (np.asarray(values, np.float32) + np.float32(0)).view(np.uint32)
    ascending = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))
    return np.uint32(0xFFFFFFFF) - ascending


def _walk_order(scores, candidate):
    """``(C, K)`` box indices of each class in the kernel's walk order: score
    descending, ties by index; non-candidates last.

    One sort of unique 64-bit keys (descending-score bits, then the index)
    instead of a stable argsort of floats: the same order, faster.
    """
    descending = np.where(candidate, _descending_bits(scores),
                          np.uint32(0xFFFFFFFF)).astype(np.uint64)
    keys = np.sort((descending << np.uint64(32)) |
                   np.arange(scores.shape[1], dtype=np.uint64)[None, :], axis=1)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)


def _greedy_keep(rank, pair_i, pair_j):
    """The greedy NMS of every class at once.

    Args:
        rank (ndarray): ``(C, K)`` position of each box in its class's walk
            (score descending, index ascending); -1 where the box is not a
            candidate of the class.
        pair_i, pair_j: the suppression pairs (:func:`_suppression_pairs`).

    Returns:
        ndarray: ``(C, K)`` bool, the boxes the walk keeps.

    The walk keeps a box iff no box kept before it in its class suppresses
    it.  Iterating ``keep[b] = not any(keep[a] for a before b, paired with
    b)`` from "all kept" fixes the boxes in order of their depth in these
    before-relations, and its only fixed point is the walk's result, so it
    stops there (after at most the longest chain of pairs, a few rounds).
    """
    candidate = rank >= 0
    both = candidate[:, pair_i] & candidate[:, pair_j]          # (C, P)
    first_i = rank[:, pair_i] < rank[:, pair_j]
    before = np.where(first_i, pair_i[None, :], pair_j[None, :])  # suppressor
    after = np.where(first_i, pair_j[None, :], pair_i[None, :])   # suppressed
    classes, pairs = np.nonzero(both)
    before, after = before[classes, pairs], after[classes, pairs]
    keep = candidate.copy()
    while True:
        hit = np.zeros_like(keep)
        hit[classes[keep[classes, before]], after[keep[classes, before]]] = True
        new = candidate & ~hit
        if np.array_equal(new, keep):
            return keep
        keep = new


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
    num_classes, count = scores.shape
    candidate = scores > np.float32(score_threshold)
    order = _walk_order(scores, candidate)
    rank = np.full((num_classes, count), -1, np.int64)
    np.put_along_axis(rank, order, np.arange(count)[None, :], axis=1)
    rank[~candidate] = -1
    used = np.flatnonzero(candidate.any(axis=0))   # boxes some class scores
    pair_i, pair_j = _suppression_pairs(boxes, _area(boxes),
                                        np.float32(nms_threshold), used)
    keep = _greedy_keep(rank, pair_i, pair_j)
    # rows class by class, each class in its walk order
    labels, positions = np.nonzero(np.take_along_axis(keep, order, axis=1))
    indices = order[labels, positions]
    if 0 <= keep_top_k < labels.size:
        # the keep_top_k best scores, ties to the earlier row (the kernel's
        # stable sort), then back in row order: by class, each class in
        # score order (the kernel's map); unique keys make the partition exact
        keys = (_descending_bits(scores[labels, indices]).astype(np.uint64)
                << np.uint64(32)) | np.arange(labels.size, dtype=np.uint64)
        best = np.sort(np.argpartition(keys, keep_top_k - 1)[:keep_top_k]) \
            if keep_top_k else np.zeros(0, np.int64)
        labels, indices = labels[best], indices[best]
    return np.concatenate([labels[:, None].astype(np.float32),
                           scores[labels, indices][:, None],
                           boxes[indices]], axis=1).reshape(-1, 6)
