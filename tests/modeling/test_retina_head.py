"""The GHM RetinaNet head: losses, targets, peer check with PaddleDetection."""
import numpy as np
import paddle
import pytest
from conftest import config_and_model
from ppdet.modeling.assigners.max_iou_assigner import MaxIoUAssigner
from ppdet.modeling.heads.retina_head import RetinaFeat, RetinaHead
from ppdet.modeling.layers import MultiClassNMS
from ppdet.modeling.losses import FocalLoss, SmoothL1Loss
from ppdet.modeling.proposal_generator.anchor_generator import \
    RetinaAnchorGenerator

from ppdet_ghm.losses import GHMCLoss, GHMRLoss
from ppdet_ghm.modeling import (GHMRetinaAnchorGenerator, GHMRetinaAssigner,
                                GHMRetinaHead, GHMRetinaPostProcess)

CONFIGS = {
    'GHM-C + GHM-R': 'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml',
    'FL + SL1': 'configs/ghm/retinanet_fl_sl1_r50_fpn_1x_coco.yml',
    'GHM-C + SL1': 'configs/ghm/retinanet_ghmc_sl1_r50_fpn_1x_coco.yml',
}


def batch(boxes_per_image, size=64):
    paddle.seed(0)
    n = len(boxes_per_image)
    return {
        'image': paddle.randn([n, 3, size, size]),
        'im_shape': paddle.full([n, 2], float(size)),
        'scale_factor': paddle.ones([n, 2]),
        'gt_bbox': [paddle.to_tensor(np.array(b, 'float32').reshape(-1, 4))
                    for b in boxes_per_image],
        'gt_class': [paddle.to_tensor(np.arange(len(b), dtype='int32').reshape(-1, 1) % 3)
                     for b in boxes_per_image],
    }


@pytest.mark.parametrize('combo', sorted(CONFIGS))
def test_forward_backward_each_loss_combination(combo):
    _, model = config_and_model(CONFIGS[combo])
    model.train()
    out = model(batch([[[4, 4, 30, 40], [30, 20, 60, 60]], [[10, 10, 20, 20]]]))
    assert set(out) == {'loss', 'loss_cls', 'loss_bbox'}
    for value in out.values():
        assert np.isfinite(float(value)) and float(value) > 0
    out['loss'].backward()
    for param in (model.head.retina_cls.weight, model.head.retina_reg.weight,
                  model.neck.fpn_convs[0].weight):
        assert param.grad is not None and float(param.grad.abs().sum()) > 0


@pytest.mark.parametrize('per_level, calls', [(True, 5), (False, 1)])
def test_losses_called_once_per_level_or_once(per_level, calls, monkeypatch):
    _, model = config_and_model(CONFIGS['GHM-C + GHM-R'])
    model.head.loss_per_level = per_level
    seen = []
    for loss in (model.head.loss_class, model.head.loss_bbox):
        original = loss.forward
        monkeypatch.setattr(loss, 'forward', lambda *a, _f=original, _l=loss, **k:
                            seen.append(type(_l).__name__) or _f(*a, **k))
    model.train()
    model(batch([[[4, 4, 30, 40]]]))
    assert seen.count('GHMCLoss') == calls and seen.count('GHMRLoss') == calls
    assert float(model.head.loss_class.acc_sum.sum()) > 0


@pytest.mark.parametrize('combo', sorted(CONFIGS))
def test_images_without_boxes_train_without_nan(combo):
    _, model = config_and_model(CONFIGS[combo])
    model.train()
    out = model(batch([[], []]))
    out['loss'].backward()
    assert np.isfinite(float(out['loss_cls'])) and float(out['loss_cls']) > 0
    assert float(out['loss_bbox']) == 0.0
    assert np.isfinite(model.head.retina_cls.weight.grad.numpy()).all()


def test_targets_labels_weights_and_deltas():
    head = GHMRetinaHead(
        num_classes=3, conv_feat=RetinaFeat(feat_in=8, feat_out=8, num_convs=1,
                                            norm_type=None),
        anchor_generator=GHMRetinaAnchorGenerator(),
        bbox_assigner=GHMRetinaAssigner(), loss_class=FocalLoss(),
        loss_bbox=SmoothL1Loss(), post_processor=GHMRetinaPostProcess(num_classes=3))
    anchors = paddle.to_tensor([[0., 0., 10., 10.], [0., 0., 10., 5.5],
                                [40., 40., 50., 50.]])
    inputs = {'gt_bbox': [paddle.to_tensor([[0., 0., 12., 10.]]), paddle.zeros([0, 4])],
              'gt_class': [paddle.to_tensor([[2]]), paddle.zeros([0, 1], 'int32')]}
    labels, label_w, deltas, box_w = head.get_targets(anchors, inputs)
    assert labels.numpy().tolist() == [[2, 3, 3], [3, 3, 3]]
    assert label_w.numpy().tolist() == [[1, 0, 1], [1, 1, 1]]
    assert box_w.numpy().tolist() == [[1, 0, 0], [0, 0, 0]]
    np.testing.assert_allclose(deltas.numpy()[0, 0], [0.1, 0, np.log(1.2), 0], rtol=1e-5)
    assert np.isfinite(deltas.numpy()).all()


def test_peer_check_with_paddledetection_retinahead():
    """FocalLoss + L1 (SmoothL1 beta 0), equal weights and inputs: our head's
    losses equal PaddleDetection's RetinaHead's.  The assignment rules agree on
    these boxes; they differ only (a) in anchor order within a cell when there
    are several scales per octave (ours is the reference's ratio-major order;
    one scale here), and (b) for a low-quality match of an anchor whose
    highest IoU is with another box (PaddleDetection keeps the argmax box, the
    reference the box it is best for) -- not the case here."""
    def feat():
        return RetinaFeat(feat_in=16, feat_out=16, num_convs=1, norm_type=None)
    anchor_args = dict(octave_base_scale=4, scales_per_octave=1,
                       aspect_ratios=[0.5, 1.0, 2.0])
    paddle.seed(1)
    theirs = RetinaHead(
        num_classes=3, conv_feat=feat(),
        anchor_generator=RetinaAnchorGenerator(**anchor_args),
        bbox_assigner=MaxIoUAssigner(0.5, 0.4, allow_low_quality=True),
        loss_class=FocalLoss(gamma=2.0, alpha=0.25),
        loss_bbox=SmoothL1Loss(beta=0.0), nms=MultiClassNMS())
    ours = GHMRetinaHead(
        num_classes=3, conv_feat=feat(),
        anchor_generator=GHMRetinaAnchorGenerator(**anchor_args),
        bbox_assigner=GHMRetinaAssigner(0.5, 0.4, 0.0),
        loss_class=FocalLoss(gamma=2.0, alpha=0.25),
        loss_bbox=SmoothL1Loss(beta=0.0),
        post_processor=GHMRetinaPostProcess(num_classes=3))
    ours.set_state_dict(theirs.state_dict())
    feats = [paddle.randn([2, 16, s, s]) for s in (16, 8, 4, 2, 1)]
    targets = batch([[[8, 8, 40, 60], [70, 64, 120, 100]], [[30, 30, 62, 62]]], 128)
    theirs.train()
    ours.train()
    expected = theirs(feats, targets)
    got = ours(feats, targets)
    np.testing.assert_allclose(float(got['loss_cls']), float(expected['loss_cls']), rtol=1e-5)
    np.testing.assert_allclose(float(got['loss_bbox']), float(expected['loss_reg']), rtol=1e-5)


def _head(**losses):
    return GHMRetinaHead(
        num_classes=3, conv_feat=RetinaFeat(feat_in=8, feat_out=8, num_convs=1,
                                            norm_type=None),
        anchor_generator=GHMRetinaAnchorGenerator(),
        bbox_assigner=GHMRetinaAssigner(),
        post_processor=GHMRetinaPostProcess(num_classes=3), **losses)


@pytest.mark.parametrize('losses, message', [
    (dict(loss_class=GHMRLoss(), loss_bbox=GHMRLoss()), 'loss_class: got GHMRLoss'),
    (dict(loss_class=GHMCLoss(), loss_bbox=GHMCLoss()), 'loss_bbox: got GHMCLoss'),
    (dict(loss_class=SmoothL1Loss(), loss_bbox=SmoothL1Loss()), 'loss_class: got SmoothL1Loss'),
    (dict(loss_class='GHMCLoss', loss_bbox=GHMRLoss()), 'loss_class: got str'),
])
def test_head_refuses_loss_combinations_that_cannot_train(losses, message):
    with pytest.raises(ValueError, match=message):
        _head(**losses)


def test_head_refuses_a_softmax_class_loss():
    loss = GHMCLoss()  # a class loss switched to softmax after construction
    loss.use_sigmoid = False
    with pytest.raises(ValueError, match='use_sigmoid must be true'):
        _head(loss_class=loss, loss_bbox=GHMRLoss())


def test_boxes_outside_the_image_or_without_area_stay_harmless():
    """A box wholly outside the image matches no anchor (its best IoU is 0,
    not a low-quality match); a zero-width box likewise; a box partly outside
    is matched as annotated. Targets stay finite."""
    head = _head(loss_class=GHMCLoss(), loss_bbox=GHMRLoss())
    anchors = paddle.to_tensor([[0., 0., 16., 16.], [16., 0., 32., 16.],
                                [0., 16., 16., 32.], [16., 16., 32., 32.]])
    inputs = {'gt_bbox': [paddle.to_tensor([[40., 40., 60., 60.],    # outside
                                            [5., 5., 5., 12.],        # w = 0
                                            [18., 18., 36., 36.]])],  # partly
              'gt_class': [paddle.to_tensor([[0], [1], [2]])]}
    labels, label_w, deltas, box_w = head.get_targets(anchors, inputs)
    assert box_w.numpy().tolist() == [[0, 0, 0, 1]]
    assert labels.numpy().tolist() == [[3, 3, 3, 2]]
    assert np.isfinite(deltas.numpy()).all()


class _ElementwiseL1(paddle.nn.Layer):
    """A third box loss of the element-wise form, unknown to the head."""

    def forward(self, pred, target, reduction='none'):
        return (pred - target).abs()


class _WeightedGHMC(GHMCLoss):
    """A subclass of a GHM loss keeps its contract."""


def test_head_accepts_any_loss_that_keeps_the_contract():
    head = _head(loss_class=_WeightedGHMC(bins=30, momentum=0.75),
                 loss_bbox=_ElementwiseL1())
    deltas = paddle.ones([1, 2, 4])
    weights = paddle.to_tensor([[1.0, 0.0]])
    # element-wise losses: valid entries summed, divided by the positives
    np.testing.assert_allclose(float(head.box_loss(
        deltas, paddle.zeros([1, 2, 4]), weights, paddle.to_tensor(2.0))), 2.0)


def test_head_names_a_loss_that_breaks_the_contract():
    class NoReduction(paddle.nn.Layer):
        def forward(self, pred, target):
            return (pred - target).abs().mean()
    with pytest.raises(ValueError, match=r"loss_bbox: got NoReduction .*"
                                         r"reduction='none' failed"):
        _head(loss_class=GHMCLoss(), loss_bbox=NoReduction())


def _tower(norm_type=None):
    return RetinaFeat(feat_in=8, feat_out=8, num_convs=2, norm_type=norm_type)


def _tower_bias_lrs(head):
    return [p.optimize_attr['learning_rate'] for n, p in
            head.conv_feat.named_parameters() if n.endswith('conv.bias')]


def test_tower_biases_train_at_the_references_lr():
    def head(**kwargs):
        return GHMRetinaHead(
            num_classes=3, conv_feat=_tower(), loss_class=GHMCLoss(),
            loss_bbox=GHMRLoss(), anchor_generator=GHMRetinaAnchorGenerator(),
            bbox_assigner=GHMRetinaAssigner(),
            post_processor=GHMRetinaPostProcess(num_classes=3), **kwargs)
    assert _tower_bias_lrs(head()) == [1.0] * 4             # reference: x1
    assert _tower_bias_lrs(head(conv_feat_bias_lr_scale=None)) == [2.0] * 4  # RetinaFeat's
    assert _tower_bias_lrs(head(conv_feat_bias_lr_scale=0.5)) == [0.5] * 4
    weights = [p.optimize_attr['learning_rate'] for n, p in
               head().conv_feat.named_parameters() if n.endswith('conv.weight')]
    assert weights == [1.0] * 4
    with pytest.raises(ValueError, match=r"conv_feat_bias_lr_scale: expected a "
                       r"number >= 0 or null, got '2'"):
        head(conv_feat_bias_lr_scale='2')


def test_the_configs_tower_bias_lr():
    # COCO configs: the reference's x1; the demo keeps RetinaFeat's x2, as it
    # was measured
    _, coco = config_and_model(CONFIGS['GHM-C + GHM-R'])
    assert set(_tower_bias_lrs(coco.head)) == {1.0}
    _, demo = config_and_model('configs/demo/retinanet_ghm_demo.yml')
    assert set(_tower_bias_lrs(demo.head)) == {2.0}


def test_a_tower_without_conv_biases_is_named():
    from ppdet_ghm.modeling.retina_head import set_conv_bias_lr
    with pytest.raises(ValueError, match='Conv2D has no conv with a bias; set it to null'):
        set_conv_bias_lr(paddle.nn.Conv2D(2, 2, 1, bias_attr=False), 1.0)
