"""ppdet_ghm.engine.signals: SIGTERM / SIGINT end training at the end of the
step with the latest checkpoint loadable and named, also when the signal
arrives inside a PyLayer's backward."""
import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest
from tiny_demo import ROOT, assert_loadable_checkpoint, write_tiny_config

from ppdet_ghm.engine import latest_checkpoint


def test_signal_inside_a_pylayer_backward_is_held_until_the_step_ends():
    """Paddle turns an exception raised in a PyLayer's backward (GHM-C's is
    one) into an anonymous OSError: the handler holds such a signal, and the
    step-end check raises it."""
    from paddle.autograd import PyLayer

    from ppdet_ghm.engine import (PendingSignalCheck, TrainingInterrupted,
                                  interrupting_signals)

    class SignalInBackward(PyLayer):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            os.kill(os.getpid(), signal.SIGTERM)
            return grad * 2

    previous = signal.getsignal(signal.SIGTERM)
    with interrupting_signals():
        x = paddle.ones([3])
        x.stop_gradient = False
        SignalInBackward.apply(x).sum().backward()   # completes
        np.testing.assert_allclose(x.grad.numpy(), 2.0)
        check = PendingSignalCheck.__new__(PendingSignalCheck)
        with pytest.raises(TrainingInterrupted) as info:
            check.on_step_end({})
        assert info.value.signal_name == 'SIGTERM'
        check.on_step_end({})                        # raised once only
        # outside a PyLayer the signal raises at once
        with pytest.raises(TrainingInterrupted):
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):                    # let the handler run
                time.sleep(0.001)
    assert signal.getsignal(signal.SIGTERM) is previous   # restored


@pytest.mark.parametrize('signum, code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_leaves_latest_checkpoint_loadable(tmp_path, tiny_data, signum, code):
    cfg = write_tiny_config(tmp_path / 'run.yml', tiny_data, tmp_path / 'out',
                            epoch=200)
    out = str(tmp_path / 'out' / 'run')
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'tools', 'train.py'),
                             '-c', cfg], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not glob.glob(os.path.join(out, '1.pdparams')) and time.time() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, 'training ended early'
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr[-3000:]
    name = signal.Signals(signum).name
    assert 'training interrupted by {} at epoch'.format(name) in stderr
    latest = latest_checkpoint(out)
    assert 'latest checkpoint: {}'.format(latest) in stderr
    assert_loadable_checkpoint(latest)
    assert not [f for f in os.listdir(out) if f.startswith('.tmp')]
