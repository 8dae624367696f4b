"""ppdet_ghm.engine.train: training from Python gets what tools/train.py
gets (checks, guard, per-rank logs, atomic checkpoints), with problems
raised as exceptions instead of exit codes."""
import os
import signal

import pytest
from tiny_demo import EXPLODING_LR, write_tiny_config, write_tiny_data

from ppdet_ghm.data import DatasetError
from ppdet_ghm.engine import NonFiniteLossError, TrainResult, train
from ppdet_ghm.utils import ConfigError

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_tiny_data(tmp_path_factory.mktemp('training_data'))


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    """train() installs SIGTERM/SIGINT handlers: give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def load(tmp_path, data, epoch=1, extra=''):
    from ppdet.core.workspace import load_config
    path = write_tiny_config(tmp_path / 'run.yml', data, tmp_path / 'out',
                             epoch=epoch, extra=extra)
    cfg = load_config(path)
    cfg['_config_path'] = path
    return cfg, str(tmp_path / 'out' / 'run')


def test_train_from_python_logs_per_rank_and_saves_atomically(tmp_path, data):
    cfg, out = load(tmp_path, data)
    result = train(cfg)
    assert isinstance(result, TrainResult)
    assert result.save_dir == out and result.skipped == []
    files = sorted(os.listdir(out))
    # the last epoch is saved as model_final only; no temporary file is left
    assert files == ['loss_rank0.jsonl', 'model_final.pdopt',
                     'model_final.pdparams']
    with open(os.path.join(out, 'loss_rank0.jsonl')) as f:
        assert len(f.read().splitlines()) == 4   # 8 images / batch 2


def test_nonfinite_loss_is_raised_naming_the_latest_checkpoint(tmp_path, data):
    cfg, out = load(tmp_path, data, epoch=3, extra=EXPLODING_LR)
    with pytest.raises(NonFiniteLossError) as info:
        train(cfg)
    message = str(info.value)
    assert 'iteration 5 (epoch 1, step 1): non-finite loss' in message
    assert message.endswith('latest checkpoint: ' + os.path.join(out, '0'))


def test_bad_guard_setting_is_a_config_error_naming_the_file(tmp_path, data):
    cfg, _ = load(tmp_path, data, extra='nonfinite_loss: retry\n')
    with pytest.raises(ConfigError, match=r"run\.yml: .*retry"):
        train(cfg)


def test_missing_dataset_is_refused_before_the_trainer(tmp_path, data):
    cfg, out = load(tmp_path, data, extra='TrainDataset: {{dataset_dir: {}}}\n'
                    .format(tmp_path / 'nowhere'))
    with pytest.raises(DatasetError, match='nowhere'):
        train(cfg)
    assert not os.path.exists(out)
