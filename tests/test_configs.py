"""Every shipped config loads and builds; the reference schedule is as stated."""
import glob
import os

import pytest
from conftest import config_and_model

from ppdet_ghm.modeling.checks import check_detector, dry_run

ROOT = os.path.join(os.path.dirname(__file__), '..')
SHIPPED = sorted(os.path.relpath(p, ROOT) for p in glob.glob(
    os.path.join(ROOT, 'configs', '**', '*.yml'), recursive=True)
    if '_base_' not in p and os.sep + 'datasets' + os.sep not in p
    and os.sep + 'benchmark' + os.sep not in p  # PaddleDetection's own model
    and os.sep + 'studies' + os.sep not in p    # study files: tests/study/
    and not p.endswith('runtime.yml'))


def test_all_expected_configs_ship():
    names = {os.path.basename(p) for p in SHIPPED}
    assert {'retinanet_ghm_r50_fpn_1x_coco.yml', 'retinanet_fl_sl1_r50_fpn_1x_coco.yml',
            'retinanet_ghmc_sl1_r50_fpn_1x_coco.yml', 'retinanet_ghm_r101_fpn_1x_coco.yml',
            'retinanet_ghm_x101_32x4d_fpn_1x_coco.yml',
            'retinanet_ghm_x101_64x4d_fpn_1x_coco.yml'} <= names
    # the published mmdetection models, evaluated after conversion
    assert {os.path.join('configs', 'ghm', 'mmdet_compat',
                         'retinanet_ghm_{}_fpn_1x_coco.yml'.format(b))
            for b in ('r50', 'r101', 'x101_32x4d', 'x101_64x4d')} <= set(SHIPPED)


# The demo's peer check: PaddleDetection's own RetinaNet head, nothing of ours.
PPDET_HEAD = {os.path.join('configs', 'demo', 'ppdet_retinanet_demo.yml')}


@pytest.mark.parametrize('config', SHIPPED)
def test_config_builds_its_model(config):
    cfg, model = config_and_model(config, overrides=None)
    head = model.head
    if config in PPDET_HEAD:
        assert type(head).__name__ == 'RetinaHead'
        assert type(head).__module__.startswith('ppdet.')
        assert type(head.loss_class).__module__.startswith('ppdet.')
    else:
        assert type(head).__name__ == 'GHMRetinaHead'
        assert head.anchor_generator.num_anchors == 9
    assert head.num_classes == cfg.num_classes
    assert head.retina_cls.weight.shape[0] == 9 * cfg.num_classes
    # the build-time checks refuse nothing valid (tools build through them)
    check_detector(model, blocks=list(cfg))
    dry_run(model)
    n_params = sum(p.size for p in model.parameters())
    # the demo's CSPResNet-0.25 / FPN-64 detector is small on purpose
    assert n_params > (1e5 if os.sep + 'demo' + os.sep in config else 1e6)


def test_reference_schedule_and_losses():
    cfg, model = config_and_model('configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml',
                             overrides=None)
    assert cfg.TrainReader['batch_size'] == 2 and cfg.epoch == 12
    lr = cfg.LearningRate
    assert lr['base_lr'] == 0.005
    decay, warmup = lr['schedulers']
    assert decay.milestones == [8, 11] and decay.gamma == [0.1, 0.01]  # cumulative x0.1
    assert warmup.steps == 500 and warmup.start_factor == 0.001
    opt = cfg.OptimizerBuilder
    assert opt['clip_grad_by_norm'] == 35.0
    assert opt['optimizer']['momentum'] == 0.9 and opt['regularizer']['factor'] == 1e-4
    ghmc, ghmr = model.head.loss_class, model.head.loss_bbox
    assert (ghmc.bins, ghmc.momentum, ghmc.loss_weight) == (30, 0.75, 1.0)
    assert (ghmr.mu, ghmr.bins, ghmr.momentum, ghmr.loss_weight) == (0.02, 10, 0.7, 10.0)
    assert model.neck.use_c5 and not model.neck.relu_before_extra_convs
    assert model.head.loss_per_level


def test_baselines_swap_only_the_losses():
    _, model = config_and_model('configs/ghm/retinanet_fl_sl1_r50_fpn_1x_coco.yml', overrides=None)
    fl, sl1 = model.head.loss_class, model.head.loss_bbox
    assert type(fl).__name__ == 'FocalLoss' and (fl.gamma, fl.alpha) == (2.0, 0.25)
    assert type(sl1).__name__ == 'SmoothL1Loss' and sl1.beta == 0.11
    _, model = config_and_model('configs/ghm/retinanet_ghmc_sl1_r50_fpn_1x_coco.yml', overrides=None)
    assert type(model.head.loss_class).__name__ == 'GHMCLoss'
    assert type(model.head.loss_bbox).__name__ == 'SmoothL1Loss'


def test_benchmark_baseline_is_paddledetection_retinanet():
    """configs/benchmark/ppdet_retinanet_r50_fpn.yml builds PaddleDetection's
    own RetinaNet with the values of its retinanet_r50_fpn.yml."""
    _, model = config_and_model('configs/benchmark/ppdet_retinanet_r50_fpn.yml',
                           overrides=None)
    head = model.head
    assert type(head).__module__ == 'ppdet.modeling.heads.retina_head'
    assert type(head).__name__ == 'RetinaHead' and head.num_classes == 80
    assert type(head.anchor_generator).__name__ == 'RetinaAnchorGenerator'
    assert head.anchor_generator.num_anchors == 9
    assigner = head.bbox_assigner
    assert type(assigner).__name__ == 'MaxIoUAssigner'
    assert (assigner.positive_overlap, assigner.negative_overlap,
            assigner.allow_low_quality) == (0.5, 0.4, True)
    assert type(head.loss_class).__name__ == 'FocalLoss'
    assert (head.loss_class.gamma, head.loss_class.alpha) == (2.0, 0.25)
    assert type(head.loss_bbox).__name__ == 'SmoothL1Loss' and head.loss_bbox.beta == 0.0
    nms = head.nms
    assert (nms.nms_top_k, nms.keep_top_k, nms.score_threshold,
            nms.nms_threshold) == (1000, 100, 0.05, 0.5)
    assert head.nms_pre == 1000
    assert not model.neck.use_c5 and model.neck.relu_before_extra_convs
    assert model.backbone.__class__.__name__ == 'ResNet'
