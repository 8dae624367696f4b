"""A trained detector's detections drawn on eval images, as one image grid
(``tools/draw_detections.py``).

Each tile is an eval image, upscaled, with its ground truth as thin white
boxes and the detections at or above a score threshold as coloured boxes
labelled with class name and score. Images are BGR ``uint8`` arrays
``(H, W, 3)`` as OpenCV reads them.
"""
import json
import os

import cv2
import numpy as np

__all__ = ['COLOURS', 'eval_images', 'draw_tile', 'tile_grid',
           'draw_detections']

# RGB, one per class index (cycled)
COLOURS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60)]


def eval_images(cfg, count):
    """The first ``count`` images (by id) of the config's ``EvalDataset``.

    Returns:
        (paths, truth, names, categories): image paths; per image, its
        ground-truth boxes as COCO ``[x, y, w, h]``; category id -> name;
        the annotation file's ``categories`` list.
    """
    ds = cfg['EvalDataset']
    root = ds['dataset_dir']
    with open(os.path.join(root, ds['anno_path'])) as f:
        coco = json.load(f)
    names = {c['id']: c['name'] for c in coco['categories']}
    images = sorted(coco['images'], key=lambda im: im['id'])[:count]
    truth = {im['id']: [] for im in images}
    for ann in coco['annotations']:
        if ann['image_id'] in truth:
            truth[ann['image_id']].append(ann['bbox'])
    paths = [os.path.join(root, ds['image_dir'], im['file_name']) for im in images]
    return paths, [truth[im['id']] for im in images], names, coco['categories']


def draw_tile(path, detections, truth, class_names, threshold, scale):
    """One BGR tile: the image at ``path`` upscaled ``scale`` times, ground
    truth ``[x, y, w, h]`` boxes (thin white), and the ``detections`` rows
    ``[class index, score, x1, y1, x2, y2]`` scoring >= ``threshold``
    labelled ``class_names[class index]`` and the score."""
    img = cv2.imread(path)
    img = cv2.resize(img, None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_NEAREST)
    for x, y, w, h in truth:
        cv2.rectangle(img, (int(x * scale), int(y * scale)),
                      (int((x + w) * scale), int((y + h) * scale)),
                      (255, 255, 255), 1)
    for cls, score, x1, y1, x2, y2 in detections:
        if score < threshold:
            continue
        colour = COLOURS[int(cls) % len(COLOURS)][::-1]
        p1 = (int(x1 * scale), int(y1 * scale))
        cv2.rectangle(img, p1, (int(x2 * scale), int(y2 * scale)), colour, 2)
        label = '{} {:.2f}'.format(class_names[int(cls)], score)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
        cv2.rectangle(img, (p1[0], p1[1] - th - 4), (p1[0] + tw + 2, p1[1]),
                      colour, -1)
        cv2.putText(img, label, (p1[0] + 1, p1[1] - 3),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return img


def tile_grid(tiles, cols=4):
    """Tiles of one shape in rows of ``min(cols, len(tiles))``, the last row
    padded with black tiles; returns one image."""
    tiles = list(tiles)
    cols = min(cols, len(tiles))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    return np.vstack([np.hstack(tiles[i:i + cols])
                      for i in range(0, len(tiles), cols)])


def draw_detections(trainer, paths, truth, categories, threshold, scale, output):
    """Detect on ``paths`` with ``trainer`` and write the grid of
    :func:`draw_tile` tiles to the image file ``output``.

    Args:
        trainer (ppdet.engine.Trainer): in ``'test'`` mode, weights loaded.
        paths, truth, categories: as :func:`eval_images` returns them.
        threshold (float): lowest score drawn (also ppdet's draw threshold).
        scale (int): upscaling factor of each image.
        output (str): the image to write (its directory is created).
    """
    from ..engine import predict     # paddle: imported when drawing
    out_dir = os.path.dirname(output) or '.'
    results = predict(trainer, paths, draw_threshold=threshold,
                      output_dir=out_dir, visualize=False)
    # class index -> name, in the dataset's category order (as ppdet maps them)
    class_names = [c['name'] for c in sorted(categories, key=lambda c: c['id'])]
    tiles, start = [], 0
    boxes = np.concatenate([r['bbox'] for r in results])
    counts = np.concatenate([r['bbox_num'] for r in results])
    for path, gt, num in zip(paths, truth, counts):
        tiles.append(draw_tile(path, boxes[start:start + num], gt, class_names,
                               threshold, scale))
        start += num
    os.makedirs(out_dir, exist_ok=True)
    cv2.imwrite(output, tile_grid(tiles))
