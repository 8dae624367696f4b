"""ppdet_ghm.engine.nonfinite_guard: a non-finite loss stops training (or its
update is skipped) with the iteration and the loss part named; through the
tool, the run ends with exit 2 and the last checkpoint intact."""
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest
from tiny_demo import EXPLODING_LR, ROOT, assert_loadable_checkpoint, write_tiny_config

from ppdet_ghm.engine import (MAX_CONSECUTIVE_SKIPS, NonFiniteLossError,
                              NonFiniteLossGuard, latest_checkpoint, train)


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


# ------------------------------------------------------ training, end to end ----
def test_nan_loss_ends_the_train_tool_with_exit_2_and_the_last_checkpoint(
        tmp_path, tiny_data):
    cfg = write_tiny_config(tmp_path / 'run.yml', tiny_data, tmp_path / 'out',
                            epoch=3, extra=EXPLODING_LR)
    out = str(tmp_path / 'out' / 'run')
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'train.py'),
                           '-c', cfg], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith('error:')][0]
    assert 'iteration 5 (epoch 1, step 1): non-finite loss part(s) loss_bbox = nan, loss_cls = nan' in error
    assert error.endswith('latest checkpoint: {}'.format(os.path.join(out, '0')))
    assert sorted(os.listdir(out)) == ['0.pdopt', '0.pdparams', 'loss_rank0.jsonl']
    assert_loadable_checkpoint(os.path.join(out, '0'))


def test_nan_loss_with_skip_skips_steps_then_gives_up(tmp_path, tiny_data, capfd):
    cfg = write_tiny_config(tmp_path / 'run.yml', tiny_data, tmp_path / 'out',
                            epoch=6, extra=EXPLODING_LR + 'nonfinite_loss: skip\n')
    with pytest.raises(NonFiniteLossError, match='{} consecutive steps had a '
                       'non-finite loss'.format(MAX_CONSECUTIVE_SKIPS + 1)):
        train(load_config(cfg))
    log = ''.join(capfd.readouterr())
    assert 'warning: iteration 5 (epoch 1, step 1): non-finite loss part(s)' in log
    assert "skipping this step's update" in log
    # the skipped epochs still saved checkpoints (with the weights of the
    # last good update); all are complete and loadable
    assert_loadable_checkpoint(latest_checkpoint(str(tmp_path / 'out' / 'run')))


def load_config(path):
    from ppdet_ghm.engine import load_config as load
    return load(str(path))
