"""Read PyTorch checkpoint files (``torch.save``) without PyTorch.

Two on-disk formats exist:

* **zip** (torch >= 1.6): a zip archive ``<name>/data.pkl`` (the pickled
  object) plus one raw little-endian byte file per storage,
  ``<name>/data/<key>``; optional ``<name>/byteorder`` ("little"/"big").
* **legacy** (torch < 1.6, e.g. mmdetection's 2020 model zoo): consecutive
  pickles in one file -- the magic number ``0x1950a86a20f9469cfc6c``, the
  protocol version 1001, a ``sys_info`` dict, the object, the sorted list of
  storage keys -- then, per key, an int64 element count and the raw bytes.

In both, a tensor is pickled as a call of ``torch._utils._rebuild_tensor_v2(
storage, storage_offset, size, stride, requires_grad, backward_hooks[,
metadata])`` whose storage is a *persistent id*: ``('storage', storage_type,
key, location, numel)`` (zip) or ``('storage', storage_type, root_key,
location, numel, view_metadata)`` (legacy); ``storage_type`` (e.g.
``torch.FloatStorage``) gives the dtype.

Unpickling here is *restricted*: the torch rebuild functions, storage and
dtype names, ``collections.OrderedDict`` and a few inert builtins are mapped to
this module's own code; every other global (mmcv/mmdet objects in ``meta``,
numpy scalars, ...) becomes an :class:`UnknownObject` that records its
arguments and executes nothing.  Tensors are read lazily
(:class:`LazyTensor`), so an ``optimizer`` entry costs no memory unless asked
for.
"""
import _compat_pickle
import collections
import os
import pickle
import struct
import sys
import tarfile
import zipfile

import numpy as np

__all__ = ['TorchCheckpointError', 'TorchCheckpointFile', 'LazyTensor',
           'UnknownObject', 'load_state_dict', 'LEGACY_MAGIC_NUMBER',
           'LEGACY_PROTOCOL_VERSION']

LEGACY_MAGIC_NUMBER = 0x1950a86a20f9469cfc6c
LEGACY_PROTOCOL_VERSION = 1001

# torch storage class name -> numpy dtype name ('bfloat16' is handled apart:
# numpy has none, it is widened to float32 bit-exactly).
STORAGE_DTYPES = {
    'FloatStorage': 'float32', 'DoubleStorage': 'float64',
    'HalfStorage': 'float16', 'BFloat16Storage': 'bfloat16',
    'LongStorage': 'int64', 'IntStorage': 'int32', 'ShortStorage': 'int16',
    'CharStorage': 'int8', 'ByteStorage': 'uint8', 'BoolStorage': 'bool',
    'UntypedStorage': 'uint8',  # numel counts bytes
}
# torch dtype attribute name (torch.float32, torch.half, ...) -> numpy dtype
TORCH_DTYPES = {
    'float32': 'float32', 'float': 'float32', 'float64': 'float64',
    'double': 'float64', 'float16': 'float16', 'half': 'float16',
    'bfloat16': 'bfloat16', 'int64': 'int64', 'long': 'int64',
    'int32': 'int32', 'int': 'int32', 'int16': 'int16', 'short': 'int16',
    'int8': 'int8', 'uint8': 'uint8', 'bool': 'bool',
}
_STORAGE_MODULES = ('torch', 'torch.cuda', 'torch.storage')
_ITEMSIZE = {'bfloat16': 2}


class TorchCheckpointError(ValueError):
    """A file that cannot be read as a PyTorch checkpoint (or whose
    ``state_dict`` cannot be read)."""


def _itemsize(dtype):
    return _ITEMSIZE.get(dtype) or np.dtype(dtype).itemsize


class UnknownObject(object):
    """Inert stand-in for a pickled object of a class this reader does not
    know (``global_name``): it keeps the constructor arguments, the pickled
    state and any items/elements, and runs no code of the original class."""
    global_name = '?'

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args, obj.kwargs, obj.state = args, kwargs, None
        obj.items, obj.elements = collections.OrderedDict(), []
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):  # dict subclasses (SETITEMS)
        self.items[key] = value

    def append(self, value):  # list subclasses (APPENDS)
        self.elements.append(value)

    def extend(self, values):
        self.elements.extend(values)

    def __repr__(self):
        return '<unknown {}>'.format(self.global_name)


_UNKNOWN_TYPES = {}


def _unknown_global(module, name):
    key = '{}.{}'.format(module, name)
    if key not in _UNKNOWN_TYPES:
        _UNKNOWN_TYPES[key] = type('Unknown_' + name, (UnknownObject,),
                                   {'global_name': key})
    return _UNKNOWN_TYPES[key]


class _StorageType(object):
    """What ``torch.FloatStorage`` & co. unpickle to: a dtype marker."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return 'torch.{}'.format(self.name)


class _TorchDtype(object):
    """What ``torch.float32`` & co. unpickle to."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


class _Storage(object):
    """One storage: ``numel`` elements of ``dtype``; bytes fetched on demand
    from ``source(key, nbytes)``."""

    def __init__(self, key, dtype, numel, source, byteorder):
        self.key, self.dtype, self.numel = key, dtype, int(numel)
        self._source, self._byteorder = source, byteorder
        self._bytes = None

    @property
    def nbytes(self):
        return self.numel * _itemsize(self.dtype)

    def raw(self):
        if self._bytes is None:
            data = self._source(self.key, self.nbytes)
            if len(data) != self.nbytes:
                raise TorchCheckpointError(
                    "storage '{}': {} bytes stored, expected {} ({} x {})"
                    .format(self.key, len(data), self.nbytes, self.numel,
                            self.dtype))
            self._bytes = data
        return self._bytes

    def array(self, dtype=None):
        """The storage as a 1-D native-endian array of ``dtype`` (default:
        the storage's own; another dtype reinterprets the bytes)."""
        return _bytes_to_array(self.raw(), dtype or self.dtype,
                               self._byteorder)


class _StorageView(object):
    """A legacy storage view: ``size`` elements of ``root`` from ``offset``."""

    def __init__(self, root, offset, size):
        self.root, self.offset, self.numel = root, int(offset), int(size)
        self.dtype, self.key = root.dtype, root.key

    def array(self, dtype=None):
        if self.offset + self.numel > self.root.numel:
            raise TorchCheckpointError(
                "storage view of '{}' [{}:{}] exceeds its {} elements".format(
                    self.key, self.offset, self.offset + self.numel,
                    self.root.numel))
        return self.root.array(dtype)[self.offset:self.offset + self.numel]


def _bytes_to_array(data, dtype, byteorder):
    order = '<' if byteorder == 'little' else '>'
    if dtype == 'bfloat16':  # upper half of a float32
        half = np.frombuffer(data, dtype=order + 'u2').astype(np.uint32)
        return (half << 16).view(np.float32)
    native = np.dtype(dtype)
    if byteorder == sys.byteorder or native.itemsize == 1:
        return np.frombuffer(data, dtype=native)
    return np.frombuffer(data, dtype=native.newbyteorder(order)).astype(native)


class LazyTensor(object):
    """A tensor of the checkpoint, materialised by :meth:`numpy`.

    Attributes:
        shape (tuple[int]): ``size`` as pickled.
        dtype (str): numpy dtype name (``'bfloat16'`` reads as float32).
    """

    def __init__(self, storage, storage_offset, size, stride, dtype=None):
        self.storage = storage
        self.offset = int(storage_offset)
        self.shape = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)
        self.dtype = dtype or storage.dtype
        if len(self.stride) != len(self.shape):
            raise TorchCheckpointError(
                'tensor of size {} has stride {} (different lengths)'.format(
                    self.shape, self.stride))

    def numpy(self):
        """A C-contiguous copy ``(shape)`` of the tensor's elements, read
        through ``storage_offset`` and ``stride`` (non-contiguous views are
        resolved); out-of-range strides raise :class:`TorchCheckpointError`."""
        flat = self.storage.array(self.dtype)
        if any(s == 0 for s in self.shape):
            return np.zeros(self.shape, dtype=flat.dtype)
        last = self.offset + sum((n - 1) * s for n, s in
                                 zip(self.shape, self.stride))
        if self.offset < 0 or min(self.stride, default=0) < 0 \
                or last >= flat.shape[0]:
            raise TorchCheckpointError(
                "tensor size {} stride {} offset {} reaches element {} of "
                "storage '{}', which has {}".format(
                    self.shape, self.stride, self.offset, last,
                    self.storage.key, flat.shape[0]))
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:], shape=self.shape,
            strides=[s * flat.itemsize for s in self.stride], writeable=False)
        return np.array(view, copy=True, order='C')

    def __repr__(self):
        return 'LazyTensor({}, {})'.format(self.dtype, list(self.shape))


# -- the functions a torch pickle calls -------------------------------------

def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
    """``torch._utils._rebuild_tensor`` and ``_rebuild_tensor_v2`` (the extra
    arguments are requires_grad, backward_hooks, metadata)."""
    if not isinstance(storage, (_Storage, _StorageView)):
        return _unknown_global('torch._utils', '_rebuild_tensor')(
            storage, storage_offset, size, stride)
    return LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad,
                       backward_hooks, dtype, metadata=None):
    """``torch._utils._rebuild_tensor_v3``: an untyped storage and a dtype."""
    if not isinstance(dtype, _TorchDtype):
        return _unknown_global('torch._utils', '_rebuild_tensor_v3')(
            storage, storage_offset, size, stride)
    return LazyTensor(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(data, requires_grad, backward_hooks, *state):
    """``torch._utils._rebuild_parameter[_with_state]``: the data itself."""
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    """``torch._tensor._rebuild_from_type_v2``: ``func`` is itself a global
    resolved by this reader (a rebuild function or an UnknownObject type)."""
    return func(*args)


def _codecs_encode(text, encoding='utf-8'):
    """``_codecs.encode``, how protocol-2 pickles store ``bytes``."""
    if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
        return _unknown_global('_codecs', 'encode')(text, encoding)
    return text.encode('latin1')


def _bytes_of(kind):
    """``builtins.bytes``/``bytearray`` as pickles call them (empty, or from
    bytes); never ``bytes(n)``, which would allocate n bytes."""
    def build(*args):
        if not args:
            return kind()
        if len(args) == 1 and isinstance(args[0], (bytes, bytearray)):
            return kind(args[0])
        return _unknown_global('builtins', kind.__name__)(*args)
    return build


_KNOWN_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_tensor'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v3'): _rebuild_tensor_v3,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): _rebuild_parameter,
    ('torch._tensor', '_rebuild_from_type_v2'): _rebuild_from_type_v2,
    ('_codecs', 'encode'): _codecs_encode,
    ('builtins', 'set'): set, ('builtins', 'frozenset'): frozenset,
    ('builtins', 'bytes'): _bytes_of(bytes),
    ('builtins', 'bytearray'): _bytes_of(bytearray),
    ('builtins', 'slice'): slice, ('builtins', 'complex'): complex,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves globals from :data:`_KNOWN_GLOBALS`, storage and dtype names;
    anything else to an inert :class:`UnknownObject` type."""

    def __init__(self, file, storage_for):
        super().__init__(file)
        self._storage_for = storage_for

    def find_class(self, module, name):
        # Python 3 writes protocol-2 pickles (torch's) with Python 2 names
        # ('__builtin__', 'copy_reg'): map them back as pickle itself does.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) in _KNOWN_GLOBALS:
            return _KNOWN_GLOBALS[(module, name)]
        if module in _STORAGE_MODULES and name in STORAGE_DTYPES:
            return _StorageType(name, STORAGE_DTYPES[name])
        if module == 'torch' and name in TORCH_DTYPES:
            return _TorchDtype(name, TORCH_DTYPES[name])
        return _unknown_global(module, name)

    def persistent_load(self, pid):
        return self._storage_for(pid)


def _text(value):
    return value.decode('ascii') if isinstance(value, bytes) else value


class TorchCheckpointFile(object):
    """An open ``torch.save`` file (zip or legacy format).

    Use as a context manager; :attr:`root` is the unpickled object with
    :class:`LazyTensor` leaves, readable while the file is open.

    Attributes:
        path (str), format (str): ``'zip'`` or ``'legacy'``, root (object).
    """

    def __init__(self, path):
        self.path = path
        self._zip = self._file = None
        self._storages = {}
        self._legacy_offsets = {}
        self.byteorder = 'little'
        if not os.path.isfile(path):
            raise TorchCheckpointError("checkpoint: no file at '{}'".format(
                path))
        try:
            if zipfile.is_zipfile(path):
                self.format = 'zip'
                self.root = self._read_zip()
            elif tarfile.is_tarfile(path):
                raise TorchCheckpointError(
                    "checkpoint '{}': tar format of torch < 0.4 is not "
                    "supported; re-save it with a newer torch".format(path))
            else:
                self.format = 'legacy'
                self.root = self._read_legacy()
        except TorchCheckpointError:
            self.close()
            raise
        except Exception as err:  # truncated / not a pickle at all
            self.close()
            raise TorchCheckpointError(
                "checkpoint '{}': cannot read it as a torch.save file ({}: "
                "{})".format(path, type(err).__name__, err))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for handle in (self._zip, self._file):
            if handle is not None:
                handle.close()
        self._zip = self._file = None

    # -- storages ------------------------------------------------------

    def _storage_for(self, pid):
        """Persistent id -> storage (shared by key)."""
        if not isinstance(pid, tuple) or not pid or \
                _text(pid[0]) != 'storage':
            kind = _text(pid[0]) if isinstance(pid, tuple) and pid else '?'
            return _unknown_global('persistent_id', str(kind))(pid)
        expected = 5 if self.format == 'zip' else 6
        if len(pid) != expected:
            raise TorchCheckpointError(
                'storage id {!r}: {} fields, expected {} in the {} format'
                .format(pid, len(pid), expected, self.format))
        storage_type, key, numel = pid[1], _text(pid[2]), pid[4]
        if not isinstance(storage_type, _StorageType):
            raise TorchCheckpointError(
                "storage '{}' has type {!r}; known: {}".format(
                    key, storage_type, ', '.join(sorted(STORAGE_DTYPES))))
        if key not in self._storages:
            self._storages[key] = _Storage(key, storage_type.dtype, numel,
                                           self._read_bytes, self.byteorder)
        storage = self._storages[key]
        view = pid[5] if expected == 6 else None
        if view is not None:  # (view_key, offset, view_size)
            return _StorageView(storage, view[1], view[2])
        return storage

    def _read_bytes(self, key, nbytes):
        if self.format == 'zip':
            name = '{}/data/{}'.format(self._prefix, key)
            try:
                return self._handle().read(name)
            except KeyError:
                raise TorchCheckpointError(
                    "checkpoint '{}': storage '{}' missing from the archive"
                    .format(self.path, name))
        if key not in self._legacy_offsets:
            raise TorchCheckpointError(
                "checkpoint '{}': storage '{}' has no data".format(
                    self.path, key))
        handle = self._handle()
        handle.seek(self._legacy_offsets[key])
        return handle.read(nbytes)

    def _handle(self):
        if self.format == 'zip':
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.path)
            return self._zip
        if self._file is None:
            self._file = open(self.path, 'rb')
        return self._file

    # -- formats -------------------------------------------------------

    def _read_zip(self):
        archive = self._handle()
        pickles = [n for n in archive.namelist()
                   if n.endswith('/data.pkl') and n.count('/') == 1]
        if len(pickles) != 1:
            raise TorchCheckpointError(
                "checkpoint '{}': a zip without exactly one '<name>/data.pkl' "
                "(found {}); not a torch.save file".format(self.path, pickles))
        self._prefix = pickles[0].split('/')[0]
        byteorder = '{}/byteorder'.format(self._prefix)
        if byteorder in archive.namelist():
            self.byteorder = archive.read(byteorder).decode().strip()
        with archive.open(pickles[0]) as f:
            return _RestrictedUnpickler(f, self._storage_for).load()

    def _read_legacy(self):
        f = self._handle()

        def next_pickle(what):
            try:
                return _RestrictedUnpickler(f, self._storage_for).load()
            except TorchCheckpointError:
                raise
            except Exception as err:
                raise TorchCheckpointError(
                    "checkpoint '{}': cannot read the {} ({}: {}); not a "
                    "torch.save file?".format(self.path, what,
                                              type(err).__name__, err))

        magic = next_pickle('magic number')
        if magic != LEGACY_MAGIC_NUMBER:
            raise TorchCheckpointError(
                "checkpoint '{}': magic number {!r}, expected {:#x}; not a "
                "torch.save file".format(self.path, magic, LEGACY_MAGIC_NUMBER))
        version = next_pickle('protocol version')
        if version != LEGACY_PROTOCOL_VERSION:
            raise TorchCheckpointError(
                "checkpoint '{}': protocol version {!r}, expected {}".format(
                    self.path, version, LEGACY_PROTOCOL_VERSION))
        sys_info = next_pickle('sys_info')
        if isinstance(sys_info, dict) and \
                sys_info.get('little_endian') is False:
            self.byteorder = 'big'
        root = next_pickle('object')
        keys = next_pickle('storage key list')
        if not isinstance(keys, list):
            raise TorchCheckpointError(
                "checkpoint '{}': storage key list is a {}".format(
                    self.path, type(keys).__name__))
        order = '<' if self.byteorder == 'little' else '>'
        size = os.fstat(f.fileno()).st_size
        for key in keys:
            key = _text(key)
            if key not in self._storages:
                raise TorchCheckpointError(
                    "checkpoint '{}': data for storage '{}' that no tensor "
                    "uses".format(self.path, key))
            storage = self._storages[key]
            header = f.read(8)
            if len(header) != 8:
                raise TorchCheckpointError(
                    "checkpoint '{}' is truncated: no data for storage '{}'"
                    .format(self.path, key))
            numel = struct.unpack(order + 'q', header)[0]
            if numel != storage.numel:
                raise TorchCheckpointError(
                    "checkpoint '{}': storage '{}' stores {} elements, its "
                    "tensors expect {}".format(self.path, key, numel,
                                               storage.numel))
            self._legacy_offsets[key] = f.tell()
            if f.tell() + storage.nbytes > size:
                raise TorchCheckpointError(
                    "checkpoint '{}' is truncated inside storage '{}'".format(
                        self.path, key))
            f.seek(storage.nbytes, os.SEEK_CUR)
        return root


# Top-level entries of an mmcv/mmdet checkpoint besides 'state_dict'.
SKIPPED_ENTRIES = {
    'meta': 'checkpoint metadata (versions, config, class names), no weights',
    'optimizer': 'optimizer state (momentum buffers), used only to resume '
                 'training',
}


def load_state_dict(path):
    """The weights of a ``torch.save`` checkpoint as numpy arrays.

    Accepts an mmcv/mmdet checkpoint ``{'meta', 'state_dict', 'optimizer'}``
    or a bare state dict.

    Returns:
        state_dict (OrderedDict[str, np.ndarray]) in file order, and info:
        dict with ``format`` (``'zip'``/``'legacy'``), ``skipped`` (top-level
        entry -> reason) and ``meta`` (the ``meta`` entry, or None).

    Raises:
        TorchCheckpointError: unreadable file, no state dict, or a state dict
            entry that is not a dense tensor (all such entries listed).
    """
    with TorchCheckpointFile(path) as ckpt:
        root = ckpt.root
        info = {'format': ckpt.format, 'skipped': collections.OrderedDict(),
                'meta': None}
        if isinstance(root, dict) and 'state_dict' in root:
            state = root['state_dict']
            for key in root:
                if key != 'state_dict':
                    info['skipped'][key] = SKIPPED_ENTRIES.get(
                        key, 'not part of the weights')
            info['meta'] = root.get('meta')
        elif isinstance(root, dict) and root and all(
                isinstance(v, LazyTensor) for v in root.values()):
            state = root
        else:
            keys = list(root) if isinstance(root, dict) else None
            raise TorchCheckpointError(
                "checkpoint '{}': no 'state_dict' (top level is a {}{})".format(
                    path, type(root).__name__,
                    ' with keys {}'.format(keys) if keys is not None else ''))
        if not isinstance(state, dict):
            raise TorchCheckpointError(
                "checkpoint '{}': 'state_dict' is a {!r}, expected a dict of "
                "tensors".format(path, state))
        bad = ['{} ({!r})'.format(k, v) for k, v in state.items()
               if not isinstance(k, str) or not isinstance(v, LazyTensor)]
        if bad:
            raise TorchCheckpointError(
                "checkpoint '{}': {} state_dict entr(y/ies) are not dense "
                "tensors: {}".format(path, len(bad), ', '.join(bad)))
        arrays = collections.OrderedDict(
            (k, v.numpy()) for k, v in state.items())
    return arrays, info
