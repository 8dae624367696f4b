"""The demo config shrunk to seconds, for tests that run the tools.

Importable from every test module: pytest puts ``tests/`` (the directory of
the root ``conftest.py``) on ``sys.path``.
"""
import json
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
DEMO_CONFIG = os.path.join(ROOT, 'configs', 'demo', 'retinanet_ghm_demo.yml')

# The tests' one tiny detector: the config's own backbone, a 16-channel FPN
# and a one-conv head tower without GroupNorm (which needs >= 32 channels);
# head, loss and post-process settings stay those of the config under test.
TINY_MODEL = {
    'GHMRetinaFPN': {'out_channel': 16},
    'FPN': {'out_channel': 16},         # PaddleDetection's, in its peer config
    'RetinaFeat': {'feat_in': 16, 'feat_out': 16, 'num_convs': 1,
                   'norm_type': None},
}


def tiny_model_options():
    """:data:`TINY_MODEL` as ``-o`` options (``['GHMRetinaFPN.out_channel=16', ...]``)."""
    return ['{}.{}={}'.format(block, key, 'null' if value is None else value)
            for block, options in TINY_MODEL.items()
            for key, value in options.items()]


def _flow_yaml(options):
    return '{{{}}}'.format(', '.join(
        '{}: {}'.format(k, 'null' if v is None else v) for k, v in options.items()))


def write_tiny_config(path, data_dir, save_dir, epoch=1, extra=''):
    """Write a config that inherits the demo one and shrinks it.

    :data:`TINY_MODEL`, batch 2, no weight EMA, every dataset read from
    ``data_dir``, checkpoints under ``save_dir``, COCO's ``bbox.json`` in
    ``save_dir/eval`` (not the working directory, which test workers share). ``extra`` is yml appended
    at the end; a top-level key there replaces the one above it whole.

    Returns:
        str: ``path``.
    """
    os.makedirs(os.path.join(str(save_dir), 'eval'), exist_ok=True)
    with open(path, 'w') as f:
        f.write("""\
_BASE_: ['{base}']
save_dir: {out}
output_eval: {out}/eval
log_iter: 1
snapshot_epoch: 1
epoch: {epoch}
TrainDataset: {{dataset_dir: {data}}}
EvalDataset: {{dataset_dir: {data}}}
TestDataset: {{dataset_dir: {data}}}
{model}
TrainReader: {{batch_size: 2}}
use_ema: false
""".format(base=DEMO_CONFIG, out=save_dir, data=data_dir, epoch=epoch,
           model='\n'.join('{}: {}'.format(block, _flow_yaml(options))
                           for block, options in TINY_MODEL.items())) + extra)
    return str(path)


# the demo reader without its random flip (RandomFlip draws from the
# process's global RNG, which neither a seed per rank nor a checkpoint fixes)
DETERMINISTIC_TRAIN_READER = """\
TrainReader:
  sample_transforms:
    - Decode: {}
    - NormalizeImage: {is_scale: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
    - Permute: {}
  batch_size: 2
  shuffle: true
"""

# epoch 0 trains normally; from epoch 1 the lr is 1e10 and the next loss NaN
EXPLODING_LR = """\
LearningRate:
  base_lr: 0.01
  schedulers:
  - !PiecewiseDecay
    gamma: 1.0e+12
    milestones: [1]
  - !LinearWarmup
    start_factor: 1.0
    steps: 0
"""


def write_tiny_data(root):
    """8 train / 4 val demo images of 64 px (what the training tests use).

    Returns:
        str: ``root``.
    """
    from ppdet_ghm.data import generate_demo_dataset
    generate_demo_dataset(str(root), num_train=8, num_val=4, image_size=64,
                          seed=1)
    return str(root)


def assert_loadable_checkpoint(checkpoint):
    """``checkpoint`` (path without suffix) has both files, and its weights
    are all finite."""
    import numpy as np
    import paddle
    state = paddle.load(checkpoint + '.pdparams', return_numpy=True)
    assert state and all(np.isfinite(v).all() for v in state.values()
                         if isinstance(v, np.ndarray))
    paddle.load(checkpoint + '.pdopt')


_HOLD_LOCK = """\
import sys, time
from ppdet_ghm.engine.run_lock import save_dir_lock
with save_dir_lock(sys.argv[1], int(sys.argv[2])):
    print('locked', flush=True)
    time.sleep(600)
"""


def hold_save_dir_lock(save_dir, rank=0):
    """A process holding ``save_dir``'s training lock of ``rank`` until it
    is killed (the caller kills it)."""
    import subprocess
    import sys
    proc = subprocess.Popen([sys.executable, '-c', _HOLD_LOCK, str(save_dir),
                             str(rank)], stdout=subprocess.PIPE, text=True)
    lines = iter(proc.stdout.readline, '')     # ppdet prints warnings first
    assert any(line.strip() == 'locked' for line in lines)
    return proc


CUSTOM_CLASSES = ['apple', 'brick', 'cone', 'star']   # not the demo's names


def write_custom_coco(root, num_train=48, num_val=8):
    """A small dataset in the COCO layout of docs/custom_dataset.md
    (``train/``, ``val/``, ``annotations/instances_{train,val}.json``): demo
    images whose 4 categories are named :data:`CUSTOM_CLASSES`."""
    from ppdet_ghm.data import generate_demo_dataset
    generate_demo_dataset(str(root), num_train=num_train, num_val=num_val, seed=5)
    for split in ('train', 'val'):
        path = os.path.join(str(root), 'annotations', 'instances_{}.json'.format(split))
        with open(path) as f:
            coco = json.load(f)
        for category, name in zip(sorted(coco['categories'], key=lambda c: c['id']),
                                  CUSTOM_CLASSES):
            category['name'] = name
        with open(path, 'w') as f:
            json.dump(coco, f)
    return str(root)


def write_custom_voc(root, coco_root):
    """The same images and boxes in the Pascal VOC layout of
    docs/custom_dataset.md: ``JPEGImages/``, ``Annotations/*.xml``,
    ``trainval.txt``, ``test.txt``, ``label_list.txt``."""
    import shutil
    from xml.sax.saxutils import escape
    root = str(root)
    for folder in ('JPEGImages', 'Annotations'):
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    with open(os.path.join(root, 'label_list.txt'), 'w') as f:
        f.write('\n'.join(CUSTOM_CLASSES) + '\n')
    for split, listing in (('train', 'trainval.txt'), ('val', 'test.txt')):
        with open(os.path.join(coco_root, 'annotations',
                               'instances_{}.json'.format(split))) as f:
            coco = json.load(f)
        names = {c['id']: c['name'] for c in coco['categories']}
        objects = {}
        for ann in coco['annotations']:
            objects.setdefault(ann['image_id'], []).append(ann)
        lines = []
        for im in coco['images']:
            stem = os.path.splitext(im['file_name'])[0]
            shutil.copy(os.path.join(coco_root, split, im['file_name']),
                        os.path.join(root, 'JPEGImages', stem + '.jpg'))
            boxes = ''.join(
                '<object><name>{}</name><difficult>0</difficult><bndbox>'
                '<xmin>{}</xmin><ymin>{}</ymin><xmax>{}</xmax><ymax>{}</ymax>'
                '</bndbox></object>'.format(escape(names[a['category_id']]),
                                            a['bbox'][0], a['bbox'][1],
                                            a['bbox'][0] + a['bbox'][2],
                                            a['bbox'][1] + a['bbox'][3])
                for a in objects.get(im['id'], []))
            with open(os.path.join(root, 'Annotations', stem + '.xml'), 'w') as f:
                f.write('<annotation><filename>{}.jpg</filename><size><width>{}'
                        '</width><height>{}</height><depth>3</depth></size>{}'
                        '</annotation>\n'.format(stem, im['width'], im['height'],
                                                 boxes))
            lines.append('JPEGImages/{0}.jpg Annotations/{0}.xml'.format(stem))
        with open(os.path.join(root, listing), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root
