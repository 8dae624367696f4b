"""The memorization check: a handful of demo images, training set =
evaluation set, the demo detector.  A setup that cannot fit four images to
box AP >= 0.9 has a bug (or an optimizer that does not suit it).

Used by ``research/tests/test_memorization.py`` and ``research/tools/memorize.py``;
docs/learning.md has what each setup needs and why.
"""
import os

__all__ = ['CASES', 'NUM_IMAGES', 'IMAGE_SIZE', 'DEMO_CONFIG', 'SGD',
           'make_memorization_data', 'write_memorization_config']

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
DEMO_CONFIG = os.path.join(ROOT, 'configs', 'demo', 'retinanet_ghm_demo.yml')
NUM_IMAGES = 4        # one batch: every step sees every image
IMAGE_SIZE = 96       # demo images, a little smaller: ~0.25 s a step here
SEED = 3

_SMOOTH_L1 = 'SmoothL1Loss: {beta: 0.11, loss_weight: 1.0}\n'
_FOCAL = ('FocalLoss: {use_sigmoid: true, gamma: 2.0, alpha: 0.25, '
          'loss_weight: 1.0}\n')
# name: (yml selecting the losses, AdamW lr, steps).  GHM-R (reference
# mu = 0.02) needs twice the steps at a lower lr to fit the last box
# coordinates: near the target its ASL1 gradient stays ~1 (L1-like), so a
# large step keeps them oscillating (docs/learning.md).  The check keeps the
# reference GHM settings (GHM-C 30 bins, GHM-R mu 0.02); the demo config
# trains with other values (docs/demo.md).
_GHM_C = 'GHMCLoss: {bins: 30, momentum: 0.75}\n'
CASES = {
    'ghm_c+ghm_r': (_GHM_C + 'GHMRLoss: {mu: 0.02}\n', 0.0003, 200),
    'ghm_c+smooth_l1': ('GHMRetinaHead: {loss_bbox: SmoothL1Loss}\n'
                        + _GHM_C + _SMOOTH_L1, 0.002, 100),
    'focal+smooth_l1': ('GHMRetinaHead: {loss_class: FocalLoss, '
                        'loss_bbox: SmoothL1Loss}\n' + _FOCAL + _SMOOTH_L1,
                        0.002, 100),
}


def make_memorization_data(data_dir):
    """The ``NUM_IMAGES`` training images (and one unused val image) of the
    check, written once to ``data_dir``; returns ``data_dir``."""
    from ppdet_ghm.data.demo_dataset import (
        dataset_params, existing_params, generate_demo_dataset)
    if existing_params(data_dir) != dataset_params(NUM_IMAGES, 1, IMAGE_SIZE,
                                                   SEED):
        generate_demo_dataset(data_dir, num_train=NUM_IMAGES, num_val=1,
                              image_size=IMAGE_SIZE, seed=SEED)
    return data_dir


# The COCO configs' optimizer (configs/ghm/_base_/optimizer_1x.yml), for
# comparison: SGD with momentum, L2 decay 1e-4 (ppdet hands the regularizer
# to Momentum as its weight decay), gradients clipped at norm 35.
SGD = """\
OptimizerBuilder:
  regularizer: {factor: 0.0001, type: L2}
  optimizer: {type: Momentum, momentum: 0.9}
"""


def write_memorization_config(path, data_dir, save_dir, case, lr=None,
                              steps=None, extra='', optimizer='adamw'):
    """Write the check's config for ``case`` (a key of :data:`CASES`).

    The demo config, trained and evaluated on the training images, one
    batch a step, no augmentation, no weight EMA; ``steps`` steps of the
    demo's AdamW (or ``optimizer='sgd'``: the COCO configs' SGD) at ``lr``
    (default: the case's), warmup over the first tenth, cosine decay, one
    evaluation at the end.  ``extra`` is yml appended last.

    Returns:
        str: ``path``.
    """
    if case not in CASES:
        raise ValueError('memorization case: expected one of {}, got {!r}'
                         .format(', '.join(sorted(CASES)), case))
    losses, case_lr, case_steps = CASES[case]
    lr = case_lr if lr is None else lr
    steps = case_steps if steps is None else steps
    if not (isinstance(steps, int) and steps >= 1):
        raise ValueError('steps: expected an integer >= 1, got {!r}'
                         .format(steps))
    if not lr > 0:
        raise ValueError('lr: expected a number > 0, got {!r}'.format(lr))
    if optimizer not in ('adamw', 'sgd'):
        raise ValueError("optimizer: expected 'adamw' or 'sgd', got {!r}"
                         .format(optimizer))
    with open(path, 'w') as f:
        f.write("""\
_BASE_: ['{base}']
save_dir: {out}
log_iter: 20
epoch: {steps}
snapshot_epoch: {steps}
use_ema: false
TrainDataset: {{dataset_dir: {data}, image_dir: train,
                anno_path: annotations/instances_train.json}}
EvalDataset: {{dataset_dir: {data}, image_dir: train,
               anno_path: annotations/instances_train.json}}
TestDataset: {{dataset_dir: {data}}}
LearningRate:
  base_lr: {lr}
  schedulers:
  - !CosineDecay {{max_epochs: {steps}}}
  - !LinearWarmup {{start_factor: 0.01, steps: {warmup}}}
TrainReader:
  sample_transforms:
    - Decode: {{}}
    - NormalizeImage: {{is_scale: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}}
    - Permute: {{}}
  batch_size: {batch}
""".format(base=DEMO_CONFIG, out=save_dir, data=data_dir, lr=lr, steps=steps,
           warmup=max(1, steps // 10), batch=NUM_IMAGES) + losses
                + (SGD if optimizer == 'sgd' else '') + extra)
    return str(path)
