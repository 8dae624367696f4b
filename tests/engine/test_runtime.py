"""ppdet_ghm.engine.runtime: what every tool does first (config with -o
options, device, CPU threads)."""
import os

import pytest

from ppdet_ghm.engine import cpu_threads_per_process, load_config, select_device
from ppdet_ghm.utils import ConfigError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DEMO = os.path.join(ROOT, 'configs', 'demo', 'retinanet_ghm_demo.yml')


def test_options_then_extras_are_merged_over_the_file():
    cfg = load_config(DEMO, {'epoch': 3, 'GHMCLoss': {'bins': 20}}, epoch=5)
    assert cfg.epoch == 5 and cfg['GHMCLoss']['bins'] == 20
    assert cfg['_config_path'] == DEMO


def test_a_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="config: no file at '.*nowhere.yml'"):
        load_config(str(tmp_path / 'nowhere.yml'))


@pytest.mark.parametrize('omp, processes, expected', [
    (None, '1', os.cpu_count()),          # not set at start: every core
    (None, '2', max(1, os.cpu_count() // 2)),
    ('1', '1', 1),                        # set (or passed on by a parent)
    ('3', '2', 3),
])
def test_cpu_threads_share_the_cores_unless_the_process_was_given_a_number(
        monkeypatch, omp, processes, expected):
    from ppdet_ghm.engine import runtime
    monkeypatch.setattr(runtime, '_environment_at_start',
                        lambda name: omp if name == 'OMP_NUM_THREADS' else None)
    monkeypatch.setenv('OMP_NUM_THREADS', '1')   # what paddle leaves there
    monkeypatch.setenv('PADDLE_TRAINERS_NUM', processes)
    assert cpu_threads_per_process() == expected


def test_the_start_up_environment_is_read_not_what_paddle_wrote():
    import subprocess
    import sys
    code = ('import os, paddle\nfrom ppdet_ghm.engine import runtime\n'
            'print(os.environ["OMP_NUM_THREADS"], '
            'runtime._environment_at_start("OMP_NUM_THREADS"))')
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    out = subprocess.run([sys.executable, '-c', code], env=env, text=True,
                         capture_output=True, timeout=120).stdout
    assert out.strip().splitlines()[-1] == '1 None'


def test_use_gpu_without_cuda_falls_back_to_the_cpu_with_a_note(capsys):
    import paddle
    cfg = load_config(DEMO, use_gpu=True)
    device = select_device(cfg)
    if paddle.is_compiled_with_cuda():
        pytest.skip('this paddle has CUDA')
    assert device == 'cpu' and cfg.use_gpu is False
    assert 'use_gpu is true but this paddle has no CUDA' in capsys.readouterr().err
