"""bench_jobs.head_outputs, with which the benchmark's
--breakdown times the head's convolutions with: for our head and for
PaddleDetection's RetinaHead, exactly what the head's own forward computes,
in eval and in training mode."""
import os
import sys

import numpy as np
import paddle
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
BENCHMARKS = os.path.join(ROOT, 'benchmarks')
if BENCHMARKS not in sys.path:  # a folder of scripts importing each other
    sys.path.insert(0, BENCHMARKS)
import bench_variants  # noqa: E402
from bench_jobs import head_outputs  # noqa: E402
from ppdet_ghm.modeling import neck_features  # noqa: E402


def assert_same(got, expected):
    assert len(got) == len(expected) == 2
    for got_level, expected_level in zip(got, expected):
        assert len(got_level) == len(expected_level) == 5  # P3..P7
        for a, b in zip(got_level, expected_level):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize('variant, head', [('ppdet_fl', 'RetinaHead'),
                                           ('ghm', 'GHMRetinaHead')])
def test_head_outputs_are_the_heads_own(variant, head):
    config, overrides = bench_variants.variant_config(variant)
    model = bench_variants.build_model(config, True, 0, overrides)
    assert type(model.head).__name__ == head
    image = paddle.to_tensor(np.random.default_rng(0).standard_normal(
        (1, 3, 64, 64)).astype('float32'))
    model.eval()
    with paddle.no_grad():
        feats = neck_features(model, {'image': image})
        expected = model.head(feats)   # eval mode: the raw outputs
        assert_same(head_outputs(model.head, feats), expected)
        if hasattr(model.head, 'predict'):
            assert_same(head_outputs(model.head, feats),
                        model.head.predict(feats))
    model.train()   # no loss, gradients reach the head's convs
    feats = [f.detach() for f in feats]
    logits, deltas = head_outputs(model.head, feats)
    assert_same((logits, deltas), expected)
    (sum(x.sum() for x in logits) + sum(x.sum() for x in deltas)).backward()
    assert model.head.retina_cls.weight.grad is not None
    assert model.head.retina_reg.weight.grad is not None
