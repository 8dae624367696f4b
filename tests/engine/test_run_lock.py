"""ppdet_ghm.engine.run_lock: one training per save_dir; a second one stops
naming the holder; a lock left by a killed process does not block."""
import json
import os
import signal

import pytest
from tiny_demo import hold_save_dir_lock

from ppdet_ghm.engine import OutputError, RunLockError, save_dir_lock
from ppdet_ghm.engine.run_lock import lock_path

hold = hold_save_dir_lock


def test_a_second_training_into_a_held_folder_names_the_holder(tmp_path):
    holder = hold(tmp_path)
    try:
        with pytest.raises(RunLockError) as err:
            with save_dir_lock(str(tmp_path)):
                pass
        message = str(err.value)
        assert "save_dir '{}' is in use by another training: process {} on ".format(
            tmp_path, holder.pid) in message
        assert '-o save_dir=' in message and '\n' not in message
        assert isinstance(err.value, OutputError)    # the tools' one-line errors
        with save_dir_lock(str(tmp_path), rank=1):   # another rank's lock is free
            pass
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_left_by_a_killed_process_does_not_block(tmp_path):
    holder = hold(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert os.path.exists(lock_path(str(tmp_path)))   # the file stays behind
    with save_dir_lock(str(tmp_path)):
        with open(lock_path(str(tmp_path))) as f:
            assert json.load(f)['pid'] == os.getpid()   # now names this run


def test_the_lock_is_released_when_the_block_ends_or_fails(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with save_dir_lock(str(tmp_path)):
            1 / 0
    with save_dir_lock(str(tmp_path)):
        with pytest.raises(RunLockError):       # held, also within one process
            with save_dir_lock(str(tmp_path)):
                pass


def test_a_training_that_ends_removes_its_lock_file(tmp_path):
    with save_dir_lock(str(tmp_path)) as path:
        assert os.path.exists(path)
    assert os.listdir(str(tmp_path)) == []
    with pytest.raises(ZeroDivisionError):
        with save_dir_lock(str(tmp_path)):
            1 / 0
    assert os.listdir(str(tmp_path)) == []


def test_a_lock_file_unlinked_between_open_and_flock_is_not_trusted(tmp_path, monkeypatch):
    # a training that ends unlinks its file while still holding it: a
    # process that opened the old file just before must not lock that
    # orphan (a third one would lock the new file: two holders)
    import fcntl

    from ppdet_ghm.engine import run_lock
    real_flock, calls = fcntl.flock, []

    def flock_after_the_holder_ended(fd, operation):
        if not calls:           # the holder ends between our open and flock
            os.unlink(lock_path(str(tmp_path)))
        calls.append(fd)
        return real_flock(fd, operation)
    open(lock_path(str(tmp_path)), 'w').close()
    monkeypatch.setattr(run_lock.fcntl, 'flock', flock_after_the_holder_ended)
    with save_dir_lock(str(tmp_path)) as path:
        assert len(calls) == 2 and os.path.exists(path)   # started over on the new file
        monkeypatch.setattr(run_lock.fcntl, 'flock', real_flock)
        with pytest.raises(RunLockError):
            with save_dir_lock(str(tmp_path)):
                pass


def test_a_folder_where_the_lock_cannot_be_made_is_named(tmp_path):
    with pytest.raises(RunLockError, match="cannot create the lock file '.*missing"):
        with save_dir_lock(str(tmp_path / 'missing')):
            pass
