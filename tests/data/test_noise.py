"""Annotation noise (ppdet_ghm.data.noise): exact fractions, one result per
seed, emptied images kept, bad settings named."""
import json

import numpy as np
import pytest

from ppdet_ghm.data import (NoiseError, check_noise, noise_annotations,
                            write_noisy_annotations)


def _coco(num_images=20, per_image=5, num_categories=4):
    images = [{'id': i + 1, 'file_name': '{}.jpg'.format(i + 1), 'width': 100,
               'height': 80} for i in range(num_images)]
    anns, rng = [], np.random.default_rng(0)
    for image in images:
        for _ in range(per_image):
            x, y = rng.uniform(0, 60), rng.uniform(0, 40)
            anns.append({'id': len(anns) + 1, 'image_id': image['id'],
                         'category_id': int(rng.integers(1, num_categories + 1)),
                         'bbox': [x, y, 20.0, 16.0], 'area': 320.0,
                         'iscrowd': 0})
    return {'images': images, 'annotations': anns,
            'categories': [{'id': c, 'name': str(c)}
                           for c in range(1, num_categories + 1)]}


def test_missing_removes_exactly_the_fraction_and_keeps_every_image():
    coco = _coco()
    noisy, report = noise_annotations(coco, {'missing': 0.5}, seed=3)
    assert len(noisy['annotations']) == 50 and report['removed'] == 50
    assert noisy['images'] == coco['images']        # emptied images stay
    kept_ids = {a['id'] for a in noisy['annotations']}
    original = {a['id']: a for a in coco['annotations']}
    assert all(a == original[a['id']] for a in noisy['annotations'])
    assert report['images_emptied'] == len(
        {a['image_id'] for a in coco['annotations']}
        - {a['image_id'] for a in noisy['annotations']})
    assert kept_ids < set(original)


def test_all_missing_leaves_background_images():
    noisy, report = noise_annotations(_coco(), {'missing': 1.0}, seed=0)
    assert noisy['annotations'] == [] and len(noisy['images']) == 20
    assert report['images_emptied'] == 20


def test_wrong_class_relabels_exactly_the_fraction_to_other_classes():
    coco = _coco()
    noisy, report = noise_annotations(coco, {'wrong_class': 0.4}, seed=1)
    before = {a['id']: a['category_id'] for a in coco['annotations']}
    changed = [a for a in noisy['annotations']
               if a['category_id'] != before[a['id']]]
    assert len(changed) == 40 == report['relabelled']
    assert {a['category_id'] for a in changed} <= {1, 2, 3, 4}
    boxes = {a['id']: a['bbox'] for a in coco['annotations']}
    assert all(a['bbox'] == boxes[a['id']] for a in noisy['annotations'])


def test_missing_then_wrong_class_counts_the_kept_annotations():
    noisy, report = noise_annotations(_coco(), {'missing': 0.5,
                                                'wrong_class': 0.2}, seed=2)
    assert report['removed'] == 50 and report['relabelled'] == 10
    assert len(noisy['annotations']) == 50


def test_box_jitter_moves_corners_within_the_fraction_and_the_image():
    coco = _coco()
    noisy, report = noise_annotations(coco, {'box_jitter': 0.2}, seed=4)
    assert report['jittered'] == 100
    for before, after in zip(coco['annotations'], noisy['annotations']):
        x, y, w, h = before['bbox']
        nx, ny, nw, nh = after['bbox']
        # each corner within 0.2 of the side (+ the 0.01 px rounding)
        assert abs(nx - x) <= 0.2 * w + 0.01 and abs(ny - y) <= 0.2 * h + 0.01
        assert abs(nx + nw - x - w) <= 0.2 * w + 0.02
        assert abs(ny + nh - y - h) <= 0.2 * h + 0.02
        assert nx >= 0 and ny >= 0 and nx + nw <= 100.01 and ny + nh <= 80.01
        assert nw >= 1 and nh >= 1
        assert after['area'] == pytest.approx(nw * nh, abs=0.05)
    assert any(a['bbox'] != b['bbox'] for a, b in zip(
        coco['annotations'], noisy['annotations']))


def test_the_same_seed_gives_the_same_noise_and_another_seed_other_noise():
    setting = {'missing': 0.25, 'wrong_class': 0.2, 'box_jitter': 0.1}
    a, _ = noise_annotations(_coco(), setting, seed=5)
    b, _ = noise_annotations(_coco(), setting, seed=5)
    c, _ = noise_annotations(_coco(), setting, seed=6)
    assert a == b and a != c


def test_the_input_is_not_changed():
    coco = _coco()
    snapshot = json.dumps(coco, sort_keys=True)
    noise_annotations(coco, {'missing': 0.5, 'wrong_class': 0.5,
                             'box_jitter': 0.5}, seed=0)
    assert json.dumps(coco, sort_keys=True) == snapshot


@pytest.mark.parametrize('setting, message', [
    ({'missng': 0.5}, "noise: unknown key 'missng'"),
    ({'missing': 1.5}, 'noise.missing: expected a fraction in [0, 1], got 1.5'),
    ({'wrong_class': '40%'}, "noise.wrong_class: expected a fraction in [0, 1], got '40%'"),
    ({'box_jitter': True}, 'noise.box_jitter: expected a fraction'),
    ([0.5], 'noise: expected a mapping'),
])
def test_bad_settings_are_named(setting, message):
    with pytest.raises(NoiseError) as info:
        check_noise(setting)
    assert message in str(info.value)


def test_wrong_class_needs_two_categories():
    with pytest.raises(NoiseError, match='needs at least two categories'):
        noise_annotations(_coco(num_categories=1), {'wrong_class': 0.1}, 0)


def test_write_noisy_annotations_records_the_setting(tmp_path):
    source = tmp_path / 'train.json'
    source.write_text(json.dumps(_coco()))
    target = str(tmp_path / 'out' / 'noisy.json')
    report = write_noisy_annotations(str(source), target, {'missing': 0.1}, 9)
    with open(target) as f:
        written = json.load(f)
    assert report['removed'] == 10 and len(written['annotations']) == 90
    assert written['info']['noise']['seed'] == 9
    assert written['info']['noise']['setting'] == {
        'missing': 0.1, 'wrong_class': 0.0, 'box_jitter': 0.0}


def test_write_noisy_annotations_names_an_unreadable_source(tmp_path):
    with pytest.raises(NoiseError, match="cannot read the annotations '.*nope.json'"):
        write_noisy_annotations(str(tmp_path / 'nope.json'),
                                str(tmp_path / 'x.json'), {}, 0)
    bad = tmp_path / 'bad.json'
    bad.write_text('[1, 2]')
    with pytest.raises(NoiseError, match="expected COCO annotations"):
        write_noisy_annotations(str(bad), str(tmp_path / 'x.json'), {}, 0)
