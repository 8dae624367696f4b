"""A small, deterministic COCO-format detection dataset for demos and tests.

Square images show 1-6 filled shapes of four classes (:data:`CLASSES`) with
varied size (12 to 57 px on 128-px images), aspect ratio and colour.  Shapes
may overlap; one covered more than :data:`MAX_OCCLUDED` of its pixels by
shapes drawn after it is left out of the annotations (what is still visible
of it stays as clutter).
Unannotated distractors -- thin lines, short open arcs, scribbles and specks --
sit on textured backgrounds (colour gradient, blotches, optional stripes,
pixel noise).

Layout written to ``output_dir``::

    train/000001.jpg ...           val/003201.jpg ...
    annotations/instances_train.json  annotations/instances_val.json
    annotations/demo_dataset.json     (the generation parameters)

The same parameters and seed give byte-identical files; only numpy's
``default_rng`` is used: ``default_rng(seed)`` for the training images,
``default_rng([seed, VAL_STREAM])`` for the val images, so the val set does
not change with ``num_train`` and a smaller training set is a prefix of a
larger one.  Command line::

    python tools/make_demo_data.py --output_dir dataset/ghm_demo
"""
import argparse
import json
import numbers
import os
import shutil

import cv2
import numpy as np

__all__ = ['CLASSES', 'generate_demo_dataset', 'main', 'visible_objects',
           'dataset_params', 'existing_params',
           'tight_box', 'shape_mask']

CLASSES = ['circle', 'rectangle', 'triangle', 'cross']
JPEG_QUALITY = 90
# An object with more than this fraction of its pixels covered by objects
# drawn after it is not annotated.
MAX_OCCLUDED = 0.6
# Smallest object side (sqrt of the box area before rounding), px.  The
# demo's smallest anchor is 16 px (2x the stride of 8); a 12-px object still
# overlaps it at IoU >= 0.5, the assigner's positive threshold.  Smaller ones
# are matched only as low-quality matches, and the demo detectors found
# almost none of them (docs/demo.md, "Object sizes and tower depth").
MIN_SIDE = 12
MAX_SIDE_FRACTION = 0.45     # largest object side, as a fraction of the image
MAX_OBJECTS = 6
FLOAT_DIGITS = 2             # rounding of floats written to json
PARAMS_FILE = 'demo_dataset.json'
DEFAULTS = {'num_train': 3200, 'num_val': 500, 'image_size': 128, 'seed': 0}
# The val images come from their own stream, so the val set is the same
# whatever num_train is (training sets of different sizes are comparable).
VAL_STREAM = 1


# --------------------------------------------------------------- drawing ----
def _background(rng, size):
    """Textured background: colour gradient + smooth blotches + optional
    stripes + pixel noise.

    Returns:
        np.ndarray: uint8 ``(size, size, 3)`` BGR image.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    c0, c1 = rng.uniform(40, 215, 3), rng.uniform(40, 215, 3)
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1) + 1) / 2
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    coarse = rng.normal(0, 1, (4, 4, 3)).astype(np.float32)
    img += cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC) \
        * rng.uniform(0, 14)
    if rng.random() < 0.6:
        period = rng.uniform(4, 16)
        angle = rng.uniform(0, np.pi)
        phase = (xx * np.cos(angle) + yy * np.sin(angle)) * size / period
        img += np.sin(2 * np.pi * phase)[..., None] * rng.uniform(4, 18)
    img += rng.normal(0, rng.uniform(2, 10), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _contrasting_colour(rng, reference):
    """A random colour far (L1 > 150) from ``reference`` (float ``(3,)``).

    Returns:
        np.ndarray: int64 ``(3,)`` BGR colour.
    """
    for _ in range(20):
        colour = rng.integers(0, 256, 3)
        if np.abs(colour - reference).sum() > 150:
            return colour
    return 255 - np.round(reference).astype(np.int64)


def shape_mask(label, box, size, flip=False, apex=0.5):
    """Mask of one filled shape inscribed in ``box``.

    Args:
        label (int): index into :data:`CLASSES`.
        box (tuple[int]): ``(x0, y0, w, h)`` in pixels, inside the image.
        size (int): image side.
        flip (bool): triangles only: apex at the bottom instead of the top.
        apex (float): triangles only: apex position along the box's width,
            in ``[0, 1]``.

    Returns:
        np.ndarray: bool ``(size, size)``; its tight box is ``box``.
    """
    x0, y0, w, h = box
    x1, y1 = x0 + w - 1, y0 + h - 1          # inclusive far corner
    mask = np.zeros((size, size), np.uint8)
    name = CLASSES[label]
    if name == 'circle':  # an axis-aligned ellipse touching the box's sides
        centre = ((x0 + x1) / 2, (y0 + y1) / 2)
        cv2.ellipse(mask, (centre, (w - 1, h - 1), 0), 1, -1)
    elif name == 'rectangle':
        mask[y0:y1 + 1, x0:x1 + 1] = 1
    elif name == 'triangle':
        top, bottom = (y1, y0) if flip else (y0, y1)
        pts = np.array([[x0 + round(apex * (w - 1)), top], [x0, bottom],
                        [x1, bottom]], np.int32)
        cv2.fillPoly(mask, [pts], 1)
    elif name == 'cross':  # two bars, each a third of the box thick
        tw, th = max(w // 3, 2), max(h // 3, 2)
        bx, by = x0 + (w - tw) // 2, y0 + (h - th) // 2
        mask[y0:y1 + 1, bx:bx + tw] = 1
        mask[by:by + th, x0:x1 + 1] = 1
    else:
        raise ValueError('label: unknown class index {!r}'.format(label))
    return mask.astype(bool)


def _draw_clutter(rng, img, count):
    """Draw ``count`` unannotated distractors into ``img`` (uint8
    ``(S, S, 3)``, modified in place): 1-px lines, open arcs (< 150 deg),
    random-walk scribbles and 1-2 px specks -- none is a filled blob of an
    object's size."""
    size = img.shape[0]
    for _ in range(count):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = int(rng.integers(0, 4))
        x, y = (int(v) for v in rng.integers(0, size, 2))
        if kind == 0:    # thin straight line
            x2, y2 = (int(v) for v in rng.integers(0, size, 2))
            cv2.line(img, (x, y), (x2, y2), colour, 1)
        elif kind == 1:  # open arc
            radius = int(rng.integers(5, max(6, size // 6)))
            start = int(rng.integers(0, 360))
            cv2.ellipse(img, (x, y), (radius, radius), 0, start,
                        start + int(rng.integers(30, 150)), colour, 1)
        elif kind == 2:  # scribble: a short random-walk polyline
            steps = rng.normal(0, size / 16, (int(rng.integers(3, 7)), 2))
            pts = np.clip(np.cumsum(steps, 0) + (x, y), 0, size - 1)
            cv2.polylines(img, [np.round(pts).astype(np.int32)], False,
                          colour, 1)
        else:            # a few specks of 1-2 px
            for _ in range(int(rng.integers(2, 6))):
                sx, sy = (int(v) for v in rng.integers(0, size - 1, 2))
                s = int(rng.integers(1, 3))
                img[sy:sy + s, sx:sx + s] = colour


# ------------------------------------------------------------ annotation ----
def tight_box(mask):
    """COCO box of a non-empty mask.

    Args:
        mask (np.ndarray): bool ``(H, W)``.

    Returns:
        list[float]: ``[x, y, w, h]`` on pixel edges (a 1-pixel mask at
        ``(0, 0)`` gives ``[0, 0, 1, 1]``).
    """
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()),
            float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def visible_objects(masks, max_occluded=MAX_OCCLUDED):
    """Indices of the objects to annotate, given their masks in drawing order.

    An object is kept when at most ``max_occluded`` of its own pixels are
    covered by the union of the objects drawn after it (the last one drawn is
    therefore always kept).

    Args:
        masks (list[np.ndarray]): bool ``(H, W)`` masks, first drawn first.
        max_occluded (float): largest covered fraction that is still kept.

    Returns:
        list[int]: increasing indices into ``masks``.
    """
    keep = []
    covered = None
    for i in range(len(masks) - 1, -1, -1):
        own = int(masks[i].sum())
        hidden = 0 if covered is None else int((masks[i] & covered).sum())
        if own and hidden <= max_occluded * own:
            keep.append(i)
        covered = masks[i].copy() if covered is None else covered | masks[i]
    return keep[::-1]


def _random_box(rng, size):
    """A random object box ``(x0, y0, w, h)`` (ints) inside a ``size`` image:
    log-uniform side in ``[MIN_SIDE, MAX_SIDE_FRACTION * size]``, aspect
    ratio log-uniform in ``[1/2, 2]``."""
    side = np.exp(rng.uniform(np.log(MIN_SIDE),
                              np.log(MAX_SIDE_FRACTION * size)))
    ratio = np.sqrt(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    w = int(np.clip(round(side * ratio), 6, size - 2))
    h = int(np.clip(round(side / ratio), 6, size - 2))
    x0 = int(rng.integers(0, size - w + 1))
    y0 = int(rng.integers(0, size - h + 1))
    return x0, y0, w, h


def render_image(rng, size):
    """Draw one image and return it with its annotations.

    Args:
        rng (np.random.Generator): the only source of randomness.
        size (int): image side in pixels.

    Returns:
        tuple: ``(image, objects)``; ``image`` is uint8 ``(size, size, 3)``
        BGR, ``objects`` a list of ``(label, bbox, area)`` with ``label`` an
        index into :data:`CLASSES`, ``bbox`` the tight ``[x, y, w, h]`` of the
        whole shape (floats) and ``area`` its pixel count (float).
    """
    img = _background(rng, size)
    mean = img.reshape(-1, 3).mean(0)
    _draw_clutter(rng, img, int(rng.integers(2, 7)))
    masks, labels = [], []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        label = int(rng.integers(0, len(CLASSES)))
        box = _random_box(rng, size)
        mask = shape_mask(label, box, size, flip=bool(rng.random() < 0.5),
                          apex=float(rng.random()))
        img[mask] = _contrasting_colour(rng, mean)
        masks.append(mask)
        labels.append(label)
    _draw_clutter(rng, img, int(rng.integers(0, 3)))  # some on top, too
    return img, [(labels[i], tight_box(masks[i]), float(masks[i].sum()))
                 for i in visible_objects(masks)]


# --------------------------------------------------------------- writing ----
def _round(value):
    """Round floats (recursively in lists/dicts) to ``FLOAT_DIGITS``."""
    if isinstance(value, float):
        return round(value, FLOAT_DIGITS)
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def _write_json(path, obj):
    """Write ``obj`` as json with sorted keys and rounded floats."""
    with open(path, 'w') as f:
        json.dump(_round(obj), f, sort_keys=True, separators=(',', ':'))
        f.write('\n')


def _write_split(rng, root, split, count, size, first_image_id, first_ann_id):
    """Render ``count`` images into ``root/split`` and write
    ``root/annotations/instances_<split>.json``.

    Returns:
        tuple: ``(json_path, number_of_annotations)``.
    """
    os.makedirs(os.path.join(root, split))
    images, annotations = [], []
    for image_id in range(first_image_id, first_image_id + count):
        img, objects = render_image(rng, size)
        name = '{:06d}.jpg'.format(image_id)
        ok, data = cv2.imencode('.jpg', img,
                                [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError('JPEG encoding failed for ' + name)
        with open(os.path.join(root, split, name), 'wb') as f:
            f.write(data.tobytes())
        images.append({'id': image_id, 'file_name': name, 'width': size,
                       'height': size})
        for label, bbox, area in objects:
            annotations.append({
                'id': first_ann_id + len(annotations), 'image_id': image_id,
                'category_id': label + 1, 'bbox': bbox, 'area': area,
                'iscrowd': 0})
    categories = [{'id': i + 1, 'name': n, 'supercategory': 'shape'}
                  for i, n in enumerate(CLASSES)]
    path = os.path.join(root, 'annotations', 'instances_{}.json'.format(split))
    _write_json(path, {'images': images, 'annotations': annotations,
                       'categories': categories})
    return path, len(annotations)


def _check_args(output_dir, num_train, num_val, image_size, seed):
    """Raise ValueError naming the first bad argument and its value."""
    for name, value, low in (('num_train', num_train, 1),
                             ('num_val', num_val, 1),
                             ('image_size', image_size, 32),
                             ('seed', seed, 0)):
        if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                or value < low):
            raise ValueError('{}: expected an integer >= {}, got {!r}'.format(
                name, low, value))
    if not isinstance(output_dir, (str, os.PathLike)) or not str(output_dir):
        raise ValueError('output_dir: expected a directory path, got {!r}'
                         .format(output_dir))
    if os.path.exists(output_dir) and not os.path.isdir(output_dir):
        raise ValueError("output_dir: '{}' exists and is not a directory"
                         .format(output_dir))


def dataset_params(num_train, num_val, image_size, seed):
    """The parameters recorded in (and compared against) ``PARAMS_FILE``."""
    return {'num_train': int(num_train), 'num_val': int(num_val),
            'image_size': int(image_size), 'seed': int(seed),
            'classes': list(CLASSES), 'jpeg_quality': JPEG_QUALITY,
            'min_side': MIN_SIDE, 'max_side_fraction': MAX_SIDE_FRACTION,
            'max_occluded': MAX_OCCLUDED, 'max_objects': MAX_OBJECTS,
            'val_rng': [int(seed), VAL_STREAM]}


def existing_params(output_dir):
    """Parameters of a complete dataset already in ``output_dir``, or None."""
    try:
        with open(os.path.join(output_dir, 'annotations', PARAMS_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def generate_demo_dataset(output_dir, num_train=DEFAULTS['num_train'],
                          num_val=DEFAULTS['num_val'],
                          image_size=DEFAULTS['image_size'],
                          seed=DEFAULTS['seed']):
    """Write the dataset to ``output_dir`` (created if needed), replacing the
    ``train/``, ``val/`` and ``annotations/`` a previous run wrote there.

    Args:
        output_dir (str): dataset root.
        num_train (int): training images, >= 1; ids ``1..num_train``.
        num_val (int): validation images, >= 1; ids follow the training ones.
        image_size (int): side of the square images, >= 32.
        seed (int): seed of the images' random streams (module docstring),
            >= 0.

    Returns:
        dict: the parameters plus ``output_dir``, ``train_json``,
        ``val_json``, ``train_dir``, ``val_dir``, ``params_json`` (paths) and
        ``train_objects``, ``val_objects`` (annotation counts).
    """
    _check_args(output_dir, num_train, num_val, image_size, seed)
    output_dir = str(output_dir)
    for sub in ('annotations', 'train', 'val'):  # params file goes first
        path = os.path.join(output_dir, sub)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)
    os.makedirs(os.path.join(output_dir, 'annotations'))
    size = int(image_size)
    train_json, n_train = _write_split(
        np.random.default_rng(int(seed)), output_dir, 'train', int(num_train),
        size, 1, 1)
    val_json, n_val = _write_split(
        np.random.default_rng([int(seed), VAL_STREAM]), output_dir, 'val',
        int(num_val), size, int(num_train) + 1, n_train + 1)
    params = dataset_params(num_train, num_val, image_size, seed)
    params_json = os.path.join(output_dir, 'annotations', PARAMS_FILE)
    _write_json(params_json, params)  # last: marks the dataset complete
    return dict(params, output_dir=output_dir, train_json=train_json,
                val_json=val_json, params_json=params_json,
                train_dir=os.path.join(output_dir, 'train'),
                val_dir=os.path.join(output_dir, 'val'),
                train_objects=n_train, val_objects=n_val)


def main(argv=None):
    """Command line: generate the dataset unless the same one is there.

    Returns:
        int: 0 on success (bad arguments exit with status 2).
    """
    parser = argparse.ArgumentParser(
        description='Write the deterministic GHM demo dataset (COCO format).')
    parser.add_argument('--output_dir', default='dataset/ghm_demo',
                        help='dataset folder (train/, val/, annotations/)')
    parser.add_argument('--num_train', type=int, default=DEFAULTS['num_train'],
                        help='training images')
    parser.add_argument('--num_val', type=int, default=DEFAULTS['num_val'],
                        help='validation images')
    parser.add_argument('--image_size', type=int,
                        default=DEFAULTS['image_size'], help='side of the square images')
    parser.add_argument('--seed', type=int, default=DEFAULTS['seed'],
                        help='random seed of the drawing')
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if the same dataset exists')
    args = parser.parse_args(argv)
    try:
        _check_args(args.output_dir, args.num_train, args.num_val,
                    args.image_size, args.seed)
    except ValueError as err:
        parser.error(str(err))
    wanted = dataset_params(args.num_train, args.num_val, args.image_size,
                            args.seed)
    if not args.force and existing_params(args.output_dir) == wanted:
        print('demo dataset already in {} with the same parameters: nothing '
              'to do (use --force to regenerate)'.format(args.output_dir))
        return 0
    info = generate_demo_dataset(args.output_dir, args.num_train,
                                 args.num_val, args.image_size, args.seed)
    print('wrote {}: {} train images ({} objects), {} val images ({} objects)'
          .format(args.output_dir, args.num_train, info['train_objects'],
                  args.num_val, info['val_objects']))
    return 0
