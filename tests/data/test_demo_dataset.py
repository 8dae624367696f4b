"""The deterministic demo dataset generator (ppdet_ghm.data.demo_dataset)."""
import hashlib
import json
import os

import numpy as np
import pytest
from pycocotools.coco import COCO

from ppdet_ghm.data import CLASSES, generate_demo_dataset
from ppdet_ghm.data import demo_dataset as dd

SIZE = 128


def file_hashes(root):
    """{relative path: sha256} of every file under ``root``."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


@pytest.fixture(scope='module')
def small_set(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    info = generate_demo_dataset(root, num_train=50, num_val=10,
                                 image_size=SIZE, seed=3)
    return root, info


def test_layout_counts_and_categories(small_set):
    root, info = small_set
    assert sorted(os.listdir(os.path.join(root, 'train'))) == [
        '{:06d}.jpg'.format(i) for i in range(1, 51)]
    assert len(os.listdir(os.path.join(root, 'val'))) == 10
    train, val = COCO(info['train_json']), COCO(info['val_json'])
    assert len(train.getImgIds()) == 50 and len(val.getImgIds()) == 10
    assert set(train.getImgIds()).isdisjoint(val.getImgIds())
    for coco in (train, val):
        cats = coco.loadCats(coco.getCatIds())
        assert [(c['id'], c['name']) for c in cats] == list(
            zip(range(1, 5), CLASSES))
    assert len(train.getAnnIds()) == info['train_objects']
    assert len(val.getAnnIds()) == info['val_objects']
    ids = train.getAnnIds() + val.getAnnIds()
    assert len(set(ids)) == len(ids)
    for img_id in train.getImgIds():  # 1-6 objects per image
        assert 1 <= len(train.getAnnIds(imgIds=[img_id])) <= 6
    with open(info['params_json']) as f:
        params = json.load(f)
    assert params['num_train'] == 50 and params['seed'] == 3


def test_boxes_are_tight_valid_and_varied(small_set):
    _, info = small_set
    coco = COCO(info['train_json'])
    anns = coco.loadAnns(coco.getAnnIds())
    boxes = np.array([a['bbox'] for a in anns])
    assert (boxes[:, 2:] > 0).all()
    assert (boxes[:, :2] >= 0).all()
    assert (boxes[:, :2] + boxes[:, 2:] <= SIZE).all()
    assert all(a['iscrowd'] == 0 and 0 < a['area'] <= a['bbox'][2] *
               a['bbox'][3] for a in anns)
    assert {a['category_id'] for a in anns} == {1, 2, 3, 4}
    # no object below the smallest anchor's reach, sizes spanning > 4x
    sides = np.sqrt(boxes[:, 2] * boxes[:, 3])
    assert sides.min() >= 0.9 * dd.MIN_SIDE
    assert sides.min() <= 1.5 * dd.MIN_SIDE and sides.max() >= 4 * sides.min()
    ratio = boxes[:, 2] / boxes[:, 3]
    assert ratio.min() < 0.7 and ratio.max() > 1.4


@pytest.mark.parametrize('label', range(len(CLASSES)))
def test_shape_masks_fill_their_box(label):
    for box in [(0, 0, 8, 8), (3, 5, 9, 17), (100, 90, 27, 12)]:
        mask = dd.shape_mask(label, box, SIZE, flip=True, apex=0.3)
        assert mask.shape == (SIZE, SIZE) and mask.dtype == bool
        assert dd.tight_box(mask) == [float(v) for v in box]


def test_occlusion_rule_on_a_hand_made_case():
    a = np.zeros((10, 10), bool)
    a[0:4, 0:4] = True                     # 16 px
    b = np.zeros((10, 10), bool)
    b[0:4, 0:3] = True                     # covers 12/16 = 75% of a
    c = np.zeros((10, 10), bool)
    c[6:8, 6:8] = True
    assert dd.visible_objects([a, b, c]) == [1, 2]
    # the union of later objects counts: b and c each cover 6/16 of a
    b2 = np.zeros((10, 10), bool)
    b2[0:2, 0:3] = True
    c2 = np.zeros((10, 10), bool)
    c2[2:4, 0:3] = True
    assert dd.visible_objects([a, b2, c2]) == [1, 2]
    # 8/16 = 50% covered: kept
    b3 = np.zeros((10, 10), bool)
    b3[0:4, 0:2] = True
    assert dd.visible_objects([a, b3, c]) == [0, 1, 2]
    # order matters: drawn last, a is kept although b lay under 75% of it,
    # while b, entirely painted over by a, is dropped
    assert dd.visible_objects([b, a]) == [1]
    assert dd.visible_objects([]) == []


def test_generator_drops_the_objects_the_rule_drops(monkeypatch):
    calls = []
    rule = dd.visible_objects

    def spy(masks, *args, **kwargs):
        keep = rule(masks, *args, **kwargs)
        calls.append((len(masks), keep))
        return keep

    monkeypatch.setattr(dd, 'visible_objects', spy)
    rng = np.random.default_rng(0)
    for _ in range(60):
        img, objects = dd.render_image(rng, SIZE)
        assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
        drawn, keep = calls[-1]
        assert len(objects) == len(keep) >= 1
    assert sum(n - len(k) for n, k in calls) > 0  # some were dropped


def test_same_seed_is_byte_identical_other_seed_differs(tmp_path):
    args = dict(num_train=6, num_val=3, image_size=96)
    generate_demo_dataset(str(tmp_path / 'a'), seed=5, **args)
    generate_demo_dataset(str(tmp_path / 'b'), seed=5, **args)
    generate_demo_dataset(str(tmp_path / 'c'), seed=6, **args)
    a, b, c = (file_hashes(str(tmp_path / n)) for n in 'abc')
    assert len(a) == 6 + 3 + 3 and a == b
    assert a.keys() == c.keys()
    differ = [k for k in a if a[k] != c[k]]
    assert 'annotations/instances_train.json' in differ
    assert sum(k.endswith('.jpg') for k in differ) == 9



def test_val_images_do_not_depend_on_num_train(tmp_path):
    """Training sets of different sizes are compared on the same val images;
    the smaller training set is a prefix of the larger one."""
    small = generate_demo_dataset(str(tmp_path / 's'), num_train=3, num_val=4,
                                  image_size=96, seed=2)
    large = generate_demo_dataset(str(tmp_path / 'l'), num_train=7, num_val=4,
                                  image_size=96, seed=2)
    s, l = file_hashes(small['output_dir']), file_hashes(large['output_dir'])
    for i in range(4):  # val ids follow the training ids: 4.. and 8..
        assert s['val/{:06d}.jpg'.format(4 + i)] == \
            l['val/{:06d}.jpg'.format(8 + i)]
    for i in range(1, 4):
        assert s['train/{:06d}.jpg'.format(i)] == l['train/{:06d}.jpg'.format(i)]
    val_s, val_l = COCO(small['val_json']), COCO(large['val_json'])
    boxes = [[a['bbox'] for a in coco.loadAnns(coco.getAnnIds())]
             for coco in (val_s, val_l)]
    assert boxes[0] == boxes[1] and small['val_objects'] == large['val_objects']

def test_paddledetection_cocodataset_reads_it(small_set):
    from ppdet.data.source.coco import COCODataSet
    root, info = small_set
    ds = COCODataSet(dataset_dir=root, image_dir='train',
                     anno_path='annotations/instances_train.json',
                     data_fields=['image', 'gt_bbox', 'gt_class', 'is_crowd'])
    ds.parse_dataset()
    assert len(ds.roidbs) == 50
    assert sum(len(r['gt_bbox']) for r in ds.roidbs) == info['train_objects']
    coco = COCO(info['train_json'])
    rec = ds.roidbs[0]
    assert os.path.isfile(rec['im_file'])
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[int(rec['im_id'][0])]))
    assert rec['gt_bbox'].shape == (len(anns), 4)
    assert rec['gt_class'].shape == (len(anns), 1)
    expect = np.array([[x, y, x + w, y + h] for x, y, w, h in
                       (a['bbox'] for a in anns)])
    np.testing.assert_allclose(rec['gt_bbox'], expect, atol=1e-3)
    # ppdet maps category ids 1..4 to class indices 0..3
    np.testing.assert_array_equal(
        rec['gt_class'][:, 0], [a['category_id'] - 1 for a in anns])


def test_cli_skips_same_parameters_regenerates_otherwise(tmp_path, capsys):
    out = str(tmp_path / 'd')
    base = ['--output_dir', out, '--num_train', '4', '--num_val', '2',
            '--image_size', '64']
    marker = os.path.join(out, 'train', 'stale.txt')

    assert dd.main(base) == 0
    assert 'wrote' in capsys.readouterr().out
    open(marker, 'w').close()
    assert dd.main(base) == 0
    assert 'nothing to do' in capsys.readouterr().out
    assert os.path.exists(marker)                       # untouched

    assert dd.main(base + ['--force']) == 0
    assert 'wrote' in capsys.readouterr().out
    assert not os.path.exists(marker)                   # clean regeneration

    assert dd.main(base[:3] + ['3'] + base[4:]) == 0    # num_train 4 -> 3
    assert 'wrote' in capsys.readouterr().out
    assert sorted(os.listdir(os.path.join(out, 'train'))) == [
        '000001.jpg', '000002.jpg', '000003.jpg']
    with open(os.path.join(out, 'annotations', dd.PARAMS_FILE)) as f:
        assert json.load(f)['num_train'] == 3
    assert dd.main(base[:3] + ['3'] + base[4:] + ['--seed', '1']) == 0
    assert 'wrote' in capsys.readouterr().out


def test_cli_regenerates_a_dataset_of_an_older_generator(tmp_path, capsys,
                                                         monkeypatch):
    # same arguments, other object sizes: the recorded parameters differ,
    # so the dataset on disk is not reused
    out = str(tmp_path / 'd')
    args = ['--output_dir', out, '--num_train', '2', '--num_val', '1',
            '--image_size', '64']
    monkeypatch.setattr(dd, 'MIN_SIDE', 8)
    assert dd.main(args) == 0
    assert 'wrote' in capsys.readouterr().out
    monkeypatch.undo()
    assert dd.main(args) == 0
    assert 'wrote' in capsys.readouterr().out
    assert dd.existing_params(out)['min_side'] == dd.MIN_SIDE


@pytest.mark.parametrize('kwargs, message', [
    (dict(image_size=16), 'image_size.*16'),
    (dict(image_size=64.0), 'image_size.*64.0'),
    (dict(num_train=0), 'num_train.*0'),
    (dict(num_val=-1), 'num_val.*-1'),
    (dict(num_val='3'), "num_val.*'3'"),
    (dict(seed=-2), 'seed.*-2'),
])
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_demo_dataset(str(tmp_path / 'x'), **kwargs)
    assert not os.path.exists(tmp_path / 'x')


def test_output_dir_that_is_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / 'file'
    path.write_text('x')
    with pytest.raises(ValueError, match='output_dir.*file'):
        generate_demo_dataset(str(path), num_train=1, num_val=1)
    with pytest.raises(SystemExit) as exc:
        dd.main(['--output_dir', str(path)])
    assert exc.value.code == 2
    assert 'output_dir' in capsys.readouterr().err
    assert path.read_text() == 'x'


def test_cli_reports_bad_numbers(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        dd.main(['--output_dir', str(tmp_path), '--num_train', '0'])
    assert exc.value.code == 2
    assert 'num_train: expected an integer >= 1, got 0' in \
        capsys.readouterr().err
