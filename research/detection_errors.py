"""What a detector's detections are: hits, duplicates, mislocated boxes,
class confusions and background, and which class each object is taken for.

A small error breakdown in the spirit of Hoiem et al. (ECCV 2012) and TIDE,
on a COCO ground-truth json and a COCO results json (``bbox.json`` as
``tools/eval.py --output_eval DIR`` writes it).  Detections are matched in
decreasing score per image, greedily as COCO's evaluation does at one IoU
threshold; each detection gets exactly one type:

``tp``
    IoU >= ``iou_thr`` with a not yet matched object of its class;
``duplicate``
    IoU >= ``iou_thr`` with an object of its class that an earlier (higher
    scoring) detection already matched;
``class``
    IoU >= ``iou_thr`` with an object of another class only;
``localization``
    IoU in ``[bg_iou, iou_thr)`` with an object of its class;
``background``
    everything else.

Crowd objects (``iscrowd: 1``) are left out on both sides: detections
matching one at ``iou_thr`` are dropped, as COCO ignores them.
"""
import json
import os

import numpy as np

__all__ = ['ERROR_TYPES', 'box_iou_xywh', 'load_detection_pair',
           'classify_detections', 'error_breakdown', 'class_confusion',
           'objects_by_size', 'format_breakdown', 'format_confusion',
           'format_sizes', 'category_names', 'summarize']

ERROR_TYPES = ('tp', 'duplicate', 'class', 'localization', 'background')


def box_iou_xywh(a, b):
    """IoU of COCO ``[x, y, w, h]`` boxes.

    Args:
        a (np.ndarray): ``(N, 4)``.
        b (np.ndarray): ``(M, 4)``.

    Returns:
        np.ndarray: float64 ``(N, M)``; 0 where both boxes are empty.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, :2] + a[:, None, 2:], b[None, :, :2] + b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as err:
        raise ValueError('{}: cannot read {!r}: {}'.format(
            what, path, err.strerror or err)) from None
    except ValueError as err:
        raise ValueError('{}: {!r} is not valid json: {}'.format(
            what, path, err)) from None


def load_detection_pair(gt_json, det_json):
    """Read a COCO ground-truth file and a COCO results file.

    Args:
        gt_json (str): instances json (``images``, ``annotations``,
            ``categories``).
        det_json (str): list of ``{image_id, category_id, bbox, score}``.

    Returns:
        tuple: ``(gt, dets)`` dicts as loaded.

    Raises:
        ValueError: unreadable file, or a detection on an image or category
            the ground truth does not have (named with its index).
    """
    gt = _read_json(gt_json, 'ground truth')
    dets = _read_json(det_json, 'detections')
    for key in ('images', 'annotations', 'categories'):
        if not isinstance(gt, dict) or not isinstance(gt.get(key), list):
            raise ValueError("ground truth {!r}: expected a COCO instances "
                             "json with a '{}' list".format(gt_json, key))
    if not isinstance(dets, list):
        raise ValueError('detections {!r}: expected a list of COCO results'
                         .format(det_json))
    image_ids = {im['id'] for im in gt['images']}
    category_ids = {c['id'] for c in gt['categories']}
    for i, d in enumerate(dets):
        missing = [k for k in ('image_id', 'category_id', 'bbox', 'score')
                   if k not in d]
        if missing:
            raise ValueError('detections {!r}: entry {} has no {}'.format(
                det_json, i, ', '.join(missing)))
        if d['image_id'] not in image_ids:
            raise ValueError('detections {!r}: entry {} is on image_id {!r}, '
                             'which {} does not list'.format(
                                 det_json, i, d['image_id'], gt_json))
        if d['category_id'] not in category_ids:
            raise ValueError('detections {!r}: entry {} has category_id {!r}, '
                             'which {} does not list'.format(
                                 det_json, i, d['category_id'], gt_json))
    return gt, dets


def classify_detections(gt, dets, iou_thr=0.5, bg_iou=0.1):
    """The type of every detection (see the module docstring).

    Args:
        gt (dict): COCO instances.
        dets (list[dict]): COCO results.
        iou_thr (float): match threshold.
        bg_iou (float): lowest same-class IoU still counted as a
            localization error.

    Returns:
        tuple: ``(scores, types)``, float64 ``(D,)`` and object-dtype
        ``(D,)`` of :data:`ERROR_TYPES`, in decreasing score; detections
        matching a crowd object are not in them.
    """
    objects = {}
    for ann in gt['annotations']:
        objects.setdefault(ann['image_id'], []).append(ann)
    by_image = {}
    for d in dets:
        by_image.setdefault(d['image_id'], []).append(d)
    scores, types = [], []
    for image_id, image_dets in by_image.items():
        image_dets = sorted(image_dets, key=lambda d: -d['score'])
        anns = objects.get(image_id, [])
        crowd = np.array([bool(a.get('iscrowd', 0)) for a in anns], bool)
        labels = np.array([a['category_id'] for a in anns], np.int64)
        iou = box_iou_xywh([d['bbox'] for d in image_dets],
                           [a['bbox'] for a in anns])
        matched = np.zeros(len(anns), bool)
        for i, d in enumerate(image_dets):
            same = (labels == d['category_id']) & ~crowd
            hit = same & (iou[i] >= iou_thr)
            free = hit & ~matched
            if free.any():
                j = np.flatnonzero(free)[np.argmax(iou[i][free])]
                matched[j] = True
                kind = 'tp'
            elif hit.any():
                kind = 'duplicate'
            elif (crowd & (iou[i] >= iou_thr)).any():
                continue  # COCO ignores detections on crowd regions
            elif (~same & ~crowd & (iou[i] >= iou_thr)).any():
                kind = 'class'
            elif (same & (iou[i] >= bg_iou)).any():
                kind = 'localization'
            else:
                kind = 'background'
            scores.append(float(d['score']))
            types.append(kind)
    order = np.argsort(-np.asarray(scores, np.float64), kind='stable')
    return (np.asarray(scores, np.float64)[order],
            np.asarray(types, object)[order])


def error_breakdown(scores, types, edges=(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0)):
    """Detections of each type per score interval.

    Args:
        scores, types: from :func:`classify_detections`.
        edges (tuple[float]): increasing interval edges; the last interval
            includes its upper edge, scores below ``edges[0]`` are left out.

    Returns:
        list[dict]: one per interval, highest first: ``low``, ``high`` and a
        count per type in :data:`ERROR_TYPES`.
    """
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError('edges: expected at least two increasing numbers, '
                         'got {!r}'.format(edges))
    rows = []
    for k in range(len(edges) - 2, -1, -1):
        low, high = edges[k], edges[k + 1]
        upper = scores <= high if k == len(edges) - 2 else scores < high
        inside = (scores >= low) & upper
        row = {'low': low, 'high': high}
        row.update({t: int(np.sum(types[inside] == t)) for t in ERROR_TYPES})
        rows.append(row)
    return rows


def class_confusion(gt, dets, score_thr=0.4, iou_thr=0.5):
    """Which class the detections on each object's box carry.

    Every detection with ``score >= score_thr`` is paired with the non-crowd
    object it overlaps most, when that IoU is ``>= iou_thr``.

    Returns:
        tuple: ``(matrix, category_ids)``; ``matrix[p, t]`` counts detections
        of category ``category_ids[p]`` on objects of ``category_ids[t]``
        (int64 ``(C, C)``).
    """
    category_ids = [c['id'] for c in gt['categories']]
    column = {c: k for k, c in enumerate(category_ids)}
    matrix = np.zeros((len(category_ids), len(category_ids)), np.int64)
    objects = {}
    for ann in gt['annotations']:
        if not ann.get('iscrowd', 0):
            objects.setdefault(ann['image_id'], []).append(ann)
    for d in dets:
        anns = objects.get(d['image_id'], [])
        if d['score'] < score_thr or not anns:
            continue
        iou = box_iou_xywh([d['bbox']], [a['bbox'] for a in anns])[0]
        best = int(np.argmax(iou))
        if iou[best] >= iou_thr:
            matrix[column[d['category_id']], column[anns[best]['category_id']]] += 1
    return matrix, category_ids


def objects_by_size(gt, dets, edges=(0, 12, 16, 24, 36, float('inf')),
                    iou_thr=0.5, tight_iou=0.75):
    """How well the objects of each size are found, classified and located.

    An object's size is ``sqrt(w * h)`` of its box, in pixels.  Per object,
    among the detections (any score) with IoU >= ``iou_thr`` with it:

    ``found``
        there is one, of any class;
    ``class_right``
        the highest-scoring one has the object's class;
    ``tight``
        one of its class has IoU >= ``tight_iou``.

    Crowd objects are left out.

    Returns:
        list[dict]: one per size interval ``[low, high)``: ``low``, ``high``,
        ``objects`` (count) and the fractions ``found``, ``class_right``,
        ``tight`` (0 for an empty interval).
    """
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError('edges: expected at least two increasing numbers, '
                         'got {!r}'.format(edges))
    objects, by_image = {}, {}
    for ann in gt['annotations']:
        if not ann.get('iscrowd', 0):
            objects.setdefault(ann['image_id'], []).append(ann)
    for d in dets:
        by_image.setdefault(d['image_id'], []).append(d)
    sizes, found, right, tight = [], [], [], []
    for image_id, anns in objects.items():
        image_dets = by_image.get(image_id, [])
        boxes = np.array([a['bbox'] for a in anns], np.float64)
        # (D, A): one IoU matrix per image, scores and labels as columns
        iou = box_iou_xywh([d['bbox'] for d in image_dets], boxes)
        labels = np.array([d['category_id'] for d in image_dets], np.int64)
        scores = np.array([d['score'] for d in image_dets], np.float64)
        near = iou >= iou_thr
        own = labels[:, None] == np.array([a['category_id'] for a in anns])
        top = np.argmax(np.where(near, scores[:, None], -np.inf), axis=0) \
            if len(image_dets) else np.zeros(len(anns), np.int64)
        sizes.extend(np.sqrt(boxes[:, 2] * boxes[:, 3]))
        found.extend(near.any(0))
        right.extend(near.any(0) & (own[top, np.arange(len(anns))]
                                    if len(image_dets) else False))
        tight.extend((own & (iou >= tight_iou)).any(0))
    sizes, found, right, tight = (np.asarray(v) for v in
                                  (sizes, found, right, tight))
    rows = []
    for low, high in zip(edges, edges[1:]):
        inside = (sizes >= low) & (sizes < high)
        n = int(inside.sum())
        rows.append({'low': low, 'high': high, 'objects': n,
                     **{k: float(v[inside].mean()) if n else 0.0 for k, v in
                        (('found', found), ('class_right', right),
                         ('tight', tight))}})
    return rows


def format_sizes(rows, iou_thr=0.5, tight_iou=0.75):
    """Markdown table of :func:`objects_by_size`'s rows."""
    lines = ['| object size (px) | objects | found (IoU >= {0}) | top '
             'detection has its class | own class at IoU >= {1} |'
             .format(iou_thr, tight_iou), '|---|---:|---:|---:|---:|']
    for r in rows:
        high = '' if np.isinf(r['high']) else '{:g}'.format(r['high'])
        lines.append('| {:g}-{} | {} | {:.2f} | {:.2f} | {:.2f} |'.format(
            r['low'], high, r['objects'], r['found'], r['class_right'],
            r['tight']))
    return '\n'.join(lines)


def format_breakdown(rows):
    """Markdown table of :func:`error_breakdown`'s rows."""
    lines = ['| score | ' + ' | '.join(ERROR_TYPES) + ' |',
             '|---|' + '---:|' * len(ERROR_TYPES)]
    for r in rows:
        lines.append('| {:.2f}-{:.2f} | '.format(r['low'], r['high']) +
                     ' | '.join(str(r[t]) for t in ERROR_TYPES) + ' |')
    return '\n'.join(lines)


def format_confusion(matrix, names):
    """Markdown table: rows = detected class, columns = the object's class."""
    lines = ['| detected \\ object | ' + ' | '.join(names) + ' |',
             '|---|' + '---:|' * len(names)]
    for name, row in zip(names, matrix):
        lines.append('| {} | '.format(name) + ' | '.join(str(int(v)) for v in row) + ' |')
    return '\n'.join(lines)


def category_names(gt):
    """Names in ``gt['categories']`` order."""
    return [str(c.get('name', c['id'])) for c in gt['categories']]


def summarize(gt_json, det_json, score_thr=0.4, iou_thr=0.5):
    """Both tables as markdown text, for one model's ``bbox.json``."""
    gt, dets = load_detection_pair(gt_json, det_json)
    scores, types = classify_detections(gt, dets, iou_thr=iou_thr)
    matrix, _ = class_confusion(gt, dets, score_thr, iou_thr)
    sizes = objects_by_size(gt, dets, iou_thr=iou_thr)
    return ('detections of {} on {} ({} objects), matched at IoU {}\n\n{}\n\n'
            'class of the detections with score >= {} on each object\n\n{}\n\n'
            'objects by size (detections of any score)\n\n{}\n'
            .format(os.path.basename(det_json), os.path.basename(gt_json),
                    len(gt['annotations']), iou_thr,
                    format_breakdown(error_breakdown(scores, types)),
                    score_thr, format_confusion(matrix, category_names(gt)),
                    format_sizes(sizes, iou_thr)))
