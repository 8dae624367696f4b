"""ppdet_ghm.engine's nonfinite_guard, checkpoints and signals: non-finite
losses stop (or skip) with the iteration and loss part named, checkpoints are
written atomically, SIGTERM / SIGINT leave the latest checkpoint loadable,
--amp keeps GHM state finite."""
import glob
import os
import signal
import subprocess
import sys
import time

import numpy as np
import paddle
import pytest

from ppdet_ghm.engine import (MAX_CONSECUTIVE_SKIPS, NonFiniteLossError,
                              NonFiniteLossGuard, install_atomic_checkpoints,
                              latest_checkpoint)
from ppdet_ghm.engine.checkpoints import _atomic
from conftest import build_model
from tiny_demo import EXPLODING_LR, write_tiny_config, write_tiny_data

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


# ------------------------------------------------------------------ guard ----
class LossNet(paddle.nn.Layer):
    """Returns PaddleDetection-style loss dicts; ``bad`` maps a call index to
    the loss part that is NaN at that call."""

    def __init__(self, bad):
        super().__init__()
        self.w = self.create_parameter([1], default_initializer=paddle.nn.initializer.Constant(1.0))
        self.bad, self.calls = bad, 0

    def forward(self, x):
        cls_ = (self.w * x).sum()
        box = (self.w * x * 2).sum()
        if self.bad.get(self.calls) == 'loss_bbox':
            box = box * float('nan')
        self.calls += 1
        return {'loss_cls': cls_, 'loss_bbox': box, 'loss': cls_ + box}


class FakeTrainer:
    def __init__(self, bad):
        self.model = LossNet(bad)
        self.optimizer = paddle.optimizer.SGD(0.1, parameters=self.model.parameters())


def run_steps(trainer, guard, steps, steps_per_epoch=4):
    for it in range(steps):
        guard.on_step_begin({'epoch_id': it // steps_per_epoch,
                             'step_id': it % steps_per_epoch,
                             'steps_per_epoch': steps_per_epoch})
        out = trainer.model(paddle.ones([1]))
        out['loss'].backward()
        trainer.optimizer.step()
        trainer.optimizer.clear_grad()


def test_guard_stops_naming_iteration_and_loss_part():
    trainer = FakeTrainer({6: 'loss_bbox'})
    guard = NonFiniteLossGuard(trainer, 'stop')
    with pytest.raises(NonFiniteLossError) as err:
        run_steps(trainer, guard, 10)
    message = str(err.value)
    assert message.startswith('iteration 6 (epoch 1, step 2): non-finite loss '
                              'part(s) loss_bbox = nan; total loss = nan')
    assert 'loss_cls' not in message
    # stopped in the forward: the weights saw 6 updates, not the bad one
    assert float(trainer.model.w) == pytest.approx(1 - 6 * 0.1 * 3)


def test_guard_skip_drops_only_the_bad_updates():
    trainer = FakeTrainer({2: 'loss_bbox', 5: 'loss_bbox'})
    guard = NonFiniteLossGuard(trainer, 'skip')
    run_steps(trainer, guard, 8)
    assert [i for i, _ in guard.skipped] == [2, 5]
    assert np.isfinite(float(trainer.model.w))
    assert float(trainer.model.w) == pytest.approx(1 - 6 * 0.1 * 3)


def test_guard_skip_gives_up_after_too_many_in_a_row():
    trainer = FakeTrainer({i: 'loss_bbox' for i in range(3, 100)})
    guard = NonFiniteLossGuard(trainer, 'skip')
    with pytest.raises(NonFiniteLossError, match='{} consecutive steps'.format(
            MAX_CONSECUTIVE_SKIPS + 1)):
        run_steps(trainer, guard, 100)


def test_guard_refuses_an_unknown_action():
    with pytest.raises(ValueError, match="nonfinite_loss: expected one of stop, skip, got 'ignore'"):
        NonFiniteLossGuard(FakeTrainer({}), 'ignore')


# ------------------------------------------------------------ checkpoints ----
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


def test_install_atomic_checkpoints_is_idempotent():
    import ppdet.engine.callbacks as callbacks
    install_atomic_checkpoints()
    wrapped = callbacks.save_model
    install_atomic_checkpoints()
    assert callbacks.save_model is wrapped and hasattr(wrapped, 'original')


def test_latest_checkpoint(tmp_path):
    assert latest_checkpoint(str(tmp_path / 'none')) is None
    for name in ('0', '2', '10'):
        _write(str(tmp_path / (name + '.pdparams')), '')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / '10')
    _write(str(tmp_path / 'model_final.pdparams'), '')
    assert latest_checkpoint(str(tmp_path)) == str(tmp_path / 'model_final')


# ------------------------------------------------------ training, end to end ----
@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_tiny_data(tmp_path_factory.mktemp('safety_data'))


def config(tmp_path, data, extra=''):
    """The tiny demo config for 3 epochs plus ``extra``; returns the config
    path and the run's checkpoint directory."""
    path = write_tiny_config(tmp_path / 'run.yml', data, tmp_path / 'out',
                             epoch=3, extra=extra)
    return path, str(tmp_path / 'out' / 'run')


def train(*args, **kw):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'train.py')]
                          + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=300, **kw)


def assert_loadable(checkpoint):
    """The checkpoint covers the demo model and is finite."""
    state = paddle.load(checkpoint + '.pdparams', return_numpy=True)
    assert state and all(np.isfinite(v).all() for v in state.values()
                         if isinstance(v, np.ndarray))
    paddle.load(checkpoint + '.pdopt')


def test_nan_loss_stops_training_and_keeps_the_last_checkpoint(tmp_path, data):
    cfg, out = config(tmp_path, data, EXPLODING_LR)
    proc = train('-c', cfg)
    assert proc.returncode == 2, proc.stderr[-3000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith('error:')][0]
    assert 'iteration 5 (epoch 1, step 1): non-finite loss part(s) loss_bbox = nan, loss_cls = nan' in error
    assert error.endswith('latest checkpoint: {}'.format(os.path.join(out, '0')))
    assert sorted(os.listdir(out)) == ['0.pdopt', '0.pdparams', 'loss_rank0.jsonl']
    assert_loadable(os.path.join(out, '0'))


def test_nan_loss_with_skip_skips_steps_then_gives_up(tmp_path, data):
    cfg, out = config(tmp_path, data, EXPLODING_LR + 'nonfinite_loss: skip\nepoch: 6\n')
    proc = train('-c', cfg)
    assert proc.returncode == 2, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'warning: iteration 5 (epoch 1, step 1): non-finite loss part(s)' in log
    assert "skipping this step's update" in log
    assert '{} consecutive steps had a non-finite loss'.format(
        MAX_CONSECUTIVE_SKIPS + 1) in log
    # the skipped epochs still saved checkpoints (with the weights of the
    # last good update); all are complete and loadable
    assert_loadable(latest_checkpoint(out))


def test_unknown_nonfinite_action_is_refused(tmp_path, data):
    cfg, _ = config(tmp_path, data, 'nonfinite_loss: ignore\n')
    proc = train('-c', cfg)
    assert proc.returncode == 2
    assert "nonfinite_loss: expected one of stop, skip, got 'ignore'" in proc.stderr


@pytest.mark.parametrize('signum, code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_leaves_latest_checkpoint_loadable(tmp_path, data, signum, code):
    cfg, out = config(tmp_path, data, 'epoch: 200\n')
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
    assert_loadable(latest)
    assert not [f for f in os.listdir(out) if f.startswith('.tmp')]


def test_amp_run_keeps_ghm_state_finite(tmp_path, data):
    cfg, out = config(tmp_path, data, 'epoch: 1\n')
    proc = train('-c', cfg, '--amp')
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = paddle.load(os.path.join(out, 'model_final.pdparams'), return_numpy=True)
    for key in ('head.loss_class.acc_sum', 'head.loss_bbox.acc_sum'):
        assert state[key].dtype == np.float32
        assert np.isfinite(state[key]).all() and state[key].sum() > 0


def test_half_precision_head_outputs_keep_ghm_weights_finite():
    """Paddle's autocast is a no-op on a CPU (and ppdet enables it on GPUs
    only), so here the head's logits and deltas are cast to float16 as GPU
    autocast would produce them, for a few training steps. (bfloat16: Paddle
    has no CPU concat_grad kernel for it; the losses' own bfloat16 handling
    is tested in tests/losses.)"""
    dtype = 'float16'
    _, model = build_model('configs/demo/retinanet_ghm_demo.yml')
    model.train()
    for conv in (model.head.retina_cls, model.head.retina_reg):
        conv.register_forward_post_hook(lambda layer, x, y: y.astype(dtype))
    opt = paddle.optimizer.Momentum(0.01, parameters=model.parameters())
    rng = np.random.default_rng(0)
    inputs = {'image': paddle.to_tensor(rng.random((2, 3, 64, 64), dtype=np.float32)),
              'gt_bbox': [paddle.to_tensor([[10., 10., 40., 50.]])] * 2,
              'gt_class': [paddle.to_tensor([[1]], dtype='int32')] * 2,
              'im_shape': paddle.to_tensor([[64., 64.]] * 2),
              'scale_factor': paddle.ones([2, 2])}
    for _ in range(3):
        out = model(inputs)
        out['loss'].backward()
        grad = model.head.retina_cls.weight.grad
        assert grad.dtype == paddle.float32 and np.isfinite(grad.numpy()).all()
        opt.step()
        opt.clear_grad()
        assert all(np.isfinite(float(v)) for v in out.values())
    for loss in (model.head.loss_class, model.head.loss_bbox):
        assert loss.acc_sum.dtype == paddle.float32
        assert np.isfinite(loss.acc_sum.numpy()).all() and float(loss.acc_sum.sum()) > 0


def test_guard_skip_restores_running_statistics():
    class BNNet(LossNet):
        def __init__(self, bad):
            super().__init__(bad)
            self.bn = paddle.nn.BatchNorm1D(1)

        def forward(self, x):
            out = super().forward(x)
            y = self.bn(x.reshape([-1, 1]) * 10)
            out['loss_cls'] = out['loss_cls'] + y.sum() * 0
            out['loss'] = out['loss_cls'] + out['loss_bbox']
            return out

    trainer = FakeTrainer({})
    trainer.model = BNNet({1: 'loss_bbox'})
    trainer.optimizer = paddle.optimizer.SGD(0.1, parameters=trainer.model.parameters())
    guard = NonFiniteLossGuard(trainer, 'skip')
    run_steps(trainer, guard, 1)
    after_first = trainer.model.bn._mean.numpy().copy()
    run_steps(trainer, guard, 1)            # call 1: NaN -> skipped
    np.testing.assert_array_equal(trainer.model.bn._mean.numpy(), after_first)


def test_signal_inside_a_pylayer_backward_is_held_until_the_step_ends():
    """Paddle turns an exception raised in a PyLayer's backward (GHM-C's is
    one) into an anonymous OSError: the handler holds such a signal, and the
    step-end check raises it."""
    from paddle.autograd import PyLayer

    from ppdet_ghm.engine import (PendingSignalCheck, TrainingInterrupted,
                                  install_signal_handlers)

    class SignalInBackward(PyLayer):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            os.kill(os.getpid(), signal.SIGTERM)
            return grad * 2

    previous = signal.getsignal(signal.SIGTERM)
    try:
        install_signal_handlers()
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
    finally:
        signal.signal(signal.SIGTERM, previous)
