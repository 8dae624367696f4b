"""The built-in demo dataset generator."""
import hashlib
import json
import os

import numpy as np
import pytest
from pycocotools.coco import COCO

from ppdet_ghm.data import CLASSES, generate_demo_dataset
from ppdet_ghm.data.demo_dataset import main, tight_box, visible_objects


def digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(os.path.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    info = generate_demo_dataset(root, num_train=60, num_val=10, image_size=128, seed=3)
    return root, info


def test_coco_files_load_and_boxes_are_sane(small_set):
    root, info = small_set
    coco = COCO(info['train_json'])
    assert len(coco.getImgIds()) == 60
    assert [c['name'] for c in coco.loadCats(coco.getCatIds())] == CLASSES
    anns = coco.loadAnns(coco.getAnnIds())
    assert len(anns) == info['train_objects'] > 60
    boxes = np.array([a['bbox'] for a in anns])
    assert (boxes[:, 2:] > 0).all()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, :2] + boxes[:, 2:] <= 128).all()
    assert boxes[:, 2:].max(1).min() <= 12  # small objects exist
    assert len({a['category_id'] for a in anns}) == 4
    assert len({a['id'] for a in anns}) == len(anns)
    val = COCO(info['val_json'])
    assert set(val.getImgIds()).isdisjoint(coco.getImgIds())


def test_same_seed_is_byte_identical_other_seed_differs(small_set, tmp_path):
    root, _ = small_set
    generate_demo_dataset(str(tmp_path / 'a'), 60, 10, 128, seed=3)
    generate_demo_dataset(str(tmp_path / 'b'), 60, 10, 128, seed=4)
    assert digest(str(tmp_path / 'a')) == digest(root)
    assert digest(str(tmp_path / 'b')) != digest(root)


def test_occluded_objects_are_not_annotated():
    a = np.zeros((10, 10), bool)
    a[0:4, 0:4] = True                       # 16 px
    b = np.zeros((10, 10), bool)
    b[0:4, 0:3] = True                       # covers 12/16 of a: a dropped
    c = np.zeros((10, 10), bool)
    c[6:8, 6:8] = True
    assert visible_objects([a, b, c]) == [1, 2]
    b[0:4, 0:2] = True
    b[:, 2:] = False                         # covers 8/16: a kept
    assert visible_objects([a, b, c]) == [0, 1, 2]
    assert tight_box(a) == [0.0, 0.0, 4.0, 4.0]


def test_paddledetection_cocodataset_reads_it(small_set):
    from ppdet.data.source.coco import COCODataSet
    root, info = small_set
    ds = COCODataSet(dataset_dir=root, image_dir='train',
                     anno_path='annotations/instances_train.json',
                     data_fields=['image', 'gt_bbox', 'gt_class', 'is_crowd'])
    ds.parse_dataset()
    assert len(ds.roidbs) == 60
    rec = ds.roidbs[0]
    coco_box = COCO(info['train_json']).loadAnns(
        COCO(info['train_json']).getAnnIds(imgIds=[int(rec['im_id'][0])]))[0]['bbox']
    x, y, w, h = coco_box
    np.testing.assert_allclose(rec['gt_bbox'][0], [x, y, x + w, y + h], atol=1e-4)
    assert os.path.isfile(rec['im_file'])


def test_cli_skips_an_identical_dataset_and_regenerates_otherwise(tmp_path, capsys):
    out = str(tmp_path / 'd')
    main(['--output_dir', out, '--num_train', '3', '--num_val', '2'])
    assert 'wrote' in capsys.readouterr().out
    main(['--output_dir', out, '--num_train', '3', '--num_val', '2'])
    assert 'nothing to do' in capsys.readouterr().out
    main(['--output_dir', out, '--num_train', '4', '--num_val', '2'])
    assert 'wrote' in capsys.readouterr().out
    assert len(os.listdir(os.path.join(out, 'train'))) == 4
    with open(os.path.join(out, 'annotations', 'demo_dataset.json')) as f:
        assert json.load(f)['num_train'] == 4


@pytest.mark.parametrize('kwargs, culprit', [
    (dict(image_size=16), 'image_size'), (dict(num_train=0), 'num_train'),
    (dict(num_val='3'), 'num_val')])
def test_bad_arguments_are_named(tmp_path, kwargs, culprit):
    with pytest.raises(ValueError, match=culprit):
        generate_demo_dataset(str(tmp_path), **kwargs)
    (tmp_path / 'file').write_text('x')
    with pytest.raises(ValueError, match='output_dir'):
        generate_demo_dataset(str(tmp_path / 'file'))
