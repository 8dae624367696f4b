"""Draw a trained detector's detections on eval images, as one PNG grid.

    python tools/draw_detections.py -c CONFIG -o weights=PATH \
        [--num_images 8] [--draw_threshold 0.3] [--output logs/demo_detections.png]

Each tile is a val image with its boxes, class names and scores (and the
ground truth as thin white boxes).
"""
import json
import os

import cv2
import numpy as np
from _common import ArgsParser, fail, load_tool_config, trainer_with_weights


COLOURS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48),
           (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60)]


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--num_images', type=int, default=8)
    parser.add_argument('--draw_threshold', type=float, default=0.3)
    parser.add_argument('--scale', type=int, default=3,
                        help='upscale small images by this factor for legibility')
    parser.add_argument('--output', default='output/detections.png')
    return parser.parse_args(argv)


def eval_images(cfg, count):
    """The first ``count`` images of the eval set, with names and ground truth."""
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
    """One BGR tile: ground truth (thin white), detections >= threshold."""
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


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)
    paths, truth, _, categories = eval_images(cfg, args.num_images)
    if not paths:
        fail('the eval set has no images')
    trainer = trainer_with_weights(cfg, 'test')
    results = trainer.predict(paths, draw_threshold=args.draw_threshold,
                              output_dir=os.path.dirname(args.output) or '.',
                              visualize=False)
    # class index -> name, in the dataset's category order (as ppdet maps them)
    class_names = [c['name'] for c in sorted(categories, key=lambda c: c['id'])]
    tiles, start = [], 0
    boxes = np.concatenate([r['bbox'] for r in results])
    counts = np.concatenate([r['bbox_num'] for r in results])
    for path, gt, num in zip(paths, truth, counts):
        tiles.append(draw_tile(path, boxes[start:start + num], gt, class_names,
                               args.draw_threshold, args.scale))
        start += num
    cols = min(4, len(tiles))
    while len(tiles) % cols:
        tiles.append(np.zeros_like(tiles[0]))
    grid = np.vstack([np.hstack(tiles[i:i + cols])
                      for i in range(0, len(tiles), cols)])
    os.makedirs(os.path.dirname(args.output) or '.', exist_ok=True)
    cv2.imwrite(args.output, grid)
    print('detections drawn on {} val images: {}'.format(len(paths), args.output))


if __name__ == '__main__':
    main()
