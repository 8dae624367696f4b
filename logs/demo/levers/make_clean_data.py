"""Lever record, not part of the package: the demo generator with every drawn
shape annotated and at most MAX_OCC of each shape covered (placements that
would break this are redrawn, up to 30 tries an image).

    python logs/demo/levers/make_clean_data.py OUT MIN_SIDE MAX_FRAC MAX_OCC MIN_OBJ MAX_OBJ
    # the 'clean 12-57 px' run of docs/demo.md: OUT 12 0.45 0.35 1 6
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', '..', '..'))
import numpy as np
from ppdet_ghm.data import demo_dataset as d
out, min_side, max_frac, max_occ, min_obj, max_obj = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
d.MIN_SIDE, d.MAX_SIDE_FRACTION = min_side, max_frac
def render(rng, size):
    img = d._background(rng, size); mean = img.reshape(-1, 3).mean(0)
    d._draw_clutter(rng, img, int(rng.integers(2, 7)))
    masks, labels = [], []
    want = int(rng.integers(min_obj, max_obj + 1)); tries = 0
    while len(masks) < want and tries < 30:
        tries += 1
        label = int(rng.integers(0, len(d.CLASSES))); box = d._random_box(rng, size)
        mask = d.shape_mask(label, box, size, flip=bool(rng.random() < 0.5), apex=float(rng.random()))
        if any(d.visible_objects(masks + [mask], max_occ) != list(range(len(masks) + 1)) for _ in [0]):
            continue
        img[mask] = d._contrasting_colour(rng, mean); masks.append(mask); labels.append(label)
    d._draw_clutter(rng, img, int(rng.integers(0, 3)))
    return img, [(labels[i], d.tight_box(masks[i]), float(masks[i].sum())) for i in range(len(masks))]
d.render_image = render
t = time.time()
info = d.generate_demo_dataset(out)
print(info['train_objects'], info['val_objects'], time.time() - t)
