"""Annotation noise for a COCO training split, deterministic per seed.

Three kinds, applied in this order to a COCO annotation dict:

* ``missing``: ``round(missing * N)`` of the ``N`` annotations are removed
  (chosen uniformly).  An image left without boxes stays in ``images``: it
  trains as background (the training dataset must then allow empty images,
  ``allow_empty: true``, which the study runner sets).
* ``wrong_class``: ``round(wrong_class * K)`` of the ``K`` annotations that
  are left get another category, uniform over the other categories.
* ``box_jitter``: every corner coordinate of every box left moves by
  ``u * box_jitter * side`` (``u`` uniform in ``[-1, 1]``, ``side`` the
  box's width for x, height for y), clipped to the image; a box keeps at
  least 1 px a side.  ``area`` becomes the new box's.

Crowd annotations are noised like the others.  The same input, fractions
and seed give the same output (numpy's ``default_rng([seed, NOISE_STREAM])``).
Only the training split is meant to be noised: validation stays clean.
"""
import copy
import json
import numbers
import os

import numpy as np

__all__ = ['NOISE_KINDS', 'NoiseError', 'check_noise', 'noise_annotations',
           'write_noisy_annotations']

NOISE_KINDS = ('missing', 'wrong_class', 'box_jitter')
NOISE_STREAM = 7  # keeps the noise draws apart from other users of the seed


class NoiseError(ValueError):
    """A noise setting or an annotation file the noise cannot apply to."""


def check_noise(noise, where='noise'):
    """The noise setting ``noise`` (a mapping of :data:`NOISE_KINDS` to
    fractions in ``[0, 1]``, missing ones 0) as a dict of all three.

    Raises:
        NoiseError: naming ``where`` and the key or value.
    """
    if noise is None:
        noise = {}
    if not isinstance(noise, dict):
        raise NoiseError('{}: expected a mapping of {} to fractions, got {!r}'
                         .format(where, ', '.join(NOISE_KINDS), noise))
    unknown = sorted(set(noise) - set(NOISE_KINDS))
    if unknown:
        raise NoiseError('{}: unknown key {!r} (expected {})'.format(
            where, unknown[0], ', '.join(NOISE_KINDS)))
    checked = {}
    for kind in NOISE_KINDS:
        value = noise.get(kind, 0.0)
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not 0.0 <= value <= 1.0:
            raise NoiseError('{}.{}: expected a fraction in [0, 1], got {!r}'
                             .format(where, kind, value))
        checked[kind] = float(value)
    return checked


def _jitter(boxes, sizes, fraction, rng):
    """``boxes`` ``(K, 4)`` as x, y, w, h with each corner coordinate moved
    by up to ``fraction`` of the box side, clipped to ``sizes`` ``(K, 2)``
    (image width, height)."""
    x1, y1, w, h = boxes.T
    move = rng.uniform(-1.0, 1.0, size=(len(boxes), 4)) * fraction
    nx1 = np.clip(x1 + move[:, 0] * w, 0, sizes[:, 0] - 1)
    ny1 = np.clip(y1 + move[:, 1] * h, 0, sizes[:, 1] - 1)
    nx2 = np.clip(x1 + w + move[:, 2] * w, 0, sizes[:, 0])
    ny2 = np.clip(y1 + h + move[:, 3] * h, 0, sizes[:, 1])
    nx2 = np.maximum(nx2, nx1 + 1.0)
    ny2 = np.maximum(ny2, ny1 + 1.0)
    return np.stack([nx1, ny1, nx2 - nx1, ny2 - ny1], axis=1)


def noise_annotations(coco, noise, seed):
    """A copy of the COCO dict ``coco`` with ``noise`` applied.

    Args:
        coco (dict): COCO annotations (``images``, ``annotations``,
            ``categories``).
        noise (dict): see :func:`check_noise`.
        seed (int): the draw; the same seed gives the same result.

    Returns:
        (dict, dict): the noisy COCO dict and a report: ``annotations``
        (before), ``removed``, ``relabelled``, ``jittered``,
        ``images_emptied`` (images that had boxes and have none now).

    Raises:
        NoiseError: bad ``noise``, or ``wrong_class`` > 0 with fewer than two
            categories.
    """
    noise = check_noise(noise)
    rng = np.random.default_rng([int(seed), NOISE_STREAM])
    out = copy.deepcopy(coco)
    anns = out.get('annotations') or []
    total = len(anns)

    num_removed = int(round(noise['missing'] * total))
    removed = set(rng.choice(total, size=num_removed, replace=False).tolist()) \
        if num_removed else set()
    kept = [a for i, a in enumerate(anns) if i not in removed]

    num_relabelled = int(round(noise['wrong_class'] * len(kept)))
    if num_relabelled:
        category_ids = sorted(c['id'] for c in out.get('categories') or [])
        if len(category_ids) < 2:
            raise NoiseError('noise.wrong_class {}: needs at least two '
                             'categories, the annotations have {}'.format(
                                 noise['wrong_class'], len(category_ids)))
        for i in rng.choice(len(kept), size=num_relabelled, replace=False):
            others = [c for c in category_ids if c != kept[i]['category_id']]
            kept[i]['category_id'] = int(others[rng.integers(len(others))])

    num_jittered = 0
    if noise['box_jitter'] > 0 and kept:
        sizes_by_image = {im['id']: (im['width'], im['height'])
                          for im in out['images']}
        boxes = np.array([a['bbox'] for a in kept], dtype=np.float64)
        sizes = np.array([sizes_by_image[a['image_id']] for a in kept],
                         dtype=np.float64)
        for ann, box in zip(kept, _jitter(boxes, sizes, noise['box_jitter'],
                                          rng)):
            ann['bbox'] = [round(float(v), 2) for v in box]
            ann['area'] = round(ann['bbox'][2] * ann['bbox'][3], 2)
        num_jittered = len(kept)

    had_boxes = {a['image_id'] for a in anns}
    has_boxes = {a['image_id'] for a in kept}
    out['annotations'] = kept
    report = {'annotations': total, 'removed': num_removed,
              'relabelled': num_relabelled, 'jittered': num_jittered,
              'images_emptied': len(had_boxes - has_boxes)}
    return out, report


def write_noisy_annotations(source, target, noise, seed):
    """Read the COCO json ``source``, write its noisy copy to ``target``
    (atomically) with the noise and the report under ``info.noise``.

    Returns:
        dict: the report of :func:`noise_annotations`.

    Raises:
        NoiseError: ``source`` cannot be read as COCO annotations, or a bad
            noise setting.
    """
    try:
        with open(source) as f:
            coco = json.load(f)
    except (OSError, ValueError) as err:
        raise NoiseError("cannot read the annotations '{}': {}".format(
            source, getattr(err, 'strerror', None) or err)) from err
    if not isinstance(coco, dict) or not isinstance(
            coco.get('images'), list) or not isinstance(
                coco.get('annotations', []), list):
        raise NoiseError("'{}': expected COCO annotations (a mapping with "
                         "'images' and 'annotations' lists)".format(source))
    noisy, report = noise_annotations(coco, noise, seed)
    info = dict(noisy.get('info') or {})
    info['noise'] = {'source': os.path.abspath(source), 'seed': int(seed),
                     'setting': check_noise(noise), 'report': report}
    noisy['info'] = info
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    partial = target + '.partial'
    with open(partial, 'w') as f:
        json.dump(noisy, f)
    os.replace(partial, target)
    return report
