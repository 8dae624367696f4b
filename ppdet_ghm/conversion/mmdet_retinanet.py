"""Map an mmdetection GHM RetinaNet checkpoint onto the model of a config.

The reference models (mmdetection ``retinanet_ghm_*_fpn_1x_coco``) are
ResNet/ResNeXt + FPN + RetinaHead.  Their state dict keys -> the parameters
of PaddleDetection's ``ResNet``/``FPN`` + ``GHMRetinaHead``:

* ``backbone.conv1``, ``backbone.bn1`` -> ``backbone.conv1.conv1.{conv,norm}``
  (ResNeXt: ``backbone.conv1.res_conv1``);
* ``backbone.layer{s}.{b}.conv{k}`` / ``.bn{k}`` ->
  ``backbone.res{s+1}.res{s+1}{a,b,c..}.branch2{a,b,c}.{conv,norm}``
  (R101's 23 blocks of stage 4: ``res4a``, ``res4b1`` .. ``res4b22``);
* ``backbone.layer{s}.0.downsample.{0,1}`` -> ``...res{s+1}a.short.{conv,norm}``;
* ``neck.lateral_convs.{0,1,2}.conv`` (C3..C5) ->
  ``neck.fpn_inner_res{3,4}_sum_lateral``, ``neck.fpn_inner_res5_sum``;
* ``neck.fpn_convs.{0,1,2}.conv`` (P3..P5) -> ``neck.fpn_res{3,4,5}_sum``;
  ``neck.fpn_convs.{3,4}.conv`` (P6 on C5, P7) -> ``neck.fpn_6``, ``neck.fpn_7``;
* ``bbox_head.{cls,reg}_convs.{i}.conv`` ->
  ``head.conv_feat.fcos_head_{cls,reg}_tower_conv_{i}.conv``;
* ``bbox_head.retina_{cls,reg}`` -> ``head.retina_{cls,reg}``.

BatchNorm: ``weight``/``bias``/``running_mean``/``running_var`` ->
``weight``/``bias``/``_mean``/``_variance``; ``num_batches_tracked`` has no
Paddle counterpart and is skipped.  The code holds no table of Paddle
names: the pairs are derived by walking the built model's layers
(``model.backbone.res_layers[s].blocks[b].branch2a`` ...), so every depth and
ResNeXt naming above is covered by one code path.

Conv weights are ``(out, in / groups, kh, kw)`` in both frameworks and are
copied unchanged.  (A ``Linear`` weight would need a transpose -- torch
``(out, in)``, Paddle ``(in, out)`` -- but these models have none.)

Channel layouts need no permutation: ``retina_cls`` has ``A * num_classes``
outputs ordered anchor-major (``a * C + c``) with anchors in mmdetection's
ratio-major order, which is how ``GHMRetinaHead`` and
``GHMRetinaAnchorGenerator`` read them; ``retina_reg`` likewise ``a * 4 + k``
with deltas ``(dx, dy, dw, dh)``.  Classes are COCO's in ascending category
id in both frameworks.
"""
import collections

import numpy as np

from ..utils.weights import WeightsError

__all__ = ['ConversionError', 'ConversionResult', 'SKIP_RULES',
           'GHM_LOSS_SOURCES',
           'reference_architecture_problems', 'mmdet_key_pairs',
           'convert_mmdet_state_dict', 'compare_class_names']

_SHOWN = 30

# Source tensors that have no Paddle counterpart: (key suffix, reason).
SKIP_RULES = [
    ('.num_batches_tracked',
     "BatchNorm batch counter; Paddle's BatchNorm has none (only used by "
     "torch when momentum=None, in training)"),
]

# The head's GHM losses under their mmdetection names.  mmdetection versions
# that register the losses' ``edges``/``acc_sum`` as buffers save them in the
# state dict; others keep them outside it.
GHM_LOSS_SOURCES = (('loss_class', 'bbox_head.loss_cls'),
                    ('loss_bbox', 'bbox_head.loss_bbox'))
GHM_STATE_REASON = ('GHM-C/GHM-R EMA histogram state, used only in '
                    'training; not in this checkpoint: zeros, the state of a '
                    'fresh training run')
GHM_EDGES_REASON = ("GHM bin edges; equal to the ones ppdet_ghm's loss "
                    "computes itself (not saved in .pdparams)")


class ConversionError(WeightsError):
    """A checkpoint that does not map one-to-one onto the model."""


ConversionResult = collections.namedtuple(
    'ConversionResult', ['weights', 'pairs', 'skipped', 'filled', 'prefix'])
ConversionResult.__doc__ = """What :func:`convert_mmdet_state_dict` produced.

    weights (OrderedDict[str, np.ndarray]): every key of
        ``model.state_dict()``, in its order, with the model's dtypes.
    pairs (list[tuple[str, str]]): (Paddle key, source key) copied.
    skipped (OrderedDict[str, str]): source key -> reason it is not used.
    filled (OrderedDict[str, str]): Paddle key -> reason it is not from the
        checkpoint (zeros: the GHM losses' ``acc_sum`` when the checkpoint
        has none).
    prefix (str): prefix stripped from all source keys ('' or 'module.').
"""


def _listing(items, what):
    shown = '\n  '.join(items[:_SHOWN])
    more = '\n  ... and {} more'.format(len(items) - _SHOWN) \
        if len(items) > _SHOWN else ''
    return '{} {}:\n  {}{}'.format(len(items), what, shown, more)


def reference_architecture_problems(model):
    """Differences between ``model`` and the mmdetection RetinaNet that
    shapes alone would not reveal.

    Args:
        model: a built ``RetinaNet`` (backbone, neck, head).

    Returns:
        list[str]: one line per difference, empty when it is the reference's.
    """
    from ppdet.modeling.backbones.resnet import ResNet
    from ppdet.modeling.necks.fpn import FPN

    from ..modeling import GHMRetinaAnchorGenerator, GHMRetinaHead

    problems = []

    def expect(what, actual, wanted, why):
        if actual != wanted:
            problems.append('{} is {!r}, expected {!r} ({})'.format(
                what, actual, wanted, why))

    backbone, neck, head = (getattr(model, name, None)
                            for name in ('backbone', 'neck', 'head'))
    if not isinstance(backbone, ResNet):
        problems.append('backbone is {}, expected ppdet ResNet'.format(
            type(backbone).__name__))
    else:
        expect('ResNet.variant', backbone.variant, 'b',
               "mmdetection style='pytorch': stride on the 3x3 conv, one 7x7 "
               "stem conv, 1x1 conv shortcut")
        for stage in backbone.res_layers:
            for block in stage.blocks:
                if getattr(block, 'std_senet', False):
                    problems.append('ResNet.std_senet is set (the reference '
                                    'has no SE blocks)')
                if getattr(block.branch2b, 'dcn_v2', False):
                    problems.append('ResNet.dcn_v2_stages is set (the '
                                    'reference has no deformable convs)')
        problems = list(dict.fromkeys(problems))
    if not isinstance(neck, FPN):
        problems.append('neck is {}, expected ppdet FPN'.format(
            type(neck).__name__))
    else:
        block = type(neck).__name__      # FPN or GHMRetinaFPN: same layers
        expect(block + '.norm_type', neck.norm_type, None, 'plain convs')
        expect(block + '.has_extra_convs', neck.has_extra_convs, True,
               'P6/P7 are convs')
        expect(block + '.use_c5', neck.use_c5, True, 'P6 from C5')
        expect(block + '.relu_before_extra_convs', neck.relu_before_extra_convs,
               False, 'no ReLU before the P7 conv')
    if not isinstance(head, GHMRetinaHead):
        problems.append('head is {}, expected GHMRetinaHead'.format(
            type(head).__name__))
        return problems
    expect('RetinaFeat.norm_type', head.conv_feat.norm_type, None,
           'plain conv towers')
    generator = head.anchor_generator
    if not isinstance(generator, GHMRetinaAnchorGenerator):
        problems.append(
            'anchor_generator is {}, expected GHMRetinaAnchorGenerator (its '
            'ratio-major cell order is the one of the checkpoint\'s '
            'retina_cls/retina_reg channels)'.format(type(generator).__name__))
    else:
        expect('GHMRetinaAnchorGenerator.octave_base_scale',
               generator.octave_base_scale, 4, 'reference anchors')
        expect('GHMRetinaAnchorGenerator.scales_per_octave',
               generator.scales_per_octave, 3, 'reference anchors')
        expect('GHMRetinaAnchorGenerator.aspect_ratios',
               [float(r) for r in generator.aspect_ratios], [0.5, 1.0, 2.0],
               'reference anchors, in this order')
        expect('GHMRetinaAnchorGenerator.strides',
               [float(s) for s in generator.strides],
               [8.0, 16.0, 32.0, 64.0, 128.0], 'P3..P7')
    for owner, name in ((head, 'GHMRetinaHead'),
                        (head.post_processor, 'GHMRetinaPostProcess')):
        expect(name + '.box_coder.means', owner.box_coder.means, [0.0] * 4,
               'the reference box coder')
        expect(name + '.box_coder.stds', owner.box_coder.stds, [1.0] * 4,
               'the reference box coder')
    return problems


def _conv_pairs(names, layer, source):
    pairs = [(names[id(layer)] + '.weight', source + '.weight')]
    if getattr(layer, 'bias', None) is not None:
        pairs.append((names[id(layer)] + '.bias', source + '.bias'))
    return pairs


def _bn_pairs(names, layer, source):
    target = names[id(layer)]
    return [(target + '.' + dst, source + '.' + src) for dst, src in (
        ('weight', 'weight'), ('bias', 'bias'), ('_mean', 'running_mean'),
        ('_variance', 'running_var'))]


def _conv_norm_pairs(names, layer, conv_source, bn_source):
    """ppdet ``ConvNormLayer`` (``.conv`` + ``.norm``)."""
    return _conv_pairs(names, layer.conv, conv_source) + \
        _bn_pairs(names, layer.norm, bn_source)


def mmdet_key_pairs(model):
    """(Paddle key, mmdetection key) for every weight the checkpoint gives.

    Args:
        model: a built ``RetinaNet`` with ppdet ``ResNet`` (variant a/b),
            ``FPN`` and ``GHMRetinaHead``.

    Returns:
        list[tuple[str, str]] in model order.
    """
    names = {id(layer): name for name, layer in model.named_sublayers()}
    backbone, neck, head = model.backbone, model.neck, model.head
    pairs = []

    stem = list(backbone.conv1.children())
    if len(stem) != 1:
        raise ConversionError(
            'backbone stem has {} convs, expected 1 (ResNet variant a/b)'
            .format(len(stem)))
    pairs += _conv_norm_pairs(names, stem[0], 'backbone.conv1',
                              'backbone.bn1')
    for s, stage in enumerate(backbone.res_layers, 1):
        for b, block in enumerate(stage.blocks):
            source = 'backbone.layer{}.{}'.format(s, b)
            convs = [block.branch2a, block.branch2b]
            if hasattr(block, 'branch2c'):  # BottleNeck; BasicBlock has 2
                convs.append(block.branch2c)
            for k, conv in enumerate(convs, 1):
                pairs += _conv_norm_pairs(names, conv,
                                          '{}.conv{}'.format(source, k),
                                          '{}.bn{}'.format(source, k))
            if not block.shortcut:
                pairs += _conv_norm_pairs(names, block.short,
                                          source + '.downsample.0',
                                          source + '.downsample.1')

    for i, conv in enumerate(neck.lateral_convs):  # C3, C4, C5
        pairs += _conv_pairs(names, conv, 'neck.lateral_convs.{}.conv'.format(i))
    for i, conv in enumerate(neck.fpn_convs):  # P3, P4, P5, P6, P7
        pairs += _conv_pairs(names, conv, 'neck.fpn_convs.{}.conv'.format(i))

    feat = head.conv_feat
    for tower, source in ((feat.cls_subnet_convs, 'bbox_head.cls_convs'),
                          (feat.reg_subnet_convs, 'bbox_head.reg_convs')):
        for i, layer in enumerate(tower):
            pairs += _conv_pairs(names, layer.conv,
                                 '{}.{}.conv'.format(source, i))
    pairs += _conv_pairs(names, head.retina_cls, 'bbox_head.retina_cls')
    pairs += _conv_pairs(names, head.retina_reg, 'bbox_head.retina_reg')
    return pairs


def _ghm_losses(model):
    """(Paddle key prefix, loss layer, mmdetection key prefix) of the head's
    GHM losses."""
    from ..losses.ghm_base import GHMLossBase
    names = {id(layer): name for name, layer in model.named_sublayers()}
    found = []
    for attr, source in GHM_LOSS_SOURCES:
        layer = getattr(model.head, attr, None)
        if isinstance(layer, GHMLossBase):
            found.append((names[id(layer)], layer, source))
    return found


def _np_dtype(tensor):
    """numpy dtype name of a Paddle tensor ('paddle.float32' -> 'float32')."""
    return str(tensor.dtype).replace('paddle.', '')


def _strip_module_prefix(source):
    """DataParallel checkpoints prefix every key with 'module.'."""
    if source and all(k.startswith('module.') for k in source):
        return collections.OrderedDict(
            (k[len('module.'):], v) for k, v in source.items()), 'module.'
    return source, ''


def convert_mmdet_state_dict(source, model):
    """Convert an mmdetection RetinaNet state dict for ``model``.

    Args:
        source (dict[str, np.ndarray]): the checkpoint's ``state_dict``.
        model: built from the target config (its state dict gives the keys,
            shapes and dtypes).

    Returns:
        ConversionResult.

    Raises:
        ConversionError: the model is not the reference architecture, or
            the checkpoint does not cover it one-to-one.  The message lists
            every model key left unfilled, every source key left unused,
            every mapped key absent from the checkpoint and every shape or
            dtype mismatch.
    """
    problems = reference_architecture_problems(model)
    if problems:
        raise ConversionError(
            'the model built from the config is not the mmdetection '
            'reference architecture, converted weights would compute '
            'something else:\n  ' + '\n  '.join(problems))
    source, prefix = _strip_module_prefix(source)
    expected = model.state_dict()
    pairs = mmdet_key_pairs(model)
    filled, skipped = collections.OrderedDict(), collections.OrderedDict()
    absent, mismatched = [], []
    for target, layer, loss_source in _ghm_losses(model):
        if loss_source + '.acc_sum' in source:  # the trained EMA state
            pairs.append((target + '.acc_sum', loss_source + '.acc_sum'))
        else:
            filled[target + '.acc_sum'] = GHM_STATE_REASON
        edges = loss_source + '.edges'
        if edges in source:
            ours = layer.edges.numpy()
            if source[edges].shape == ours.shape and np.allclose(
                    source[edges], ours, rtol=1e-6, atol=0):
                skipped[edges] = GHM_EDGES_REASON
            else:
                mismatched.append('{} {} are not the bin edges of {} {} '
                                  '(other bins?)'.format(
                                      edges, source[edges].tolist(), target,
                                      ours.tolist()))

    weights = collections.OrderedDict()
    for target, key in pairs:
        if target not in expected:  # would be a bug in mmdet_key_pairs
            raise ConversionError("internal: '{}' is not a model key".format(
                target))
        if key not in source:
            absent.append('{} (for {} {})'.format(
                key, target, list(expected[target].shape)))
            continue
        value, want = source[key], expected[target]
        if list(value.shape) != list(want.shape):
            mismatched.append('{} {} -> {} {}'.format(
                key, list(value.shape), target, list(want.shape)))
            continue
        if not np.issubdtype(value.dtype, np.floating):
            mismatched.append('{} has dtype {}, expected floats for {}'.format(
                key, value.dtype, target))
            continue
        weights[target] = np.ascontiguousarray(
            value.astype(_np_dtype(want), copy=False))
    for key in filled:
        weights[key] = np.zeros(expected[key].shape,
                                dtype=_np_dtype(expected[key]))
    unfilled = ['{} {}'.format(k, list(v.shape)) for k, v in expected.items()
                if k not in weights]

    used = {key for _, key in pairs}
    unused = []
    for key, value in source.items():
        if key in used or key in skipped:
            continue
        reason = next((r for suffix, r in SKIP_RULES if key.endswith(suffix)),
                      None)
        if reason is None:
            unused.append('{} {}'.format(key, list(value.shape)))
        else:
            skipped[key] = reason

    errors = []
    if unfilled:
        errors.append(_listing(unfilled, 'model key(s) not filled by the '
                                         'checkpoint'))
    if absent:
        errors.append(_listing(absent, 'checkpoint key(s) expected but '
                                       'absent'))
    if mismatched:
        errors.append(_listing(mismatched, 'shape/dtype mismatch(es) '
                                           '(checkpoint -> model)'))
    if unused:
        errors.append(_listing(unused, 'checkpoint tensor(s) left unused'))
    if errors:
        raise ConversionError(
            'the checkpoint does not map one-to-one onto the model (other '
            'backbone/num_classes?):\n' + '\n'.join(errors))
    skipped = collections.OrderedDict(
        (k, skipped[k]) for k in source if k in skipped)  # file order
    ordered = collections.OrderedDict((k, weights[k]) for k in expected)
    return ConversionResult(ordered, pairs, skipped, filled, prefix)


def compare_class_names(checkpoint_classes, names):
    """None if the checkpoint's class names (mmdet ``meta['CLASSES']``) are
    ``names`` in the same order, else a sentence naming the first
    difference.  Spelling is normalised (case, ``_`` = space: mmdetection
    1.x wrote 'traffic_light', 2.x 'traffic light')."""
    def norm(name):
        return str(name).replace('_', ' ').strip().lower()

    checkpoint_classes = list(checkpoint_classes)
    if len(checkpoint_classes) != len(names):
        return 'the checkpoint has {} classes, the config {}'.format(
            len(checkpoint_classes), len(names))
    for i, (a, b) in enumerate(zip(checkpoint_classes, names)):
        if norm(a) != norm(b):
            return ('class {} is {!r} in the checkpoint and {!r} here (class '
                    'order differs?)'.format(i, a, b))
    return None
