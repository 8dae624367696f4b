"""The retina post-processor on hand-made inputs (deltas 0: boxes = anchors)."""
import numpy as np
import paddle

from ppdet_ghm.modeling import GHMRetinaPostProcess


def logit(p):
    return float(np.log(p / (1 - p)))


def run(anchors, scores, im_shape=(100., 100.), scale=(1., 1.), **kwargs):
    """anchors (N, 4), scores (N, C) probabilities, one image, one level."""
    post = GHMRetinaPostProcess(num_classes=scores.shape[1], **kwargs)
    logits = paddle.to_tensor(np.vectorize(logit)(scores).astype('float32'))[None]
    deltas = paddle.zeros([1, anchors.shape[0], 4])
    bbox, bbox_num, _ = post([logits], [deltas], [paddle.to_tensor(anchors, dtype='float32')],
                             paddle.to_tensor([im_shape]), paddle.to_tensor([scale]))
    return bbox.numpy(), bbox_num.numpy()


def test_threshold_classwise_nms_and_format():
    anchors = np.array([[10, 10, 30, 30], [11, 11, 31, 31], [10, 10, 30, 30],
                        [60, 60, 80, 80], [60, 60, 80, 80]], dtype='float32')
    scores = np.full((5, 2), 0.01)
    scores[0, 0], scores[1, 0] = 0.9, 0.8   # same class, IoU 0.82 -> one kept
    scores[2, 1] = 0.7                      # other class, same box -> kept
    scores[3, 0], scores[4, 1] = 0.06, 0.04  # 0.06 > 0.05 kept, 0.04 dropped
    bbox, num = run(anchors, scores)
    assert num.tolist() == [3]
    bbox = bbox[np.argsort(-bbox[:, 1])]  # NMS output is grouped by class
    np.testing.assert_allclose(bbox, [[0, 0.9, 10, 10, 30, 30],
                                      [1, 0.7, 10, 10, 30, 30],
                                      [0, 0.06, 60, 60, 80, 80]], rtol=1e-5)


def test_at_most_max_per_img_best_scores():
    n = 150
    x = np.arange(n, dtype='float32') * 10
    anchors = np.stack([x, x * 0, x + 5, x * 0 + 5], 1)  # disjoint boxes
    scores = np.linspace(0.2, 0.9, n)[:, None]
    bbox, num = run(anchors, scores, im_shape=(2000., 2000.))
    assert num.tolist() == [100]
    np.testing.assert_allclose(np.sort(bbox[:, 1]), np.sort(scores[-100:, 0]), rtol=1e-5)


def test_nms_pre_keeps_the_best_anchors_of_a_level():
    anchors = np.array([[0, 0, 5, 5], [10, 0, 15, 5], [20, 0, 25, 5]], 'float32')
    scores = np.array([[0.3, 0.01], [0.01, 0.9], [0.6, 0.01]])
    bbox, num = run(anchors, scores, nms_pre=2)
    assert num.tolist() == [2]
    np.testing.assert_allclose(sorted(bbox[:, 1]), [0.6, 0.9], rtol=1e-5)


def test_clip_to_image_then_rescale_to_original():
    anchors = np.array([[-10, 5, 30, 150]], dtype='float32')
    bbox, _ = run(anchors, np.array([[0.9]]), im_shape=(100., 80.), scale=(0.5, 0.25))
    # clipped to w=80, h=100 in the resized image, then / (sx, sy) = (0.25, 0.5)
    np.testing.assert_allclose(bbox[0, 2:], [0, 10, 120, 200], rtol=1e-5)


def test_two_images_and_an_image_without_detections():
    post = GHMRetinaPostProcess(num_classes=1)
    anchors = paddle.to_tensor([[0., 0., 10., 10.]])
    logits = paddle.to_tensor([[[logit(0.9)]], [[logit(0.01)]]])
    bbox, num, _ = post([logits], [paddle.zeros([2, 1, 4])], [anchors],
                        paddle.to_tensor([[50., 50.], [50., 50.]]),
                        paddle.to_tensor([[1., 1.], [1., 1.]]))
    assert num.numpy().tolist() == [1, 0]
    assert bbox.shape[0] == 1


def test_exclude_nms_returns_the_candidates_the_nms_would_see():
    # two images, two levels, nms_pre cutting one of them: boxes (B, K, 4) in
    # original pixels and scores (B, C, K); the numpy NMS of each image equals
    # the post-processor's own NMS output
    from ppdet_ghm.deploy.nms import multiclass_nms
    rng = np.random.default_rng(5)
    levels = [30, 12]
    anchors = [paddle.to_tensor(np.concatenate([xy, xy + 20], 1).astype('float32'))
               for xy in (rng.uniform(0, 80, (n, 2)) for n in levels)]
    logits = [paddle.to_tensor(rng.normal(0, 2, (2, n, 3)).astype('float32'))
              for n in levels]
    deltas = [paddle.to_tensor(rng.normal(0, 0.3, (2, n, 4)).astype('float32'))
              for n in levels]
    im_shape = paddle.to_tensor([[100., 90.], [64., 100.]])
    scale = paddle.to_tensor([[0.5, 0.5], [2., 1.5]])
    kwargs = dict(num_classes=3, nms_pre=20, max_per_img=25)
    bbox, num, _ = GHMRetinaPostProcess(**kwargs)(logits, deltas, anchors,
                                                  im_shape, scale)
    post = GHMRetinaPostProcess(exclude_nms=True, **kwargs)
    boxes, scores, keep = post(logits, deltas, anchors, im_shape, scale)
    assert keep is None
    assert boxes.shape == [2, 20 + 12, 4] and scores.shape == [2, 3, 20 + 12]
    rows = np.split(bbox.numpy(), np.cumsum(num.numpy())[:-1])
    for image in range(2):
        np.testing.assert_array_equal(
            multiclass_nms(boxes.numpy()[image], scores.numpy()[image],
                           **post.nms_settings()), rows[image])
