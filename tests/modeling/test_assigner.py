"""Assignment on hand-made boxes."""
import numpy as np
import paddle

from ppdet_ghm.modeling import GHMRetinaAssigner
from ppdet_ghm.modeling.assigner import box_overlaps

ANCHORS = paddle.to_tensor([
    [0., 0., 10., 10.],    # 0: IoU 1 with gt A          -> positive (A)
    [0., 0., 10., 8.],     # 1: IoU 0.8 with A           -> positive (A)
    [0., 0., 10., 4.5],    # 2: IoU 0.45 with A          -> ignored
    [0., 0., 10., 2.],     # 3: IoU 0.2 with A           -> negative
    [50., 50., 60., 60.],  # 4: IoU 0.25 with B, its best -> positive (low quality, B)
    [100., 100., 110., 110.],  # 5: no overlap           -> negative
    [200., 200., 210., 210.],  # 6: inside crowd C        -> ignored
])
GT = paddle.to_tensor([[[0., 0., 10., 10.], [45., 45., 65., 65.],
                        [195., 195., 230., 230.], [0., 0., 0., 0.]]])
VALID = paddle.to_tensor([[True, True, True, False]])
CROWD = paddle.to_tensor([[False, False, True, False]])


def test_overlaps():
    iou = box_overlaps(ANCHORS, GT).numpy()[0]
    np.testing.assert_allclose(iou[:4, 0], [1.0, 0.8, 0.45, 0.2], rtol=1e-5)
    np.testing.assert_allclose(iou[4, 1], 100 / 400, rtol=1e-5)
    iof = box_overlaps(ANCHORS, GT, mode='iof').numpy()[0]
    assert iof[6, 2] == 1.0


def test_positive_negative_ignored_low_quality_and_crowd():
    matched, pos, neg = GHMRetinaAssigner()(ANCHORS, GT, VALID, CROWD)
    pos, neg, matched = pos.numpy()[0], neg.numpy()[0], matched.numpy()[0]
    assert pos.tolist() == [True, True, False, False, True, False, False]
    assert neg.tolist() == [False, False, False, True, False, True, False]
    assert matched[[0, 1, 4]].tolist() == [0, 0, 1]
    # without crowd handling the crowd box is still never a target
    _, pos2, neg2 = GHMRetinaAssigner(crowd_iof_thr=-1)(ANCHORS, GT, VALID, CROWD)
    assert not pos2.numpy()[0, 6] and neg2.numpy()[0, 6]


def test_low_quality_tie_goes_to_the_later_box():
    anchors = paddle.to_tensor([[0., 0., 10., 10.], [100., 0., 110., 10.]])
    # two boxes whose best anchor is anchor 0 with the same IoU 0.25
    gts = paddle.to_tensor([[[0., 0., 20., 20.], [-10., -10., 10., 10.]]])
    matched, pos, _ = GHMRetinaAssigner()(anchors, gts, paddle.to_tensor([[True, True]]))
    assert pos.numpy()[0, 0] and matched.numpy()[0, 0] == 1


def test_image_without_boxes_is_all_negative():
    gts = paddle.zeros([2, 3, 4])
    valid = paddle.to_tensor([[False] * 3, [True, False, False]])
    gts[1, 0] = paddle.to_tensor([0., 0., 10., 10.])
    matched, pos, neg = GHMRetinaAssigner()(ANCHORS, gts, valid)
    assert not pos.numpy()[0].any() and neg.numpy()[0].all()
    assert pos.numpy()[1, 0] and pos.numpy()[1].sum() == 2
    # no boxes in the whole batch
    _, pos, neg = GHMRetinaAssigner()(ANCHORS, paddle.zeros([2, 0, 4]),
                                      paddle.zeros([2, 0], dtype='bool'))
    assert not pos.numpy().any() and neg.numpy().all()


def test_bad_thresholds_are_refused():
    import pytest
    with pytest.raises(ValueError, match='neg_iou_thr'):
        GHMRetinaAssigner(pos_iou_thr=0.3, neg_iou_thr=0.4)
    with pytest.raises(ValueError, match='min_pos_iou: expected 0 <= min_pos_iou'):
        GHMRetinaAssigner(min_pos_iou=-0.1)
    with pytest.raises(ValueError, match='crowd_iof_thr: expected <= 1'):
        GHMRetinaAssigner(crowd_iof_thr=1.5)
