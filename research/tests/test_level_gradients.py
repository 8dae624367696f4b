"""Per-level gradient statistics (tools/analyze_learning.py's probe)."""
import numpy as np
import paddle
from ppdet.modeling.heads.retina_head import RetinaFeat
from ppdet.modeling.losses import FocalLoss, SmoothL1Loss

from ppdet_ghm.modeling.retina_head import class_loss
from research.level_gradients import level_gradient_stats, pre_clip_gradient_norm
from ppdet_ghm.losses import GHMCLoss, GHMRLoss
from ppdet_ghm.modeling import (GHMRetinaAnchorGenerator, GHMRetinaAssigner,
                                GHMRetinaHead, GHMRetinaPostProcess)


def _head():
    paddle.seed(0)
    return GHMRetinaHead(
        num_classes=3, conv_feat=RetinaFeat(feat_in=8, feat_out=8, num_convs=1,
                                            norm_type=None),
        anchor_generator=GHMRetinaAnchorGenerator(octave_base_scale=2),
        bbox_assigner=GHMRetinaAssigner(), loss_class=GHMCLoss(bins=30, momentum=0.75),
        loss_bbox=GHMRLoss(mu=0.02, bins=10, momentum=0.7),
        post_processor=GHMRetinaPostProcess(num_classes=3))


def _batch(head):
    paddle.seed(1)
    # P3..P7 of a 64x64 image
    feats = [paddle.randn([1, 8, 64 // s, 64 // s]) for s in (8, 16, 32, 64, 128)]
    feats[-1] = paddle.randn([1, 8, 1, 1])
    inputs = {'gt_bbox': [paddle.to_tensor([[4., 4., 20., 18.], [30., 26., 60., 62.]])],
              'gt_class': [paddle.to_tensor([[1], [2]])]}
    return head.predict(feats), inputs


def test_statistics_match_autograd_and_leave_the_ghm_state_alone():
    head = _head()
    outputs, inputs = _batch(head)
    head.loss_class.acc_sum.set_value(paddle.full([30], 7.0))
    before = head.loss_class.acc_sum.numpy().copy()
    focal = FocalLoss(alpha=0.25, gamma=2.0)
    stats = level_gradient_stats(head, outputs, inputs,
                                 {'focal': focal, 'ghm': head.loss_class},
                                 {'sl1': SmoothL1Loss(beta=0.11)})
    np.testing.assert_array_equal(head.loss_class.acc_sum.numpy(), before)
    assert stats['levels'] == ['P3', 'P4', 'P5', 'P6', 'P7']

    # the same numbers by hand, from the head's own loss call
    logits, _, anchors = head.level_outputs(outputs)
    labels, weights, _, box_weights = head.get_targets(paddle.concat(anchors), inputs)
    assert sum(stats['num_pos']) == int(box_weights.sum()) > 0
    num_pos = box_weights.sum()
    start = 0
    for level, x in enumerate(logits):
        end = start + x.shape[1]
        x = x.detach()
        x.stop_gradient = False
        loss = class_loss(focal, x, labels[:, start:end], weights[:, start:end],
                          num_pos)
        grad = paddle.grad(loss, x)[0].abs().numpy()[0]
        lab = labels.numpy()[0, start:end]
        valid = weights.numpy()[0, start:end] > 0
        pos = np.zeros_like(grad, dtype=bool)
        rows = np.nonzero((lab < 3) & valid)[0]
        pos[rows, lab[rows]] = True
        neg = valid[:, None] & ~pos
        np.testing.assert_allclose(stats['focal']['loss'][level], float(loss), rtol=1e-5)
        np.testing.assert_allclose(stats['focal']['pos_grad_sum'][level],
                                   grad[pos].sum(), rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(stats['focal']['neg_grad_sum'][level],
                                   grad[neg].sum(), rtol=1e-4)
        other = neg & ((lab < 3) & valid)[:, None]   # other classes on objects
        np.testing.assert_allclose(stats['focal']['other_class_grad_sum'][level],
                                   grad[other].sum(), rtol=1e-4, atol=1e-12)
        assert stats['num_pos'][level] == len(rows)
        start = end
    # GHM-C sends the untrained positives more than FocalLoss does
    assert stats['ghm']['pos_grad_mean'][0] > stats['focal']['pos_grad_mean'][0] > 0


def test_all_levels_at_once_is_one_group():
    head = _head()
    outputs, inputs = _batch(head)
    per_level = level_gradient_stats(head, outputs, inputs,
                                     {'ghm': GHMCLoss(bins=30)}, {'r': GHMRLoss()})
    at_once = level_gradient_stats(head, outputs, inputs,
                                   {'ghm': GHMCLoss(bins=30)}, {'r': GHMRLoss()},
                                   per_level=False)
    assert at_once['levels'] == ['all']
    assert at_once['num_pos'] == [sum(per_level['num_pos'])]
    assert at_once['r']['pos_grad_mean'][0] > 0


def test_pre_clip_gradient_norm_is_the_global_l2_norm():
    layer = paddle.nn.Linear(3, 2)
    (layer(paddle.ones([1, 3])).sum() * 2).backward()
    expected = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in layer.parameters()))
    np.testing.assert_allclose(pre_clip_gradient_norm(layer.parameters()), expected,
                               rtol=1e-6)
    assert pre_clip_gradient_norm([]) == 0.0


def test_probe_table_counts_clipped_steps_and_shows_the_positives_share():
    from research.learning_probe import format_probe
    stats = {'levels': ['P3', 'P4'], 'num_pos': [3, 1],
             'focal': {'loss': [1.0, 2.0], 'pos_grad_mean': [0.5, 0.25],
                       'pos_grad_sum': [3.0, 1.0], 'neg_grad_sum': [1.0, 3.0],
                       'other_class_grad_sum': [0.5, 2.0]},
             'sl1': {'loss': [0.1, 0.2], 'pos_grad_mean': [0.01, 0.02]}}
    text = format_probe({'grad_norm': [100.0, 40.0, 2.0], 'clip_grad_by_norm': 35.0,
                         'probes': {0: {'per level': stats}}})
    lines = text.splitlines()
    assert lines[0] == ('pre-clip gradient norm: first 100, median 40, last 2; '
                        '2 of 3 steps clipped at 35')
    assert lines[1] == "step 0 (per level): positives {'P3': 3, 'P4': 1}"
    share = [l for l in lines if "positives' share" in l]
    assert len(share) == 1 and share[0].split()[-2:] == ['0.75', '0.25']
    other = [l for l in lines if "other classes' share" in l]
    assert len(other) == 1 and other[0].split()[-2:] == ['0.125', '0.5']
    assert [l.split()[-2:] for l in lines if l.strip().startswith('sl1')] == [['0.01', '0.02']]


def test_analyze_learning_refuses_negative_steps_in_one_line(capsys):
    import os

    import pytest

    from research.tools import analyze_learning
    config = os.path.join(os.path.dirname(__file__), '..', '..', 'configs', 'demo',
                          'retinanet_ghm_demo.yml')
    with pytest.raises(SystemExit) as info:
        analyze_learning.main(['-c', config, '--steps', '-1'])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        'error: --steps: expected an integer >= 0, got -1'
