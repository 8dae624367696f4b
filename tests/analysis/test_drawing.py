"""ppdet_ghm.analysis.drawing: eval images picked, detections drawn as tiles
in a grid (tools/draw_detections.py's logic)."""
import json
import os
import types

import cv2
import numpy as np

from ppdet_ghm.analysis.drawing import (COLOURS, draw_detections, draw_tile,
                                        eval_images, tile_grid)

CATEGORIES = [{'id': 7, 'name': 'disc'}, {'id': 3, 'name': 'square'}]


def _dataset(root, num_images=3, size=20):
    """Grey ``size`` px images with ids 3, 2, 1 (file order reversed), one
    object each; returns the config with its ``EvalDataset``."""
    os.makedirs(os.path.join(root, 'val'))
    images, annotations = [], []
    for i in range(num_images):
        image_id = num_images - i
        name = '{:06d}.png'.format(image_id)
        cv2.imwrite(os.path.join(root, 'val', name),
                    np.full((size, size, 3), 100, np.uint8))
        images.append({'id': image_id, 'file_name': name, 'width': size,
                       'height': size})
        annotations.append({'id': i + 1, 'image_id': image_id, 'category_id': 7,
                            'bbox': [2, 2, 5 + image_id, 5]})
    with open(os.path.join(root, 'val.json'), 'w') as f:
        json.dump({'images': images, 'annotations': annotations,
                   'categories': CATEGORIES}, f)
    return {'EvalDataset': {'dataset_dir': root, 'anno_path': 'val.json',
                            'image_dir': 'val'}}


def test_eval_images_are_the_first_by_id_with_their_ground_truth(tmp_path):
    cfg = _dataset(str(tmp_path))
    paths, truth, names, categories = eval_images(cfg, 2)
    assert paths == [str(tmp_path / 'val' / '000001.png'),
                     str(tmp_path / 'val' / '000002.png')]
    assert truth == [[[2, 2, 6, 5]], [[2, 2, 7, 5]]]
    assert names == {7: 'disc', 3: 'square'} and categories == CATEGORIES


def test_tile_draws_truth_white_and_detections_above_the_threshold(tmp_path):
    path = _dataset(str(tmp_path))['EvalDataset']
    path = os.path.join(path['dataset_dir'], 'val', '000001.png')
    detections = np.array([[1, 0.9, 10, 10, 18, 18],     # drawn, class 1
                           [0, 0.2, 1, 12, 8, 19]])      # below 0.3: not drawn
    tile = draw_tile(path, detections, [[2, 2, 6, 5]], ['disc', 'square'],
                     threshold=0.3, scale=3)
    assert tile.shape == (60, 60, 3)
    assert tuple(tile[6, 12]) == (255, 255, 255)              # truth, top edge
    assert tuple(tile[54, 40]) == COLOURS[1][::-1]            # box, bottom edge (BGR)
    assert tuple(tile[20, 30]) == COLOURS[1][::-1]            # its label, above
    assert tuple(tile[45, 3]) == tuple(tile[33, 4]) == (100, 100, 100)  # low score


def test_grid_rows_of_four_padded_with_black():
    tiles = [np.full((2, 3, 3), i + 1, np.uint8) for i in range(5)]
    grid = tile_grid(tiles)
    assert grid.shape == (4, 12, 3)
    assert grid[0, ::3, 0].tolist() == [1, 2, 3, 4]
    assert grid[2, ::3, 0].tolist() == [5, 0, 0, 0]
    assert tile_grid(tiles[:2]).shape == (2, 6, 3)


def test_detections_of_each_image_go_on_its_tile(tmp_path):
    cfg = _dataset(str(tmp_path / 'data'))
    paths, truth, _, categories = eval_images(cfg, 3)
    calls = []

    def predict(images, draw_threshold, output_dir, visualize):
        calls.append((images, draw_threshold, output_dir, visualize))
        # ppdet's results: batches of [class index, score, x1, y1, x2, y2]
        return [{'bbox': np.zeros((0, 6)), 'bbox_num': np.array([0])},
                {'bbox': np.array([[0, 0.8, 10, 10, 18, 18]]),
                 'bbox_num': np.array([1, 0])}]

    output = str(tmp_path / 'out' / 'grid.png')
    draw_detections(types.SimpleNamespace(predict=predict), paths, truth,
                    categories, 0.5, 2, output)
    assert calls == [(paths, 0.5, str(tmp_path / 'out'), False)]
    grid = cv2.imread(output)
    assert grid.shape == (40, 120, 3)
    # the box is on the second image only, coloured as class index 0
    assert tuple(grid[36, 40 + 30]) == COLOURS[0][::-1]
    assert tuple(grid[36, 30]) == tuple(grid[36, 80 + 30]) == (100, 100, 100)
