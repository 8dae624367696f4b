"""ppdet_ghm.engine.checkpoints: checkpoints are written atomically (an
interrupted save leaves the previous one intact and no temporary file)."""
import os

import pytest

from ppdet_ghm.engine import atomic_checkpoints, latest_checkpoint
from ppdet_ghm.engine.checkpoints import _atomic


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def fake_save_model(fail_after=None):
    def save_model(model, optimizer, save_dir, save_name, last_epoch, ema_model=None):
        base = os.path.join(save_dir, save_name)
        _write(base + '.pdparams', 'new weights')
        if fail_after == 'pdparams':
            raise KeyboardInterrupt('signal during the save')
        _write(base + '.pdopt', 'new optimizer')
    return save_model


def test_atomic_save_replaces_both_files(tmp_path):
    _write(str(tmp_path / 'model_final.pdparams'), 'old weights')
    _atomic(fake_save_model())({}, None, str(tmp_path), 'model_final', 3)
    assert (tmp_path / 'model_final.pdparams').read_text() == 'new weights'
    assert (tmp_path / 'model_final.pdopt').read_text() == 'new optimizer'
    assert sorted(os.listdir(tmp_path)) == ['model_final.pdopt', 'model_final.pdparams']


def test_interrupted_save_leaves_the_previous_checkpoint_intact(tmp_path):
    _write(str(tmp_path / '4.pdparams'), 'old weights')
    _write(str(tmp_path / '4.pdopt'), 'old optimizer')
    with pytest.raises(KeyboardInterrupt):
        _atomic(fake_save_model('pdparams'))({}, None, str(tmp_path), '4', 5)
    assert (tmp_path / '4.pdparams').read_text() == 'old weights'
    assert (tmp_path / '4.pdopt').read_text() == 'old optimizer'
    assert sorted(os.listdir(tmp_path)) == ['4.pdopt', '4.pdparams']  # no temp files


def test_atomic_checkpoints_only_within_the_block():
    import ppdet.engine.callbacks as callbacks
    original = callbacks.save_model
    with atomic_checkpoints():
        assert callbacks.save_model.__name__ == 'atomic_save_model'
    assert callbacks.save_model is original


def test_latest_checkpoint(tmp_path):
    assert latest_checkpoint(str(tmp_path / 'none')) is None
    for name in ('0', '2', '10'):
        _write(str(tmp_path / (name + '.pdparams')), '')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / '10')
    _write(str(tmp_path / 'model_final.pdparams'), '')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'model_final')


def test_a_save_that_fails_names_the_file_and_keeps_the_previous_checkpoint(tmp_path):
    import errno

    from ppdet_ghm.engine import OutputError

    def disk_full(model, optimizer, save_dir, save_name, *args, **kwargs):
        base = os.path.join(save_dir, save_name)
        _write(base + '.pdparams', 'half the new weights')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), base + '.pdopt')

    _write(str(tmp_path / '4.pdparams'), 'old weights')
    _write(str(tmp_path / '4.pdopt'), 'old optimizer')
    with pytest.raises(OutputError, match=r"cannot save checkpoint '{}': No space "
                       r"left on device; the previous checkpoints are unchanged"
                       .format(tmp_path / '4')):
        _atomic(disk_full)({}, None, str(tmp_path), '4', 5)
    assert (tmp_path / '4.pdparams').read_text() == 'old weights'
    assert sorted(os.listdir(tmp_path)) == ['4.pdopt', '4.pdparams']  # no temp files


def test_check_writable_names_a_folder_that_cannot_be_written(tmp_path, monkeypatch):
    from ppdet_ghm.engine import OutputError, check_writable
    check_writable(str(tmp_path / 'new' / 'run'))             # created
    assert os.listdir(tmp_path / 'new' / 'run') == []          # probe removed
    blocker = tmp_path / 'file'
    blocker.write_text('')
    with pytest.raises(OutputError, match=r"save_dir: cannot write to '{}': Not a "
                       r"directory".format(blocker / 'run')):
        check_writable(str(blocker / 'run'))
    import builtins
    import errno

    def read_only(path, *args, **kwargs):       # EROFS, as root cannot chmod it away
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)
    monkeypatch.setattr(builtins, 'open', read_only)
    with pytest.raises(OutputError, match='Read-only file system'):
        check_writable(str(tmp_path))
