"""research.detection_errors: detection types and class confusion."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from research.detection_errors import (
    box_iou_xywh, class_confusion, classify_detections, error_breakdown,
    load_detection_pair, objects_by_size, summarize)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))

GT = {
    'images': [{'id': 1, 'width': 100, 'height': 100},
               {'id': 2, 'width': 100, 'height': 100}],
    'categories': [{'id': 1, 'name': 'a'}, {'id': 2, 'name': 'b'}],
    'annotations': [
        {'id': 1, 'image_id': 1, 'category_id': 1, 'bbox': [0, 0, 10, 10], 'iscrowd': 0},
        {'id': 2, 'image_id': 1, 'category_id': 2, 'bbox': [50, 50, 20, 20], 'iscrowd': 0},
        {'id': 3, 'image_id': 2, 'category_id': 1, 'bbox': [10, 10, 30, 30], 'iscrowd': 1},
    ]}


def _det(image_id, cat, box, score):
    return {'image_id': image_id, 'category_id': cat, 'bbox': box, 'score': score}


DETS = [
    _det(1, 1, [0, 0, 10, 10], 0.9),      # tp (object 1)
    _det(1, 1, [1, 0, 10, 10], 0.8),      # duplicate of object 1
    _det(1, 1, [50, 50, 20, 20], 0.7),    # class: object 2 is a 'b'
    _det(1, 2, [55, 55, 20, 20], 0.6),    # IoU 0.39 with object 2: localization
    _det(1, 2, [90, 0, 5, 5], 0.5),       # background
    _det(2, 1, [10, 10, 30, 30], 0.95),   # on a crowd region: ignored
    _det(1, 2, [50, 50, 20, 20], 0.3),    # tp (object 2), lower score
]


def test_box_iou_matches_hand_values():
    iou = box_iou_xywh([[0, 0, 10, 10], [0, 0, 0, 0]], [[5, 0, 10, 10], [0, 0, 10, 10]])
    np.testing.assert_allclose(iou, [[50 / 150, 1.0], [0.0, 0.0]])


def test_each_detection_gets_its_type_in_score_order():
    scores, types = classify_detections(GT, DETS)
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.7, 0.6, 0.5, 0.3])
    assert list(types) == ['tp', 'duplicate', 'class', 'localization',
                           'background', 'tp']


def test_a_higher_scoring_detection_takes_the_object_first():
    # listed low score first: matching still goes by score
    dets = [_det(1, 1, [1, 0, 10, 10], 0.2), _det(1, 1, [0, 0, 10, 10], 0.9)]
    scores, types = classify_detections(GT, dets)
    assert list(types) == ['tp', 'duplicate'] and scores[0] == 0.9


def test_breakdown_counts_every_detection_once_per_interval():
    scores, types = classify_detections(GT, DETS)
    rows = error_breakdown(scores, types, edges=(0.0, 0.55, 1.0))
    assert [(r['low'], r['high']) for r in rows] == [(0.55, 1.0), (0.0, 0.55)]
    assert rows[0] == {'low': 0.55, 'high': 1.0, 'tp': 1, 'duplicate': 1,
                       'class': 1, 'localization': 1, 'background': 0}
    assert rows[1]['background'] == 1 and rows[1]['tp'] == 1
    assert sum(r[t] for r in rows for t in ('tp', 'duplicate', 'class',
                                            'localization', 'background')) == 6
    with pytest.raises(ValueError, match='edges'):
        error_breakdown(scores, types, edges=(0.5, 0.5))


def test_confusion_pairs_each_detection_with_its_best_object():
    matrix, ids = class_confusion(GT, DETS, score_thr=0.5)
    assert ids == [1, 2]
    # rows detected class, columns object class; the 0.6 'b' box overlaps
    # object 2 at 0.39 only, the crowd hit and the 0.3 box are left out
    np.testing.assert_array_equal(matrix, [[2, 1], [0, 0]])


def test_objects_by_size_found_classified_and_tight():
    gt = dict(GT, annotations=GT['annotations'] + [
        {'id': 4, 'image_id': 2, 'category_id': 2, 'bbox': [60, 60, 40, 40],
         'iscrowd': 0}])                  # 40 px, nothing on it
    rows = objects_by_size(gt, DETS, edges=(0, 15, 30, float('inf')))
    got = [(r['objects'], r['found'], r['class_right'], r['tight'])
           for r in rows]
    # object 1 (10 px): its top detection is an 'a' at IoU 1;
    # object 2 (20 px): found, but its top detection (0.7) is an 'a',
    # while a 'b' (0.3) sits on it exactly; the crowd object is left out
    assert got == [(1, 1.0, 1.0, 1.0), (1, 1.0, 0.0, 1.0), (1, 0.0, 0.0, 0.0)]
    with pytest.raises(ValueError, match='edges'):
        objects_by_size(gt, DETS, edges=(0, 0))


def test_bad_files_are_named(tmp_path):
    gt = tmp_path / 'gt.json'
    gt.write_text(json.dumps(GT))
    dets = tmp_path / 'dets.json'
    dets.write_text(json.dumps([_det(7, 1, [0, 0, 1, 1], 0.5)]))
    with pytest.raises(ValueError, match=r"entry 0 is on image_id 7"):
        load_detection_pair(str(gt), str(dets))
    dets.write_text(json.dumps([{'image_id': 1, 'bbox': [0, 0, 1, 1], 'score': 1}]))
    with pytest.raises(ValueError, match='entry 0 has no category_id'):
        load_detection_pair(str(gt), str(dets))
    dets.write_text('{not json')
    with pytest.raises(ValueError, match='dets.json.*not valid json'):
        load_detection_pair(str(gt), str(dets))
    with pytest.raises(ValueError, match='cannot read'):
        load_detection_pair(str(tmp_path / 'missing.json'), str(dets))


def test_tool_prints_both_tables_and_fails_in_one_line(tmp_path):
    gt = tmp_path / 'gt.json'
    gt.write_text(json.dumps(GT))
    dets = tmp_path / 'bbox.json'
    dets.write_text(json.dumps(DETS))
    assert 'class of the detections' in summarize(str(gt), str(dets))
    tool = [sys.executable, '-m', 'research.tools.analyze_detections']
    out = tmp_path / 'errors.md'
    proc = subprocess.run(tool + ['--gt', str(gt), '--dets', str(dets),
                                  '--score_thr', '0.5', '--output', str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '| a | 2 | 1 |' in out.read_text()
    assert '| 16-24 | 1 | 1.00 | 0.00 | 1.00 |' in out.read_text()
    proc = subprocess.run(tool + ['--gt', str(gt), '--dets',
                                  str(tmp_path / 'none.json')],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith('error: detections: cannot read')
