"""DeltaXYWHBoxCoder: one registered coder injected into the head (targets)
and the post-processor (boxes), so both use the same normalisation."""
import os

import numpy as np
import paddle
import pytest
from conftest import TINY_OVERRIDES, config_and_model

from ppdet_ghm.modeling import DeltaXYWHBoxCoder
from ppdet_ghm.modeling.box_coder import as_box_coder
from ppdet_ghm.utils import ConfigError, check_module_keys

R50 = 'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml'
ANCHORS = paddle.to_tensor([[0., 0., 16., 16.], [8., 4., 40., 36.]])
TARGETS = paddle.to_tensor([[2., 1., 20., 15.], [10., 2., 30., 44.]])


def test_head_and_post_process_share_the_configured_coder():
    overrides = dict(TINY_OVERRIDES, DeltaXYWHBoxCoder={
        'means': [0., 0., 0., 0.], 'stds': [0.1, 0.1, 0.2, 0.2]})
    _, model = config_and_model(R50, overrides)
    head = model.head
    post = head.post_processor
    assert head.box_coder.stds == post.box_coder.stds == [0.1, 0.1, 0.2, 0.2]
    deltas = head.box_coder.encode(ANCHORS, TARGETS)
    # stds 0.1: the normalised dx is 10x the raw one
    raw = DeltaXYWHBoxCoder().encode(ANCHORS, TARGETS)
    np.testing.assert_allclose(deltas.numpy()[:, 0], raw.numpy()[:, 0] * 10,
                               rtol=1e-5)
    np.testing.assert_allclose(post.box_coder.decode(ANCHORS, deltas).numpy(),
                               TARGETS.numpy(), atol=1e-4)


def test_reference_configs_use_means_0_stds_1():
    _, model = config_and_model(R50)
    for coder in (model.head.box_coder, model.head.post_processor.box_coder):
        assert coder.means == [0.] * 4 and coder.stds == [1.] * 4


def test_the_old_per_module_keys_are_refused_by_name(tmp_path):
    from ppdet.core.workspace import load_config
    path = tmp_path / 'old.yml'
    path.write_text("_BASE_: ['{}']\nGHMRetinaHead: {{delta_std: [1, 1, 1, 1]}}\n"
                    .format(os.path.abspath(R50)))
    with pytest.raises(ConfigError, match="GHMRetinaHead has no option 'delta_std'"):
        check_module_keys(load_config(str(path)), str(path))


@pytest.mark.parametrize('kwargs, match', [
    (dict(means=[0, 0, 0]), r'means: expected 4 values'),
    (dict(stds=[1, 1, 0, 1]), r'stds: expected 4 values > 0'),
])
def test_bad_coder_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match='DeltaXYWHBoxCoder.' + match):
        DeltaXYWHBoxCoder(**kwargs)


def test_a_module_built_in_python_gets_the_default_coder():
    coder = as_box_coder('DeltaXYWHBoxCoder', 'GHMRetinaHead')
    assert isinstance(coder, DeltaXYWHBoxCoder) and coder.stds == [1.] * 4
    with pytest.raises(ValueError, match=r'GHMRetinaHead.box_coder: expected '
                                         r'a box coder'):
        as_box_coder('SomethingElse', 'GHMRetinaHead')
