"""Scale-out and restart with tools/train.py: two CPU processes
(paddle.distributed.launch, gloo) and exact resume."""
import json
import os
import re
import subprocess
import sys

import pytest
from tiny_demo import DETERMINISTIC_TRAIN_READER, write_tiny_config

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


# the COCO configs' backbone, small: BN statistics frozen, BN weight/bias of
# stages 2-4 trained (as the reference)
FROZEN_STATS_RESNET = """\
RetinaNet: {backbone: FrozenStatsResNet}
FrozenStatsResNet: {depth: 18, freeze_at: 0, return_idx: [1, 2, 3]}
"""


def write_config(path, data, out, epochs, max_epochs, extra=''):
    """The tiny demo config, deterministic: no flip, seeded shuffling, a
    schedule that does not depend on ``epochs``."""
    return write_tiny_config(path, data, out, epoch=epochs, extra=extra + """\
LearningRate:
  base_lr: 0.01
  schedulers:
  - !CosineDecay
    max_epochs: {max_epochs}
  - !LinearWarmup
    start_factor: 0.1
    steps: 3
""".format(max_epochs=max_epochs) + DETERMINISTIC_TRAIN_READER)


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture
def data(tiny_data):
    return tiny_data


def train(*args, launch=None, log_dir=None):
    cmd = [sys.executable]
    if launch:
        cmd += ['-m', 'paddle.distributed.launch', '--nproc_per_node', str(launch),
                '--log_dir', log_dir]
    cmd += [os.path.join(ROOT, 'tools', 'train.py')] + list(args)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_two_processes_step_log_per_rank_and_stay_identical(data, tmp_path):
    out, logs = str(tmp_path / 'out'), str(tmp_path / 'logs')
    cfg = write_config(str(tmp_path / 'dist.yml'), data, out, epochs=1, max_epochs=1)
    train('-c', cfg, '--seed', '0', launch=2, log_dir=logs)
    worker = [open(os.path.join(logs, 'workerlog.{}'.format(r))).read() for r in (0, 1)]
    assert 'Epoch: [0] [0/2]' in worker[0]  # 8 images / 2 ranks / batch 2
    assert re.search(r'rank 1 epoch 0 step 0: loss: [\d.]+', worker[1])
    digests = [re.findall(r'rank {} parameter digest: (\w+)'.format(r), w) for r, w in enumerate(worker)]
    assert len(digests[0]) == 1 and digests[0] == digests[1]
    ranks = [records(os.path.join(out, 'dist', 'loss_rank{}.jsonl'.format(r))) for r in (0, 1)]
    assert [len(r) for r in ranks] == [2, 2]
    # each rank saw its own shard: its own losses
    assert ranks[0][0]['loss'] != ranks[1][0]['loss']


def test_resume_gives_the_straight_run_exactly(data, tmp_path):
    import paddle
    straight, split = str(tmp_path / 'straight'), str(tmp_path / 'split')

    def config(out, epochs):
        return write_config(str(tmp_path / 'a.yml'), data, out, epochs, 4,
                            extra=FROZEN_STATS_RESNET)
    train('-c', config(straight, 4), '--seed', '0')
    train('-c', config(split, 2), '--seed', '0')
    train('-c', config(split, 4), '--seed', '0',
          '-r', os.path.join(split, 'a', 'model_final'))  # the 2-epoch run's last
    a = records(os.path.join(straight, 'a', 'loss_rank0.jsonl'))
    b = records(os.path.join(split, 'a', 'loss_rank0.jsonl'))
    assert [(r['epoch'], r['step']) for r in b] == [(e, s) for e in range(4) for s in range(4)]
    assert a == b  # losses, learning rates, epoch/step counters
    wa = paddle.load(os.path.join(straight, 'a', 'model_final.pdparams'))
    wb = paddle.load(os.path.join(split, 'a', 'model_final.pdparams'))
    assert wa.keys() == wb.keys()
    for key in wa:
        assert (wa[key].numpy() == wb[key].numpy()).all(), key
    assert float(wa['head.loss_class.acc_sum'].sum()) > 0  # the GHM EMA state came along
    # BatchNorm of stage 2 (res3): statistics as initialised, weight trained
    norm = 'backbone.res3.res3a.branch2a.norm.'
    assert (wa[norm + '_mean'].numpy() == 0).all() and (wa[norm + '_variance'].numpy() == 1).all()
    assert (wa[norm + 'weight'].numpy() != 1).any()


def test_resuming_with_another_optimizer_names_the_checkpoint(data, tmp_path):
    # Paddle: AssertionError "Optimizer set error, ..._velocity_0 should in state dict"
    out = str(tmp_path / 'out')
    config = write_tiny_config(str(tmp_path / 'a.yml'), data, out, epoch=1)
    train('-c', config)
    final = os.path.join(out, 'a', 'model_final')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'train.py'), '-c', config, '-r', final,
         '-o', 'epoch=2', 'OptimizerBuilder={optimizer: {type: Momentum, momentum: 0.9}}'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(
        "error: resume: the optimizer state '{}.pdopt' does not fit this config's "
        "optimizer (Optimizer set error, ".format(final))

def test_a_resume_with_other_steps_per_epoch_continues_the_lr_schedule(data, tmp_path):
    """What another number of ranks does to an epoch, in one process:
    batch 2 (4 steps an epoch), then resumed at batch 1 (8 steps).  The
    checkpoint counted 4 lr steps; without re-counting them as one epoch of
    the new size, the milestone at epoch 1 (step 8 now) would be reached in
    the middle of epoch 1 instead of at its start."""
    out = str(tmp_path / 'out')
    schedule = """\
LearningRate:
  base_lr: 0.01
  schedulers:
  - !PiecewiseDecay {gamma: 0.1, milestones: [1]}
  - !LinearWarmup {start_factor: 1.0, steps: 0}
"""
    train('-c', write_tiny_config(str(tmp_path / 'a.yml'), data, out, epoch=1,
                                  extra=schedule))
    proc = train('-c', write_tiny_config(str(tmp_path / 'a.yml'), data, out, epoch=2,
                                         extra=schedule + 'TrainReader: {batch_size: 1}\n'),
                 '-r', os.path.join(out, 'a', 'model_final'))
    assert 'resume: the checkpoint counted 4 lr steps; at epoch 1 with 8 steps an ' \
           'epoch here, the schedule continues from step 8' in proc.stderr
    lrs = {}
    for record in records(os.path.join(out, 'a', 'loss_rank0.jsonl')):
        lrs.setdefault(record['epoch'], []).append(record['lr'])
    assert lrs[0] == [0.01] * 4
    assert lrs[1] == [pytest.approx(0.001)] * 8
