"""Reading torch.save files without torch (ppdet_ghm/conversion/torch_checkpoint.py)
on files written in both formats by tests/conversion/torch_checkpoint_writer.py."""
import collections
import os

import numpy as np
import pytest
import torch_checkpoint_writer as writer

from ppdet_ghm.conversion.torch_checkpoint import (TorchCheckpointError,
                                              TorchCheckpointFile,
                                              UnknownObject, load_state_dict)

SAVERS = {'zip': writer.save_zip, 'legacy': writer.save_legacy}


def varied_state():
    """Tensors of several dtypes, a 0-d one, a transposed (non-contiguous)
    one and one at an offset of the same storage; expected arrays."""
    rng = np.random.default_rng(3)
    shared = writer.Storage(np.arange(12, dtype=np.float32))
    tensors = collections.OrderedDict([
        ('conv.weight', writer.tensor(rng.standard_normal((4, 3, 3, 3))
                                      .astype(np.float32))),
        ('half', writer.tensor(np.array([1.5, -2.25], dtype=np.float16))),
        ('double', writer.tensor(np.array([[1e-300, 3.0]]))),
        ('bn.num_batches_tracked', writer.tensor(np.array(7, dtype=np.int64))),
        ('mask', writer.tensor(np.array([True, False, True]))),
        ('count32', writer.tensor(np.array([-5, 9], dtype=np.int32))),
        ('transposed', writer.Tensor(shared, 0, (4, 3), (1, 4))),
        ('offset', writer.Tensor(shared, 2, (5,), (1,))),
    ])
    expected = {k: v.storage.array.reshape(v.size) for k, v in tensors.items()
                if isinstance(v.storage, writer.Storage) and v.storage is not shared}
    expected['transposed'] = np.arange(12, dtype=np.float32).reshape(3, 4).T
    expected['offset'] = np.arange(2, 7, dtype=np.float32)
    return tensors, expected


@pytest.mark.parametrize('fmt', sorted(SAVERS))
def test_round_trip_of_an_mmdet_style_checkpoint(tmp_path, fmt):
    tensors, expected = varied_state()
    checkpoint = writer.mmdet_checkpoint({})
    checkpoint['state_dict'] = tensors
    # protocol 2 names these '__builtin__.set' etc.: they must read back
    checkpoint['meta']['misc'] = {'empty': b'', 'raw': b'\x00\xff', 'ids': {1, 2},
                                  'buf': bytearray(b'xy'), 'cut': slice(1, 5)}
    path = str(tmp_path / 'ckpt.pth')
    SAVERS[fmt](checkpoint, path)

    state, info = load_state_dict(path)
    assert info['format'] == fmt
    assert list(state) == list(tensors)  # file order kept
    for key, want in expected.items():
        assert state[key].dtype == want.dtype, key
        assert state[key].shape == want.shape, key
        np.testing.assert_array_equal(state[key], want, err_msg=key)
        assert state[key].flags['C_CONTIGUOUS']
    assert list(info['skipped']) == ['meta', 'optimizer']
    assert 'optimizer state' in info['skipped']['optimizer']
    meta = info['meta']
    assert meta['CLASSES'] == writer.COCO_CLASSES and meta['epoch'] == 12
    # mmcv/numpy objects are kept as inert records of what was pickled
    assert isinstance(meta['model_cfg'], UnknownObject)
    assert meta['model_cfg'].global_name == 'mmcv.utils.config.ConfigDict'
    assert dict(meta['model_cfg'].items) == {'type': 'RetinaNet'}
    assert meta['best_score'].global_name == 'numpy.core.multiarray.scalar'
    assert meta['misc'] == {'empty': b'', 'raw': b'\x00\xff', 'ids': {1, 2},
                            'buf': bytearray(b'xy'), 'cut': slice(1, 5)}


@pytest.mark.parametrize('fmt', sorted(SAVERS))
def test_optimizer_tensors_stay_lazy_and_readable(tmp_path, fmt):
    checkpoint = writer.mmdet_checkpoint(
        {'w': np.ones((2, 2), dtype=np.float32)})
    path = str(tmp_path / 'ckpt.pth')
    SAVERS[fmt](checkpoint, path)
    with TorchCheckpointFile(path) as ckpt:
        buffer = ckpt.root['optimizer']['state'][0]['momentum_buffer']
        assert buffer.shape == (2, 2) and buffer.dtype == 'float32'
        np.testing.assert_array_equal(buffer.numpy(), np.zeros((2, 2)))


def test_legacy_storage_view(tmp_path):
    root = writer.Storage(np.arange(10, dtype=np.float32))
    view = writer.StorageView(root, 3, 5)  # elements 3..7
    state = {'v': writer.Tensor(view, 1, (2, 2), (2, 1)),
             'root': writer.Tensor(root, 0, (10,), (1,))}
    path = str(tmp_path / 'view.pth')
    writer.save_legacy({'state_dict': state}, path)
    loaded, _ = load_state_dict(path)
    np.testing.assert_array_equal(loaded['v'], [[4, 5], [6, 7]])
    np.testing.assert_array_equal(loaded['root'], np.arange(10))


@pytest.mark.parametrize('fmt', sorted(SAVERS))
def test_unknown_globals_execute_nothing(tmp_path, fmt):
    marker = tmp_path / 'executed'
    checkpoint = writer.mmdet_checkpoint({'w': np.zeros(2, np.float32)})
    checkpoint['meta']['evil'] = writer.Reduce(
        writer.Global('os', 'system'), ('touch {}'.format(marker),))
    checkpoint['meta']['evil2'] = writer.Reduce(
        writer.Global('builtins', 'eval'),
        ('open({!r}, "w")'.format(str(marker)),))
    checkpoint['meta']['huge'] = writer.Reduce(  # would allocate 1 TB
        writer.Global('__builtin__', 'bytes'), (10**12,))
    path = str(tmp_path / 'ckpt.pth')
    SAVERS[fmt](checkpoint, path)
    state, info = load_state_dict(path)
    assert not marker.exists()
    assert info['meta']['huge'].global_name == 'builtins.bytes'
    assert info['meta']['huge'].args == (10**12,)
    evil = info['meta']['evil']
    assert isinstance(evil, UnknownObject) and evil.global_name == 'os.system'
    assert evil.args == ('touch {}'.format(marker),)
    assert info['meta']['evil2'].global_name == 'builtins.eval'
    np.testing.assert_array_equal(state['w'], [0, 0])


def test_a_state_dict_entry_that_is_no_tensor_is_an_error(tmp_path):
    state = collections.OrderedDict([
        ('ok', writer.tensor(np.zeros(2, np.float32))),
        ('quantized', writer.Reduce(
            writer.Global('torch._utils', '_rebuild_qtensor'), (1, 2)))])
    path = str(tmp_path / 'q.pth')
    writer.save_zip({'state_dict': state}, path)
    with pytest.raises(TorchCheckpointError,
                       match=r"q\.pth.*1 state_dict entr.*quantized "
                             r"\(<unknown torch\._utils\._rebuild_qtensor>\)"):
        load_state_dict(path)


def test_no_state_dict_is_an_error(tmp_path):
    path = str(tmp_path / 'other.pth')
    writer.save_legacy({'model': 3, 'epoch': 1}, path)
    with pytest.raises(TorchCheckpointError,
                       match=r"no 'state_dict' \(top level is a dict with "
                             r"keys \['model', 'epoch'\]\)"):
        load_state_dict(path)


def test_bare_state_dict_is_accepted(tmp_path):
    path = str(tmp_path / 'bare.pth')
    writer.save_zip(collections.OrderedDict(
        w=writer.tensor(np.eye(2, dtype=np.float32))), path)
    state, info = load_state_dict(path)
    np.testing.assert_array_equal(state['w'], np.eye(2))
    assert info['skipped'] == {} and info['meta'] is None


def test_unreadable_files_are_named(tmp_path):
    junk = tmp_path / 'junk.pth'
    junk.write_bytes(os.urandom(64))
    with pytest.raises(TorchCheckpointError, match='junk.pth'):
        load_state_dict(str(junk))
    with pytest.raises(TorchCheckpointError, match="no file at '.*missing.pth'"):
        load_state_dict(str(tmp_path / 'missing.pth'))
    # a legacy file cut inside its tensor data
    path = tmp_path / 'cut.pth'
    writer.save_legacy({'state_dict': {
        'w': writer.tensor(np.zeros(1000, np.float32))}}, str(path))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(TorchCheckpointError, match="truncated inside storage"):
        load_state_dict(str(path))
    # a pickle that is not a torch file
    plain = tmp_path / 'plain.pth'
    import pickle
    plain.write_bytes(pickle.dumps({'a': 1}))
    with pytest.raises(TorchCheckpointError, match='magic number'):
        load_state_dict(str(plain))


def test_strides_reaching_past_the_storage_are_refused(tmp_path):
    storage = writer.Storage(np.zeros(6, np.float32))
    path = str(tmp_path / 'bad.pth')
    writer.save_zip({'state_dict': {
        'w': writer.Tensor(storage, 0, (3, 3), (3, 1))}}, path)
    with pytest.raises(TorchCheckpointError,
                       match=r"reaches element 8 of storage '0', which has 6"):
        load_state_dict(path)
