"""A built detector's module arguments checked against each other.

Each module checks its own arguments in its constructor; what only shows
when modules meet -- a GroupNorm whose groups do not divide its channels,
an FPN width the head's towers do not read, anchor strides that are not the
FPN's levels -- would otherwise reach the user as a Paddle op's traceback at
the first step (``groups 32 > channels 16`` from ``nn/functional/norm.py``),
or not at all (anchors of a level silently dropped or misplaced).
:func:`check_detector` names the config keys and what they must satisfy;
:func:`dry_run` runs the model once on a small blank image so that any
other combination an op refuses is named with the layer it failed in.
"""
import paddle
import paddle.nn as nn

__all__ = ['ModelConfigError', 'check_detector', 'dry_run']


class ModelConfigError(ValueError):
    """Module arguments that do not fit together."""


def _block_of(layers, path, blocks):
    """The config block that builds the layer at ``path``: the class name
    of its deepest ancestor (or itself) that is a block of the config.

    Args:
        layers (dict): ``dict(model.named_sublayers())``.
    """
    parts = path.split('.')
    for end in range(len(parts), 0, -1):
        name = type(layers['.'.join(parts[:end])]).__name__
        if name in blocks:
            return name
    return None


def _check_group_norms(model, blocks):
    layers = dict(model.named_sublayers())
    for path, layer in layers.items():
        if not isinstance(layer, nn.GroupNorm):
            continue
        groups, channels = layer._num_groups, layer._num_channels
        if channels % groups == 0:
            continue
        block = _block_of(layers, path, blocks) or type(model).__name__
        hint = ''
        if block == 'RetinaFeat':
            hint = ('; with norm_type gn, RetinaFeat.feat_out ({}) must be a '
                    'multiple of {} (or norm_type: null)'.format(channels, groups))
        raise ModelConfigError(
            '{}: the GroupNorm of {} has {} groups over {} channels; the '
            'channels must be a multiple of the groups{}'.format(
                block, path, groups, channels, hint))


def _check_neck_to_head(model):
    neck, head = getattr(model, 'neck', None), getattr(model, 'head', None)
    feat = getattr(head, 'conv_feat', None)
    shapes = getattr(neck, 'out_shape', None)
    if feat is None or not shapes:
        return
    neck_name, feat_name = type(neck).__name__, type(feat).__name__
    widths = sorted({s.channels for s in shapes})
    if widths != [feat.feat_in]:
        raise ModelConfigError(
            '{}.out_channel ({}) and {}.feat_in ({}) differ: the head\'s towers '
            'read the FPN\'s outputs; set both to one width'.format(
                neck_name, '/'.join(map(str, widths)), feat_name, feat.feat_in))
    if getattr(feat, 'num_convs', 1) == 0 and feat.feat_out != feat.feat_in:
        raise ModelConfigError(
            '{0}: with num_convs 0 the towers are empty, so feat_out ({1}) must '
            'equal feat_in ({2})'.format(feat_name, feat.feat_out, feat.feat_in))
    anchors = getattr(head, 'anchor_generator', None)
    strides = getattr(anchors, 'strides', None)
    if strides is None:
        return
    neck_strides = [float(s.stride) for s in shapes]
    if [float(s) for s in strides] != neck_strides:
        raise ModelConfigError(
            '{}.strides {} do not match the {} FPN levels {} gives (strides {}): '
            'every level needs anchors of its own stride; set strides to the '
            'FPN\'s, or change {}.extra_stage or the backbone\'s return_idx'.format(
                type(anchors).__name__, [float(s) for s in strides],
                len(neck_strides), neck_name, neck_strides, neck_name))


def check_detector(model, blocks=()):
    """Raise :class:`ModelConfigError` naming the config keys when the
    modules of ``model`` (a built ppdet architecture; RetinaNet-style
    ``neck``/``head`` checks apply when present) do not fit together.

    Args:
        blocks: the config's block names, to name the block a layer comes
            from.
    """
    blocks = set(blocks)
    _check_group_norms(model, blocks)
    _check_neck_to_head(model)


def _smallest_input(model):
    """Side of a square input every level of ``model`` can run on: the
    largest anchor stride (at least 64)."""
    strides = getattr(getattr(getattr(model, 'head', None), 'anchor_generator',
                              None), 'strides', None) or [64]
    return int(max(64, max(strides)))


def dry_run(model):
    """Run ``model`` once in eval mode, without gradients, on one blank
    image of :func:`_smallest_input` px; a failing op raises
    :class:`ModelConfigError` naming the layer it failed in and the op's
    first line.  Draws no random numbers; the model's mode is restored."""
    size = _smallest_input(model)
    entered = []

    def remember(layer, _inputs):
        entered.append(layer)

    hooks = [layer.register_forward_pre_hook(remember)
             for layer in model.sublayers()]
    paths = {id(layer): path for path, layer in model.named_sublayers()}
    was_training = model.training
    model.eval()
    try:
        with paddle.no_grad():
            model({'image': paddle.zeros([1, 3, size, size], 'float32'),
                   'im_shape': paddle.to_tensor([[size, size]], 'float32'),
                   'scale_factor': paddle.ones([1, 2], 'float32')})
    except (ValueError, RuntimeError, TypeError, IndexError) as err:
        where = paths.get(id(entered[-1]), '?') if entered else '?'
        first = next((line.strip() for line in str(err).splitlines()
                      if line.strip()), type(err).__name__)
        raise ModelConfigError(
            'the model fails on a {0}x{0} image in layer {1} ({2}): {3}'.format(
                size, where, type(entered[-1]).__name__ if entered else '?',
                first)) from err
    finally:
        for hook in hooks:
            hook.remove()
        if was_training:
            model.train()
