"""ppdet_ghm.deploy.nms: the numpy NMS equals Paddle's multiclass_nms3
kernel (as the post-processor calls it) row for row, bit for bit, on random
inputs with ties, duplicate and zero-area boxes, keep_top_k cuts and no
candidate at all."""
import numpy as np
import paddle
import pytest

from ppdet_ghm.compat import multiclass_nms as kernel_nms
from ppdet_ghm.deploy.nms import check_nms_settings, multiclass_nms


def _random_case(rng, case):
    count, classes = int(rng.integers(0, 400)), int(rng.integers(1, 7))
    corner = rng.uniform(-10, 120, (count, 2)).astype(np.float32)
    size = rng.uniform(0, 50, (count, 2)).astype(np.float32)
    if case % 3 == 0:     # on a grid: duplicates, shared edges, zero areas
        corner, size = np.round(corner / 10) * 10, np.round(size / 10) * 10
    boxes = np.concatenate([corner, corner + size], axis=1)
    scores = rng.uniform(0, 1, (classes, count)).astype(np.float32)
    if case % 4 == 0:     # equal scores: the stable order decides
        scores = np.round(scores * 8) / 8
    return boxes, scores


@pytest.mark.parametrize('keep_top_k', [-1, 1, 7, 60, 1000])
@pytest.mark.parametrize('nms_threshold', [-0.1, 0.0, 0.3, 0.5, 0.8])
def test_equals_the_kernel_to_the_bit(keep_top_k, nms_threshold):
    rng = np.random.default_rng([keep_top_k + 1, round((nms_threshold + 1) * 10)])
    for case in range(12):
        boxes, scores = _random_case(rng, case)
        settings = dict(score_threshold=0.05, nms_threshold=nms_threshold,
                        keep_top_k=keep_top_k)
        # one signature for both: the same keywords give the same rows
        expected, _, _ = kernel_nms(paddle.to_tensor(boxes[None]),
                                    paddle.to_tensor(scores[None]), **settings)
        ours = multiclass_nms(boxes, scores, **settings)
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, expected.numpy().reshape(-1, 6))


def _dense_case(rng, count, classes):
    """A random-weight detector's candidates: anchors of 3 scales on a
    coarse grid, moved a little, so that boxes overlap in long chains, and
    every class scoring most of them."""
    centre = rng.integers(0, 12, (count, 2)) * 32 + rng.normal(0, 4, (count, 2))
    size = 32 * 2 ** rng.integers(0, 3, (count, 1)) * rng.uniform(0.8, 1.25, (count, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)
    return boxes, rng.uniform(0, 0.3, (classes, count)).astype(np.float32)


@pytest.mark.parametrize('count, classes, keep_top_k', [(1500, 80, 100), (1500, 80, 1),
                                                        (300, 20, -1), (300, 20, 5000)])
def test_equals_the_kernel_on_dense_overlapping_candidates(count, classes, keep_top_k):
    # the geometry that made a whole-image walk slow; with a keep_top_k cut
    # only the best-scored prefix is walked, doubled until it keeps enough
    boxes, scores = _dense_case(np.random.default_rng(count + classes), count, classes)
    settings = _settings(keep_top_k)
    expected, _, _ = kernel_nms(paddle.to_tensor(boxes[None]),
                                paddle.to_tensor(scores[None]), **settings)
    np.testing.assert_array_equal(multiclass_nms(boxes, scores, **settings),
                                  expected.numpy().reshape(-1, 6))


def _settings(keep_top_k, score_threshold=0.05):
    return dict(score_threshold=score_threshold, nms_threshold=0.5,
                keep_top_k=keep_top_k)


def test_suppression_by_hand():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30],
                      [0, 0, 10, 10]], np.float32)
    # class 0: IoU(box 0, box 1) = 0.81 > 0.5; class 1: box 3 = box 0
    scores = np.array([[0.9, 0.8, 0.7, 0.01],
                       [0.2, 0.0, 0.0, 0.6]], np.float32)
    rows = multiclass_nms(boxes, scores, **_settings(-1))
    np.testing.assert_array_equal(
        rows[:, :2], np.array([[0, 0.9], [0, 0.7], [1, 0.6]], np.float32))
    np.testing.assert_array_equal(rows[:, 2:], boxes[[0, 2, 3]])
    # keep_top_k 2: the best two of 0.9, 0.7, 0.6
    np.testing.assert_array_equal(
        multiclass_nms(boxes, scores, **_settings(2))[:, :2],
        np.array([[0, 0.9], [0, 0.7]], np.float32))
    # keep_top_k 2 of 0.9, 0.7 and class 1's 0.95: rows in class order
    scores[1, 3] = 0.95
    np.testing.assert_array_equal(
        multiclass_nms(boxes, scores, **_settings(2))[:, :2],
        np.array([[0, 0.9], [1, 0.95]], np.float32))
    assert multiclass_nms(boxes, scores, **_settings(-1, 0.99)).shape == (0, 6)


def test_settings_are_keyword_only():
    boxes, scores = np.zeros((1, 4), np.float32), np.zeros((1, 1), np.float32)
    with pytest.raises(TypeError):
        multiclass_nms(boxes, scores, 0.05, 0.5, -1)
    with pytest.raises(TypeError):
        kernel_nms(paddle.to_tensor(boxes[None]), paddle.to_tensor(scores[None]),
                   0.05, -1, 0.5)


def test_shapes_that_do_not_fit_are_named():
    with pytest.raises(ValueError, match=r'expected boxes \(K, 4\) and scores '
                       r'\(C, K\), got \(3, 4\) and \(2, 4\)'):
        multiclass_nms(np.zeros((3, 4)), np.zeros((2, 4)), **_settings(-1))


def test_settings_are_checked_by_key():
    good = {'score_threshold': 0.05, 'nms_threshold': 0.5, 'keep_top_k': 100}
    assert check_nms_settings(good, 'F') == good
    with pytest.raises(ValueError, match=r"F: NMS.keep_top_k must be an integer, "
                       r"got 2.5"):
        check_nms_settings(dict(good, keep_top_k=2.5), 'F')
    with pytest.raises(ValueError, match=r"F: NMS.nms_threshold must be a number, "
                       r"got None"):
        check_nms_settings({'score_threshold': 0.1, 'keep_top_k': 1}, 'F')
    with pytest.raises(ValueError, match='F: NMS must be a mapping'):
        check_nms_settings([1, 2], 'F')
