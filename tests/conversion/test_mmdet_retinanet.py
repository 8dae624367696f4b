"""Converting mmdetection GHM RetinaNet checkpoints (tools/convert_mmdet_weights.py,
ppdet_ghm/conversion/mmdet_retinanet.py) on synthetic checkpoints with the reference
models' key names and shapes (tests/conversion/torch_checkpoint_writer.py derives
them from mmdetection's architecture, independently of the converter)."""
import collections
import copy
import importlib.util
import os
import subprocess
import sys
import types

import numpy as np
import paddle
import pytest
import torch_checkpoint_writer as writer
from conftest import TINY_OVERRIDES, config_and_model, workspace_snapshot

from ppdet_ghm.utils import WeightsError, check_weights_cover_model
from ppdet_ghm.conversion.mmdet_retinanet import (ConversionError,
                                           compare_class_names,
                                           convert_mmdet_state_dict,
                                           mmdet_key_pairs,
                                           reference_architecture_problems)
from ppdet_ghm.conversion.torch_checkpoint import load_state_dict

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
COMPAT = 'configs/ghm/mmdet_compat/retinanet_ghm_{}_fpn_1x_coco.yml'
BACKBONES = {'r50': dict(depth=50), 'r101': dict(depth=101),
             'x101_32x4d': dict(depth=101, groups=32, base_width=4),
             'x101_64x4d': dict(depth=101, groups=64, base_width=4)}
GHM_STATE = ['head.loss_class.acc_sum', 'head.loss_bbox.acc_sum']


@pytest.fixture(scope='module')
def r50(tmp_path_factory):
    """The R50 compat model and a synthetic R50 checkpoint (legacy format,
    as torch < 1.6 wrote the 2020 model zoo) with random weights."""
    from ppdet.core.workspace import AttrDict
    with workspace_snapshot():
        cfg, model = config_and_model(COMPAT.format('r50'), overrides=None)
        cfg = AttrDict(**{k: copy.deepcopy(dict(v)) if isinstance(v, dict) else
                        copy.deepcopy(v) for k, v in cfg.items()})
    model.eval()
    state = writer.random_state_dict(writer.mmdet_retinanet_shapes(50))
    path = str(tmp_path_factory.mktemp('mmdet') / 'retinanet_ghm_r50.pth')
    writer.save_legacy(writer.mmdet_checkpoint(state), path)
    return types.SimpleNamespace(cfg=cfg, model=model, state=state, path=path)


@pytest.fixture(scope='module')
def converted(r50, tmp_path_factory):
    """Read, convert, save; the model loaded with the result as
    PaddleDetection's Trainer loads weights."""
    from ppdet.utils.checkpoint import load_weight

    source, info = load_state_dict(r50.path)
    result = convert_mmdet_state_dict(source, r50.model)
    dst = str(tmp_path_factory.mktemp('paddle') / 'r50.pdparams')
    paddle.save({k: paddle.to_tensor(v) for k, v in result.weights.items()},
                dst)
    load_weight(r50.model, dst)
    return types.SimpleNamespace(source=source, info=info, result=result,
                                 dst=dst)


def assert_reference_test_time(cfg):
    """mmdetection's test pipeline and test_cfg, one image per batch."""
    assert cfg.pretrain_weights is None
    assert cfg.weights.startswith('pretrained/mmdet/retinanet_ghm_')
    for reader in ('EvalReader', 'TestReader'):
        transforms = [list(t.items())[0] for t in cfg[reader]['sample_transforms']]
        assert transforms == [
            ('Decode', {}),
            ('Resize', {'target_size': [800, 1333], 'keep_ratio': True, 'interp': 1}),
            ('NormalizeImage', {'is_scale': False, 'mean': [123.675, 116.28, 103.53],
                                'std': [58.395, 57.12, 57.375]}),
            ('Permute', {})]
        assert cfg[reader]['batch_transforms'] == [{'PadBatch': {'pad_to_stride': 32}}]
        assert cfg[reader]['batch_size'] == 1
    post = cfg.GHMRetinaPostProcess
    assert (post['nms_pre'], post['score_threshold'], post['nms_threshold'],
            post['max_per_img']) == (1000, 0.05, 0.5, 100)
    backbone = cfg.FrozenStatsResNet
    assert backbone['freeze_norm'] and backbone['freeze_at'] == 0
    assert cfg.num_classes == 80


# -- key names and shapes ------------------------------------------------------

@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_every_reference_key_maps_onto_a_model_key_of_the_same_shape(name, r50):
    if name == 'r50':
        cfg, model = r50.cfg, r50.model
    else:
        cfg, model = config_and_model(COMPAT.format(name), overrides=None)
    assert reference_architecture_problems(model) == []
    assert_reference_test_time(cfg)
    reference = writer.mmdet_retinanet_shapes(**BACKBONES[name])
    weights = collections.OrderedDict(
        (k, v) for k, v in reference.items()
        if not k.endswith('num_batches_tracked'))
    expected = model.state_dict()
    pairs = mmdet_key_pairs(model)
    mapped = {src: tuple(expected[dst].shape) for dst, src in pairs}
    assert mapped == dict(weights)
    assert len({src for _, src in pairs}) == len(pairs)  # one-to-one
    assert sorted(set(expected) - {dst for dst, _ in pairs}) == sorted(GHM_STATE)
    # ppdet names the 23 blocks of R101's stage 4 res4a, res4b1..res4b22 and
    # a ResNeXt stem res_conv1
    names = dict(pairs)
    if name != 'r50':
        assert names['backbone.res4.res4b22.branch2c.conv.weight'] == \
            'backbone.layer3.22.conv3.weight'
    if name.startswith('x101'):
        assert names['backbone.conv1.res_conv1.norm.bias'] == 'backbone.bn1.bias'


def test_r50_key_count_and_ppdet_names(r50):
    pairs = dict(mmdet_key_pairs(r50.model))
    assert len(pairs) == 301  # 354 source tensors - 53 num_batches_tracked
    # spot checks of the layout differences (see mmdet_weights docstring)
    assert pairs['backbone.conv1.conv1.conv.weight'] == 'backbone.conv1.weight'
    assert pairs['backbone.conv1.conv1.norm._variance'] == 'backbone.bn1.running_var'
    assert pairs['backbone.res2.res2a.short.conv.weight'] == \
        'backbone.layer1.0.downsample.0.weight'
    assert pairs['backbone.res5.res5c.branch2b.norm._mean'] == \
        'backbone.layer4.2.bn2.running_mean'
    assert pairs['neck.fpn_inner_res3_sum_lateral.weight'] == \
        'neck.lateral_convs.0.conv.weight'
    assert pairs['neck.fpn_inner_res5_sum.bias'] == 'neck.lateral_convs.2.conv.bias'
    assert pairs['backbone.res3.res3b.branch2a.conv.weight'] == \
        'backbone.layer2.1.conv1.weight'
    assert pairs['neck.fpn_res3_sum.weight'] == 'neck.fpn_convs.0.conv.weight'
    assert pairs['neck.fpn_res5_sum.bias'] == 'neck.fpn_convs.2.conv.bias'
    assert pairs['neck.fpn_6.weight'] == 'neck.fpn_convs.3.conv.weight'
    assert pairs['neck.fpn_7.weight'] == 'neck.fpn_convs.4.conv.weight'
    assert pairs['head.conv_feat.fcos_head_reg_tower_conv_3.conv.bias'] == \
        'bbox_head.reg_convs.3.conv.bias'
    assert pairs['head.retina_cls.weight'] == 'bbox_head.retina_cls.weight'


# -- full conversion -----------------------------------------------------------

def test_r50_conversion_uses_every_tensor_and_fills_every_key(r50, converted):
    source, info, result = converted.source, converted.info, converted.result
    assert info['format'] == 'legacy'
    assert list(info['skipped']) == ['meta', 'optimizer']
    assert list(source) == list(r50.state)
    batch_counters = sorted(k for k in r50.state if k.endswith('num_batches_tracked'))
    assert len(batch_counters) == 53
    assert sorted(result.skipped) == batch_counters
    assert list(result.filled) == GHM_STATE
    assert result.prefix == ''
    assert list(result.weights) == list(r50.model.state_dict())


def ghm_buffers(bins_cls=30):
    """The GHM losses' edges/acc_sum as a checkpoint of mmdetection versions
    that register them as buffers holds them."""
    shapes = writer.mmdet_retinanet_shapes(50, ghm_buffers=True)
    shapes = {k: v for k, v in shapes.items() if '.loss_' in k}
    if bins_cls != 30:
        shapes['bbox_head.loss_cls.edges'] = (bins_cls + 1,)
        shapes['bbox_head.loss_cls.acc_sum'] = (bins_cls,)
    return writer.random_state_dict(shapes, seed=5)


def test_ghm_state_in_the_checkpoint_is_used_and_edges_checked(r50):
    extra = ghm_buffers()
    source = collections.OrderedDict(r50.state)
    source.update(extra)
    result = convert_mmdet_state_dict(source, r50.model)
    assert result.filled == {}
    for ours, theirs in zip(GHM_STATE, ['bbox_head.loss_cls.acc_sum',
                                        'bbox_head.loss_bbox.acc_sum']):
        assert (ours, theirs) in result.pairs
        np.testing.assert_array_equal(result.weights[ours], extra[theirs])
    assert result.skipped['bbox_head.loss_cls.edges'].startswith('GHM bin edges')
    assert result.skipped['bbox_head.loss_bbox.edges'].startswith('GHM bin edges')
    assert len(result.skipped) == 55
    # a checkpoint trained with other bins is refused
    source.update(ghm_buffers(bins_cls=20))
    with pytest.raises(ConversionError) as err:
        convert_mmdet_state_dict(source, r50.model)
    message = str(err.value)
    assert 'bbox_head.loss_cls.edges [0.0, 0.05' in message
    assert 'are not the bin edges of head.loss_class [0.0, 0.033' in message
    assert 'bbox_head.loss_cls.acc_sum [20] -> head.loss_class.acc_sum [30]' in message


def test_converted_file_passes_the_strict_check_and_loads_exactly(r50, converted):
    assert check_weights_cover_model(r50.model, converted.dst) == converted.dst
    loaded = r50.model.state_dict()
    for dst, src in converted.result.pairs:
        np.testing.assert_array_equal(loaded[dst].numpy(), r50.state[src],
                                      err_msg=dst)
    for key in GHM_STATE:
        assert not loaded[key].numpy().any()


def conv2d(x, w, b=None, stride=1, pad=0, groups=1):
    """NCHW convolution as torch defines it (cross-correlation, OIHW weight
    with I = in_channels / groups), in float64."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_c, group_in, kh, kw = w.shape
    oh = (x.shape[2] - kh) // stride + 1
    ow = (x.shape[3] - kw) // stride + 1
    out = np.zeros((x.shape[0], out_c, oh, ow))
    group_out = out_c // groups
    for g in range(groups):
        xs = x[:, g * group_in:(g + 1) * group_in]
        ws = w[g * group_out:(g + 1) * group_out].astype(np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
                out[:, g * group_out:(g + 1) * group_out] += np.einsum(
                    'ncyx,oc->noyx', patch, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def run(layer, x):
    with paddle.no_grad():
        return layer(paddle.to_tensor(x.astype(np.float32))).numpy()


def test_converted_layers_compute_what_the_source_tensors_compute(r50, converted):
    model, src = r50.model, r50.state
    rng = np.random.default_rng(0)
    # stem: 7x7/2 conv, then BatchNorm in eval mode (running statistics)
    x = rng.standard_normal((1, 3, 21, 19))
    stem = model.backbone.conv1.conv1
    np.testing.assert_allclose(
        run(stem.conv, x),
        conv2d(x, src['backbone.conv1.weight'], stride=2, pad=3),
        rtol=1e-4, atol=1e-4)
    y = rng.standard_normal((2, 64, 5, 4)) * 3
    assert stem.norm._epsilon == pytest.approx(1e-5)  # torch's default eps
    bn = {k: src['backbone.bn1.' + k].reshape(1, -1, 1, 1).astype(np.float64)
          for k in ('weight', 'bias', 'running_mean', 'running_var')}
    expected = (y - bn['running_mean']) / np.sqrt(bn['running_var'] + 1e-5) \
        * bn['weight'] + bn['bias']
    np.testing.assert_allclose(run(stem.norm, y), expected, rtol=1e-4, atol=1e-4)
    # C5 lateral (1x1 + bias) and the classification conv (3x3 + bias)
    c5 = rng.standard_normal((1, 2048, 2, 3))
    np.testing.assert_allclose(
        run(model.neck.lateral_convs[2], c5),
        conv2d(c5, src['neck.lateral_convs.2.conv.weight'],
               src['neck.lateral_convs.2.conv.bias']), rtol=1e-4, atol=1e-3)
    feat = rng.standard_normal((1, 256, 3, 4))
    np.testing.assert_allclose(
        run(model.head.retina_cls, feat),
        conv2d(feat, src['bbox_head.retina_cls.weight'],
               src['bbox_head.retina_cls.bias'], pad=1), rtol=1e-4, atol=1e-3)


def test_grouped_conv_weights_need_no_rearrangement():
    """ResNeXt's grouped 3x3 convs: torch and Paddle both store
    (out, in / groups, kh, kw) with contiguous channel groups."""
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((8, 2, 3, 3)).astype(np.float32)
    layer = paddle.nn.Conv2D(8, 8, 3, padding=1, groups=4, bias_attr=False)
    layer.weight.set_value(weight)
    x = rng.standard_normal((1, 8, 5, 5))
    np.testing.assert_allclose(run(layer, x), conv2d(x, weight, pad=1, groups=4),
                               rtol=1e-5, atol=1e-5)


# -- failures --------------------------------------------------------------------

def test_an_unfilled_model_key_fails_with_its_name(r50):
    source = collections.OrderedDict(r50.state)
    del source['bbox_head.retina_reg.bias']
    with pytest.raises(ConversionError) as err:
        convert_mmdet_state_dict(source, r50.model)
    message = str(err.value)
    assert '1 model key(s) not filled by the checkpoint:\n  head.retina_reg.bias [36]' \
        in message
    assert 'bbox_head.retina_reg.bias (for head.retina_reg.bias [36])' in message
    assert isinstance(err.value, WeightsError)


def test_an_unused_source_tensor_fails_with_its_name(r50):
    source = collections.OrderedDict(r50.state)
    source['bbox_head.retina_iou.weight'] = np.zeros((9, 256, 3, 3), np.float32)
    with pytest.raises(ConversionError,
                       match=r'1 checkpoint tensor\(s\) left unused:\n  '
                             r'bbox_head\.retina_iou\.weight \[9, 256, 3, 3\]'):
        convert_mmdet_state_dict(source, r50.model)


def test_a_shape_mismatch_names_both_keys_and_shapes(r50):
    source = collections.OrderedDict(r50.state)
    source['bbox_head.retina_cls.weight'] = np.zeros((9 * 81, 256, 3, 3),
                                                     np.float32)
    with pytest.raises(ConversionError) as err:
        convert_mmdet_state_dict(source, r50.model)
    assert 'bbox_head.retina_cls.weight [729, 256, 3, 3] -> ' \
           'head.retina_cls.weight [720, 256, 3, 3]' in str(err.value)


def test_a_module_prefix_is_stripped(r50):
    source = collections.OrderedDict(('module.' + k, v) for k, v in r50.state.items())
    result = convert_mmdet_state_dict(source, r50.model)
    assert result.prefix == 'module.' and len(result.pairs) == 301


def test_a_model_unlike_the_reference_is_refused():
    overrides = copy.deepcopy(TINY_OVERRIDES)
    overrides['FrozenStatsResNet']['variant'] = 'd'
    overrides['GHMRetinaFPN']['relu_before_extra_convs'] = True
    _, model = config_and_model(COMPAT.format('r50'), overrides)
    with pytest.raises(ConversionError) as err:
        convert_mmdet_state_dict({}, model)
    message = str(err.value)
    assert "ResNet.variant is 'd', expected 'b'" in message
    assert 'GHMRetinaFPN.relu_before_extra_convs is True, expected False' in message


def test_class_names_compare_in_order_and_ignore_spelling():
    names = list(writer.COCO_CLASSES)
    assert compare_class_names([n.replace(' ', '_') for n in names], names) is None
    swapped = names[:]
    swapped[1], swapped[2] = swapped[2], swapped[1]
    assert "class 1 is 'car' in the checkpoint and 'bicycle' here" in \
        compare_class_names(swapped, names)
    assert compare_class_names(names[:79], names) == \
        'the checkpoint has 79 classes, the config 80'


# -- the tool ----------------------------------------------------------------------

def test_cli_converts_a_zip_checkpoint_and_says_what_it_skipped(r50, tmp_path):
    # mmdetection 1.x spelled class names with '_'
    classes = [c.replace(' ', '_') for c in writer.COCO_CLASSES]
    state = collections.OrderedDict(r50.state)
    state.update(ghm_buffers())
    src = str(tmp_path / 'retinanet_ghm_r50_fpn_1x_coco.pth')
    writer.save_zip(writer.mmdet_checkpoint(state, classes=classes), src)
    dst = str(tmp_path / 'out' / 'r50')  # suffix added by the tool
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'convert_mmdet_weights.py'),
         src, dst, '--config', COMPAT.format('r50'), '-v'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert '(zip torch format): 358 tensors' in out
    assert "top-level entry 'optimizer' skipped: optimizer state" in out
    assert "top-level entry 'meta' skipped" in out
    assert 'converted 303 tensors' in out  # incl. the 2 GHM acc_sum
    assert 'skipped 55 checkpoint tensors:\n  53 x num_batches_tracked: ' \
           'BatchNorm batch counter' in out
    assert '  2 x edges: GHM bin edges' in out
    assert '    backbone.layer4.2.bn3.num_batches_tracked' in out  # -v lists
    assert '    bbox_head.loss_bbox.edges' in out
    assert 'filled 0 model keys' in out
    assert "80 meta CLASSES are PaddleDetection's COCO classes in the same order" in out
    assert 'strict check against the model: ok' in out
    assert 'tools/eval.py -c {} -o weights={}.pdparams'.format(
        COMPAT.format('r50'), dst) in out
    check_weights_cover_model(r50.model, dst)
    written = paddle.load(dst + '.pdparams', return_numpy=True)
    np.testing.assert_array_equal(written['head.retina_cls.bias'],
                                  state['bbox_head.retina_cls.bias'])
    np.testing.assert_array_equal(written['head.loss_bbox.acc_sum'],
                                  state['bbox_head.loss_bbox.acc_sum'])


def load_tool():
    sys.path.insert(0, os.path.join(ROOT, 'tools'))
    try:
        spec = importlib.util.spec_from_file_location(
            'convert_mmdet_weights',
            os.path.join(ROOT, 'tools', 'convert_mmdet_weights.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(os.path.join(ROOT, 'tools'))
    return module


def test_cli_fails_with_the_list_for_another_backbone(r50, tmp_path, capsys):
    tool = load_tool()
    dst = str(tmp_path / 'r101.pdparams')
    with pytest.raises(SystemExit) as exit_:
        tool.main([r50.path, dst, '--config',
                   os.path.join(ROOT, COMPAT.format('r101'))])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: {}: the checkpoint does not map'.format(r50.path))
    assert 'model key(s) not filled by the checkpoint:\n  ' \
           'backbone.res4.res4b6.branch2a.conv.weight [256, 1024, 1, 1]' in err
    assert not os.path.exists(dst)


def test_cli_names_an_unreadable_checkpoint(tmp_path, capsys):
    tool = load_tool()
    junk = tmp_path / 'junk.pth'
    junk.write_bytes(b'not a checkpoint')
    with pytest.raises(SystemExit):
        tool.main([str(junk), str(tmp_path / 'x.pdparams'), '--config',
                   os.path.join(ROOT, COMPAT.format('r50'))])
    assert "junk.pth': cannot read the magic number" in capsys.readouterr().err


def test_cli_names_an_unknown_config_key_before_reading_the_checkpoint(
        r50, tmp_path, capsys):
    tool = load_tool()
    config = os.path.join(ROOT, COMPAT.format('r50'))
    dst = str(tmp_path / 'x.pdparams')
    with pytest.raises(SystemExit) as exit_:
        tool.main([r50.path, dst, '--config', config,
                   '-o', 'GHMCLoss.momentm=0.5'])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error: {}: GHMCLoss has no option 'momentm'; did you mean " \
           "'momentum'?".format(config) in err
    assert not os.path.exists(dst)
