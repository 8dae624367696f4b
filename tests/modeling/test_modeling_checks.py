"""ppdet_ghm.modeling.checks (through engine.create_model): module arguments
that do not fit together end in one ConfigError naming the config keys
(before: a Paddle op's traceback at the first step, or a silently wrong
model); anything else an op refuses is named with its layer."""
import os

import paddle
import paddle.nn as nn
import pytest
from tiny_demo import write_tiny_config

from ppdet_ghm.engine import create_model, load_config
from ppdet_ghm.modeling.checks import ModelConfigError, dry_run
from ppdet_ghm.utils import ConfigError


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('checks')
    return write_tiny_config(os.path.join(tmp, 'tiny.yml'), str(tmp / 'data'),
                             str(tmp / 'out'))


def refusal(config, options):
    with pytest.raises(ConfigError) as err:
        create_model(load_config(config, options))
    message = str(err.value)
    assert message.startswith(config + ': ') and '\n' not in message
    return message[len(config) + 2:]


def test_the_tiny_model_passes(tiny):
    create_model(load_config(tiny))


@pytest.mark.parametrize('channels', [16, 48])
def test_group_norm_groups_must_divide_the_tower_width(tiny, channels):
    width = {'feat_in': channels, 'feat_out': channels}
    assert refusal(tiny, {'RetinaFeat': dict(norm_type='gn', **width),
                          'GHMRetinaFPN': {'out_channel': channels}}) == (
        'RetinaFeat: the GroupNorm of head.conv_feat.fcos_head_cls_tower_conv_0.norm '
        'has 32 groups over {0} channels; the channels must be a multiple of the '
        'groups; with norm_type gn, RetinaFeat.feat_out ({0}) must be a multiple '
        'of 32 (or norm_type: null)'.format(channels))


def test_the_fpn_width_must_be_what_the_towers_read(tiny):
    assert refusal(tiny, {'GHMRetinaFPN': {'out_channel': 32}}) == (
        "GHMRetinaFPN.out_channel (32) and RetinaFeat.feat_in (16) differ: the "
        "head's towers read the FPN's outputs; set both to one width")


def test_towers_without_convs_cannot_change_the_width(tiny):
    assert refusal(tiny, {'RetinaFeat': {'num_convs': 0, 'feat_out': 32}}) == (
        'RetinaFeat: with num_convs 0 the towers are empty, so feat_out (32) '
        'must equal feat_in (16)')


@pytest.mark.parametrize('options,levels', [
    ({'GHMRetinaAnchorGenerator': {'strides': [8., 16., 32., 64.]}}, '5 FPN levels'),
    ({'GHMRetinaAnchorGenerator': {'strides': [4., 8., 16., 32., 64.]}}, '5 FPN levels'),
    ({'GHMRetinaFPN': {'extra_stage': 1}}, '4 FPN levels'),
    ({'CSPResNet': {'return_idx': [2, 3]}}, '4 FPN levels')])
def test_every_fpn_level_needs_anchors_of_its_stride(tiny, options, levels):
    # before, each of these trained without a word: a level dropped by the
    # head's zip, or anchors laid on the wrong grid
    message = refusal(tiny, options)
    assert message.startswith('GHMRetinaAnchorGenerator.strides ')
    assert levels in message and "set strides to the FPN's" in message


@pytest.mark.parametrize('options,expected', [
    ({'aspect_ratios': []}, 'aspect_ratios: expected a non-empty list of numbers > 0'),
    ({'aspect_ratios': [-1.0, 1.0]}, 'aspect_ratios: expected a non-empty list'),
    ({'scales_per_octave': 0}, 'scales_per_octave: expected an integer >= 1'),
    ({'octave_base_scale': 0}, 'octave_base_scale: expected a number > 0'),
    ({'strides': [16., 8.]}, 'strides: expected a non-empty, increasing list')])
def test_anchor_settings_that_leave_a_level_without_anchors(tiny, options, expected):
    assert refusal(tiny, {'GHMRetinaAnchorGenerator': options}).startswith(
        'GHMRetinaAnchorGenerator.' + expected)


class TwoConvs(nn.Layer):
    """The second conv reads 5 channels where the first writes 4."""

    def __init__(self):
        super().__init__()
        self.first = nn.Conv2D(3, 4, 1)
        self.second = nn.Conv2D(5, 2, 1)

    def forward(self, inputs):
        return self.second(self.first(inputs['image']))


def test_the_dry_run_names_the_layer_an_op_fails_in():
    with pytest.raises(ModelConfigError, match=r"the model fails on a 64x64 image "
                       r"in layer second \(Conv2D\): \(InvalidArgument\) The number "
                       r"of input's channels"):
        dry_run(TwoConvs())


def test_the_dry_run_draws_no_random_numbers_and_keeps_the_mode(tiny):
    model = create_model(load_config(tiny))
    model.train()
    before = paddle.get_rng_state()
    dry_run(model)
    assert model.training and all(layer.training for layer in model.sublayers())
    after = paddle.get_rng_state()
    assert [s.current_seed() for s in before] == [s.current_seed() for s in after]
    assert paddle.rand([4]).numpy().tolist() == (
        paddle.set_rng_state(before) or paddle.rand([4]).numpy().tolist())
