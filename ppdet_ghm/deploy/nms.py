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
(:func:`_greedy_keep`); the result is the walk's, to the bit.  With a
``keep_top_k`` cut, only the best-scored candidates that can reach it are
walked (:func:`multiclass_nms`).
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


def _following(sorted_starts, ends):
    """For values sorted ascending (``sorted_starts``), every pair ``(p, q)``,
    ``p < q``, with ``sorted_starts[q] <= ends[p]``; positions in the sorted
    order."""
    end = np.searchsorted(sorted_starts, ends, side='right')
    counts = np.maximum(end - np.arange(1, sorted_starts.size + 1), 0)
    first = np.repeat(np.arange(sorted_starts.size), counts)
    # q runs from p + 1 to end_p - 1 for each p
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return first, first + 1 + offsets


def _suppression_pairs(boxes, areas, nms_threshold, entry_class, entry_box):
    """Pairs ``(a, b)``, ``a < b``, of entries (class ``entry_class[e]``, box
    ``entry_box[e]``, numbered in walk order) of one class whose IoU is not
    ``<= nms_threshold`` (NaN counts, as in the kernel's test), with the
    kernel's float32 IoU: disjointness test, then ``inter / (area_j + area_i
    - inter)``.  The IoU is symmetric to the bit (min, max, products and sums
    commute), so each pair is computed once, for either box as the kept one.

    Only pairs that can intersect are computed: with each class's boxes
    sorted by x1 (the classes apart on a shifted float64 axis; rounding is
    monotonic, so no comparison turns), box q (after p) can only meet box p
    if ``x1_q <= x2_p``; disjoint boxes have IoU 0, which suppresses only for
    a negative threshold (then every pair of a class is computed).

    Returns:
        two int64 arrays of entry numbers.
    """
    x1, y1, x2, y2 = (boxes[entry_box, k] for k in range(4))
    if entry_box.size == 0:
        first = second = np.zeros(0, np.int64)
    elif nms_threshold < 0:
        by_class = np.argsort(entry_class, kind='stable')
        classes = entry_class[by_class].astype(np.float64)
        first, second = _following(classes, classes)
        first, second = by_class[first], by_class[second]
    else:
        wide_x1, wide_x2 = x1.astype(np.float64), x2.astype(np.float64)
        finite = np.isfinite(wide_x1) & np.isfinite(wide_x2)
        low = min(wide_x1[finite].min(), wide_x2[finite].min()) if finite.any() else 0.
        span = (max(wide_x1[finite].max(), wide_x2[finite].max()) - low + 1
                if finite.any() else 1.)
        shift = entry_class * span - low
        by_x1 = np.argsort(wide_x1 + shift, kind='stable')
        first, second = _following((wide_x1 + shift)[by_x1], (wide_x2 + shift)[by_x1])
        first, second = by_x1[first], by_x1[second]
        # the same class only, and apart in y: disjoint as well (IoU 0)
        meet = (entry_class[first] == entry_class[second]) & ~(
            (y1[first] > y2[second]) | (y2[first] < y1[second]))
        first, second = first[meet], second[meet]
    disjoint = ((x1[first] > x2[second]) | (x2[first] < x1[second]) |
                (y1[first] > y2[second]) | (y2[first] < y1[second]))
    inter = ((np.minimum(x2[second], x2[first]) - np.maximum(x1[second], x1[first])) *
             (np.minimum(y2[second], y2[first]) - np.maximum(y1[second], y1[first])))
    area_first, area_second = areas[entry_box[first]], areas[entry_box[second]]
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = inter / (area_second + area_first - inter)
    iou = np.where(disjoint, np.float32(0), iou)
    suppress = ~(iou <= nms_threshold)
    first, second = first[suppress], second[suppress]
    return np.minimum(first, second), np.maximum(first, second)


def _descending_bits(values):
    """float32 ``values`` as uint32 keys that sort in descending value order
    (``-0.0`` as ``0.0``)."""
    bits = (np.asarray(values, np.float32) + np.float32(0)).view(np.uint32)
    ascending = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))
    return np.uint32(0xFFFFFFFF) - ascending


def _greedy_keep(count, before, after):
    """The greedy NMS of every class at once.

    Args:
        count (int): entries, numbered in walk order.
        before, after: the suppression pairs (:func:`_suppression_pairs`),
            ``before < after``.

    Returns:
        ndarray: ``(count,)`` bool, the entries the walk keeps.

    The walk keeps an entry iff no entry kept before it in its class
    suppresses it.  Iterating ``keep[b] = not any(keep[a] for a before b,
    paired with b)`` from "all kept" fixes the entries in order of their
    depth in these before-relations, and its only fixed point is the walk's
    result, so it stops there (after at most the longest chain of pairs).
    """
    keep = np.ones(count, bool)
    while True:
        hit = np.zeros(count, bool)
        hit[after[keep[before]]] = True
        if np.array_equal(~hit, keep):
            return keep
        keep = ~hit


def multiclass_nms(boxes, scores, *, score_threshold, nms_threshold, keep_top_k):
    """Detections of one image (the keyword arguments as in
    ``compat.multiclass_nms``, the kernel this equals).

    Args:
        boxes (ndarray): ``(K, 4)`` x1, y1, x2, y2 (pixels).
        scores (ndarray): ``(C, K)`` class probabilities.
        keep_top_k (int): at most this many detections; -1: no limit.

    Returns:
        ndarray: ``(M, 6)`` float32 rows ``[class, score, x1, y1, x2, y2]``.

    All candidates of all classes are ordered once by (score descending,
    class, index): within a class that is the walk order, and over classes
    it is the order in which the kernel's ``keep_top_k`` cut takes them.  A
    box's fate depends only on boxes before it in its class, so with a
    ``keep_top_k`` cut only a prefix of that order is walked: the shortest
    (doubling from ``4 * keep_top_k``) that keeps ``keep_top_k`` boxes.
    """
    boxes = np.asarray(boxes, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.ndim != 2 or \
            scores.shape[1] != boxes.shape[0]:
        raise ValueError('multiclass_nms: expected boxes (K, 4) and scores '
                         '(C, K), got {} and {}'.format(boxes.shape, scores.shape))
    candidate = scores > np.float32(score_threshold)
    labels, indices = np.nonzero(candidate)          # class, then index order
    # unique keys: score descending, then (class, index)
    keys = (_descending_bits(scores[labels, indices]).astype(np.uint64)
            << np.uint64(32)) | np.arange(labels.size, dtype=np.uint64)
    areas, threshold = _area(boxes), np.float32(nms_threshold)
    walked = labels.size if keep_top_k < 0 else min(4 * max(keep_top_k, 1), labels.size)
    while True:
        if walked < labels.size:
            prefix = np.argpartition(keys, walked - 1)[:walked]
        else:
            prefix = np.arange(labels.size)
        prefix = prefix[np.argsort(keys[prefix])]        # in walk order
        keep = _greedy_keep(prefix.size, *_suppression_pairs(
            boxes, areas, threshold, labels[prefix], indices[prefix]))
        kept = prefix[keep]                              # in key order
        if walked == labels.size or kept.size >= keep_top_k:
            break
        walked = min(2 * walked, labels.size)
    if 0 <= keep_top_k < kept.size:
        kept = kept[:keep_top_k]
    # rows class by class, each class in its walk order (the kernel's map)
    kept = kept[np.argsort(labels[kept], kind='stable')]
    labels, indices = labels[kept], indices[kept]
    return np.concatenate([labels[:, None].astype(np.float32),
                           scores[labels, indices][:, None],
                           boxes[indices]], axis=1).reshape(-1, 6)
