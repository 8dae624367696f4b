"""The detectors the side-by-side benchmark compares, and how each is built.

Every variant is one of the project's configs (plus overrides), built by
``ppdet_ghm.engine.create_model`` with random initialisation: pretrained
weights are never loaded, so no download is needed and every variant starts
from the same kind of weights.
"""
import os

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))

# PaddleDetection's FPN settings: P6 from P5 with a ReLU before P7 (ours, as
# the reference detector: P6 from C5, a 2048 -> 256 conv, 4.1M more weights).
PPDET_FPN = {'GHMRetinaFPN': {'use_c5': False, 'relu_before_extra_convs': True}}

# PaddleDetection's BatchNorm and tower-bias training on our side too, so
# that the comparison is of the heads and losses (our configs train the BN
# weight/bias and the tower biases as the reference does; docs/detector.md)
PPDET_TRAINING = {'FrozenStatsResNet': {'train_norm_affine': False},
                  'GHMRetinaHead': {'conv_feat_bias_lr_scale': None}}

# (key, label, config relative to the repo, overrides)
VARIANTS = [
    ('ppdet_fl', "PaddleDetection RetinaNet (FocalLoss + L1)",
     'configs/benchmark/ppdet_retinanet_r50_fpn.yml', {}),
    ('ghm', 'ours: GHM-C + GHM-R',
     'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml', PPDET_TRAINING),
    ('fl_sl1', 'ours: FocalLoss + SmoothL1',
     'configs/ghm/retinanet_fl_sl1_r50_fpn_1x_coco.yml', PPDET_TRAINING),
    ('ghm_p5', "ours: GHM-C + GHM-R on PaddleDetection's FPN (P6 from P5)",
     'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml', dict(PPDET_FPN, **PPDET_TRAINING)),
]
BASELINE = 'ppdet_fl'

# --tiny: the same reduction for every variant (a seconds-long smoke run).
TINY_OVERRIDES = {
    'ResNet': {'depth': 18},
    'FrozenStatsResNet': {'depth': 18},
    'FPN': {'out_channel': 16},             # PaddleDetection's RetinaNet
    'GHMRetinaFPN': {'out_channel': 16},    # ours
    'RetinaFeat': {'feat_in': 16, 'feat_out': 16, 'num_convs': 1},
}


def variant_config(key):
    """``(config, overrides)`` of the variant ``key``."""
    return {k: (c, o) for k, _, c, o in VARIANTS}[key]


def build_model(config, tiny, seed, overrides=None):
    """The config's architecture (``ppdet_ghm.engine.create_model``) with
    ``overrides`` merged, random init from ``seed``, pretrained weights never
    loaded.

    Args:
        config (str): path relative to the repository.
        tiny (bool): merge :data:`TINY_OVERRIDES` too.
        seed (int): seeds Paddle and numpy before the weights are drawn.
        overrides (dict): module -> options, merged into the config.
    """
    import paddle
    from ppdet.core.workspace import load_config, merge_config

    from ppdet_ghm.engine import create_model  # also registers our modules

    cfg = load_config(os.path.join(ROOT, config))
    cfg['_config_path'] = config  # named by a ConfigError
    merge_config({'pretrain_weights': None})
    if overrides:
        merge_config({k: dict(v) for k, v in overrides.items()})
    if tiny:
        merge_config({k: dict(v) for k, v in TINY_OVERRIDES.items()})
    paddle.seed(seed)
    np.random.seed(seed)
    return create_model(cfg)
