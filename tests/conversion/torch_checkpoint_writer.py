"""Write ``torch.save`` files without torch, for the converter's tests.

Both formats are written as torch writes them (protocol-2 pickles, the same
persistent ids and rebuild calls):

* :func:`save_zip` -- torch >= 1.6: ``<archive>/data.pkl``,
  ``<archive>/data/<key>`` raw little-endian bytes, ``<archive>/byteorder``,
  ``<archive>/version``; persistent id
  ``('storage', torch.<T>Storage, key, 'cpu', numel)``.
* :func:`save_legacy` -- torch < 1.6: pickles of the magic number, protocol
  version 1001, sys_info, the object (persistent id
  ``('storage', torch.<T>Storage, key, 'cpu', numel, view_metadata)``),
  the sorted storage keys, then per key an int64 element count + raw bytes.

Tensors are :class:`Tensor` objects pickled as
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False,
OrderedDict())``.  :func:`mmdet_retinanet_shapes` gives the state dict keys
and shapes of mmdetection's RetinaNet (ResNet/ResNeXt + FPN + RetinaHead),
derived from that architecture independently of the converter.
"""
import collections
import io
import math
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
STORAGE_TYPES = {'float32': 'FloatStorage', 'float64': 'DoubleStorage',
                 'float16': 'HalfStorage', 'int64': 'LongStorage',
                 'int32': 'IntStorage', 'uint8': 'ByteStorage',
                 'bool': 'BoolStorage'}


class Global(object):
    """Pickled as ``GLOBAL module name``: a reference to a name that need not
    be importable here (``torch._utils._rebuild_tensor_v2``, mmcv classes)."""
    _cache = {}

    def __new__(cls, module, name):
        key = (module, name)
        if key not in cls._cache:
            obj = object.__new__(cls)
            obj.module, obj.name = module, name
            cls._cache[key] = obj
        return cls._cache[key]

    def __call__(self, *args):  # the pickler insists on a callable
        raise TypeError('{}.{} is only a name'.format(self.module, self.name))


class Reduce(object):
    """An object pickled as ``func(*args)`` [+ BUILD ``state``] [+ SETITEMS
    ``items``], ``func`` a :class:`Global` -- how mmcv/numpy objects appear."""

    def __init__(self, func, args=(), state=None, items=None):
        self.func, self.args, self.state, self.items = func, args, state, items

    def __reduce_ex__(self, protocol):
        return (self.func, tuple(self.args), self.state, None,
                iter(self.items.items()) if self.items else None)


class Storage(object):
    """A flat array written as one torch storage."""

    def __init__(self, array):
        self.array = np.ascontiguousarray(array).reshape(-1)
        self.type_name = STORAGE_TYPES[str(self.array.dtype)]


class StorageView(object):
    """Legacy format only: elements ``[offset, offset + size)`` of ``root``."""

    def __init__(self, root, offset, size):
        self.root, self.offset, self.size = root, offset, size


class Tensor(object):
    """A tensor on ``storage`` (Storage or StorageView) with torch's
    ``storage_offset``/``size``/``stride`` (in elements)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)

    def __reduce_ex__(self, protocol):
        return (Global('torch._utils', '_rebuild_tensor_v2'),
                (self.storage, self.offset, self.size, self.stride, False,
                 collections.OrderedDict()))


def tensor(array):
    """A contiguous tensor with its own storage."""
    array = np.array(array, order='C')  # (ascontiguousarray makes 0-d 1-d)
    strides = [s // array.itemsize for s in array.strides]
    return Tensor(Storage(array), 0, array.shape, strides)


class _Pickler(pickle._Pickler):
    """The pure-Python pickler, plus :class:`Global` and torch's storage
    persistent ids."""
    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, legacy):
        super().__init__(file, protocol=2)
        self.legacy = legacy
        self.storages = collections.OrderedDict()  # key -> Storage

    def _key(self, storage):
        for key, known in self.storages.items():
            if known is storage:
                return key
        key = str(140000000000 + 64 * len(self.storages)) if self.legacy \
            else str(len(self.storages))  # torch: address / counter
        self.storages[key] = storage
        return key

    def persistent_id(self, obj):
        if isinstance(obj, StorageView):
            root, root_key = obj.root, self._key(obj.root)
            view = ('{}_{}_{}'.format(root_key, obj.offset, obj.size),
                    obj.offset, obj.size)
            return ('storage', Global('torch', root.type_name), root_key,
                    'cpu', root.array.size, view)
        if isinstance(obj, Storage):
            pid = ('storage', Global('torch', obj.type_name), self._key(obj),
                   'cpu', obj.array.size)
            return pid + (None,) if self.legacy else pid
        return None

    def save_global_ref(self, obj):
        self.write(pickle.GLOBAL + '{}\n{}\n'.format(obj.module, obj.name)
                   .encode('utf-8'))
        self.memoize(obj)

    dispatch[Global] = save_global_ref


def save_zip(obj, path, archive='archive'):
    """``torch.save(obj, path)`` as torch >= 1.6 writes it."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer, legacy=False)
    pickler.dump(obj)
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        z.writestr(archive + '/data.pkl', buffer.getvalue())
        z.writestr(archive + '/byteorder', 'little')
        for key, storage in pickler.storages.items():
            z.writestr('{}/data/{}'.format(archive, key),
                       storage.array.astype(storage.array.dtype.newbyteorder(
                           '<')).tobytes())
        z.writestr(archive + '/version', '3\n')


def save_legacy(obj, path):
    """``torch.save(obj, path, _use_new_zipfile_serialization=False)``."""
    with open(path, 'wb') as f:
        for header in (LEGACY_MAGIC_NUMBER, 1001,
                       {'protocol_version': 1001, 'little_endian': True,
                        'type_sizes': {'short': 2, 'int': 4, 'long': 4}}):
            pickle.dump(header, f, protocol=2)
        pickler = _Pickler(f, legacy=True)
        pickler.dump(obj)
        keys = sorted(pickler.storages)
        pickle.dump(keys, f, protocol=2)
        for key in keys:
            array = pickler.storages[key].array
            f.write(struct.pack('<q', array.size))
            f.write(array.astype(array.dtype.newbyteorder('<')).tobytes())


# -- mmdetection's RetinaNet state dict --------------------------------------

RESNET_BLOCKS = {50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}

# mmdetection 2.x CocoDataset.CLASSES (1.x wrote '_' for the spaces): COCO's
# categories in ascending id, the order of the 80 retina_cls outputs.
COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train',
    'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
    'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
    'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag',
    'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
    'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon',
    'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot',
    'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote',
    'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear',
    'hair drier', 'toothbrush')


def mmdet_retinanet_shapes(depth=50, groups=1, base_width=64,
                           num_classes=80, num_anchors=9, ghm_buffers=False):
    """Keys and shapes of mmdetection's RetinaNet state dict (ResNet
    style='pytorch' or ResNeXt, FPN start_level 1 / num_outs 5 with extra
    convs on C5, RetinaHead with 4 stacked convs of 256 channels).
    ``ghm_buffers``: also the GHM losses' ``edges``/``acc_sum`` buffers
    (GHMC bins 30, GHMR bins 10), which mmdetection versions that register
    them as buffers save.

    Returns:
        OrderedDict[str, tuple]: ``num_batches_tracked`` entries have shape
        ``()`` and are int64 in a checkpoint, everything else float32.
    """
    shapes = collections.OrderedDict()

    def conv(name, out, inp, k, bias=False):
        shapes[name + '.weight'] = (out, inp, k, k)
        if bias:
            shapes[name + '.bias'] = (out,)

    def bn(name, ch):
        for p in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes['{}.{}'.format(name, p)] = (ch,)
        shapes[name + '.num_batches_tracked'] = ()

    conv('backbone.conv1', 64, 3, 7)
    bn('backbone.bn1', 64)
    inplanes = 64
    for i, blocks in enumerate(RESNET_BLOCKS[depth]):
        planes = 64 * 2**i
        width = planes if groups == 1 else \
            int(math.floor(planes * base_width / 64)) * groups
        for b in range(blocks):
            p = 'backbone.layer{}.{}'.format(i + 1, b)
            conv(p + '.conv1', width, inplanes, 1)
            bn(p + '.bn1', width)
            conv(p + '.conv2', width, width // groups, 3)
            bn(p + '.bn2', width)
            conv(p + '.conv3', planes * 4, width, 1)
            bn(p + '.bn3', planes * 4)
            if b == 0:
                conv(p + '.downsample.0', planes * 4, inplanes, 1)
                bn(p + '.downsample.1', planes * 4)
            inplanes = planes * 4
    for i, c in enumerate([512, 1024, 2048]):  # C3..C5
        conv('neck.lateral_convs.{}.conv'.format(i), 256, c, 1, bias=True)
    for i, c in enumerate([256, 256, 256, 2048, 256]):  # P3..P5, P6 on C5, P7
        conv('neck.fpn_convs.{}.conv'.format(i), 256, c, 3, bias=True)
    for tower in ('cls_convs', 'reg_convs'):
        for i in range(4):
            conv('bbox_head.{}.{}.conv'.format(tower, i), 256, 256, 3,
                 bias=True)
    conv('bbox_head.retina_cls', num_anchors * num_classes, 256, 3, bias=True)
    conv('bbox_head.retina_reg', num_anchors * 4, 256, 3, bias=True)
    if ghm_buffers:
        for loss, bins in (('loss_cls', 30), ('loss_bbox', 10)):
            shapes['bbox_head.{}.edges'.format(loss)] = (bins + 1,)
            shapes['bbox_head.{}.acc_sum'.format(loss)] = (bins,)
    return shapes


def random_state_dict(shapes, seed=0):
    """Random arrays for :func:`mmdet_retinanet_shapes`: float32 normal
    weights, positive ``running_var`` and ``acc_sum``, int64
    ``num_batches_tracked``, GHM ``edges`` as the reference computes them
    (``arange(bins + 1) / bins`` in float32, last edge + 1e-6 for GHM-C,
    1e3 for GHM-R)."""
    rng = np.random.default_rng(seed)
    state = collections.OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('.edges'):
            edges = np.arange(shape[0], dtype=np.float32) / \
                np.float32(shape[0] - 1)
            if 'loss_cls' in key:
                edges[-1] += np.float32(1e-6)
            else:
                edges[-1] = 1e3
            state[key] = edges
        elif key.endswith('.acc_sum'):
            state[key] = rng.uniform(0, 1e4, shape).astype(np.float32)
        elif key.endswith('num_batches_tracked'):
            state[key] = np.array(rng.integers(1, 10**6), dtype=np.int64)
        elif key.endswith('running_var'):
            state[key] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            state[key] = rng.standard_normal(shape, dtype=np.float32) * 0.1
    return state


def mmdet_checkpoint(state, optimizer=True, classes=COCO_CLASSES):
    """An mmcv checkpoint object: ``meta`` (with mmcv-like objects that the
    reader must keep inert), ``state_dict`` of tensors, ``optimizer``."""
    config_dict = Reduce(Global('mmcv.utils.config', 'ConfigDict'),
                         items={'type': 'RetinaNet'})
    numpy_scalar = Reduce(Global('numpy.core.multiarray', 'scalar'),
                          (Reduce(Global('numpy', 'dtype'), ('f8', 0, 1)),
                           b'\x00\x00\x00\x00\x00\x00\xf0?'))
    meta = {'mmdet_version': '2.0.0', 'config': "model = dict(type='RetinaNet')",
            'CLASSES': tuple(classes), 'epoch': 12,
            'model_cfg': config_dict, 'best_score': numpy_scalar}
    checkpoint = collections.OrderedDict()
    checkpoint['meta'] = meta
    checkpoint['state_dict'] = collections.OrderedDict(
        (k, tensor(v)) for k, v in state.items())
    if optimizer:
        checkpoint['optimizer'] = {
            'state': {0: {'momentum_buffer': tensor(np.zeros((2, 2),
                                                             np.float32))}},
            'param_groups': [{'lr': 0.01, 'momentum': 0.9, 'params': [0]}]}
    return checkpoint
