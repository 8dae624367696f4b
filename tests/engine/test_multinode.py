"""The reference schedule's topology rehearsed on one CPU: 8 ranks as 4 nodes
x 2 processes, each node a ``paddle.distributed.launch`` of its own (gloo),
and resume across topologies -- the commands of docs/distributed.md with CPU
flags.

Nodes are loopback addresses: the launcher's multi-node mode (``--ips``, all
nodes listed, ``--host`` naming this one; on real machines the host is found
by itself) refuses 127.0.0.1, so the nodes are 127.0.0.2-5.  (Its
``--master`` mode runs one process per node on a CPU build and fails with
two, docs/distributed.md.)  Each node has its own save_dir, as separate
machines have separate disks.

One chain of runs, shared by the tests (module fixtures):
  A   8 ranks, epoch 0 from scratch (--seed 0, --eval)
  S   1 process, batch 16: the 8 ranks' batches concatenated, same steps
  R2  A's checkpoint resumed on 2 ranks (one launcher), epoch 1
  R1  A's checkpoint resumed on 1 process, epoch 1
  B   R2's checkpoint resumed on 8 ranks; SIGTERM to one node once B has
      saved a checkpoint
"""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from tiny_demo import (DETERMINISTIC_TRAIN_READER, ROOT, assert_loadable_checkpoint,
                       write_tiny_config)

from ppdet_ghm.engine import latest_checkpoint

IPS = ['127.0.0.{}'.format(i) for i in (2, 3, 4, 5)]
TRAIN = os.path.join(ROOT, 'tools', 'train.py')
NAME = 'rehearsal'
# 8 ranks x 2 images = 16 a step (docs/detector.md's table: 8 x 2 -> 0.01)
BASE_LR = 0.01
SIGTERM_STOP_SECONDS = 60      # all 8 processes gone after one node's SIGTERM
RATIO = 1e-3                   # measured 7.9e-6 at most (test_eight_ranks_step_as_one_process_...)

CONFIG = """\
RetinaNet: {{backbone: FrozenStatsResNet}}
FrozenStatsResNet: {{depth: 18, freeze_at: 0, return_idx: [1, 2, 3]}}
GHMCLoss: {{sync_across_ranks: true}}
GHMRLoss: {{sync_across_ranks: true}}
log_image_ids: true
LearningRate:
  base_lr: 0.005
  schedulers:
  - !PiecewiseDecay {{gamma: 0.1, milestones: [2]}}
  - !LinearWarmup {{start_factor: 1.0, steps: 0}}
EvalReader: {{batch_size: 2}}
GHMRetinaPostProcess: {{score_threshold: 0.0}}
"""


def _free_port():
    """A port p with p and p + 1 free on every node address."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((IPS[0], 0))
            port = probe.getsockname()[1]
        if port > 65000:
            continue
        try:
            for ip in IPS:
                for p in (port, port + 1):
                    with socket.socket() as s:
                        s.bind((ip, p))
            return port
        except OSError:
            continue
    raise RuntimeError('no free port pair on the loopback addresses')


def _records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


class Rehearsal:
    """Paths and commands of the chain."""

    def __init__(self, tmp):
        from ppdet_ghm.data import generate_demo_dataset
        self.tmp = str(tmp)
        self.data = os.path.join(self.tmp, 'data')
        # 32 train images: 2 steps an epoch on 8 ranks x 2
        generate_demo_dataset(self.data, num_train=32, num_val=4, image_size=64,
                              seed=1)
        self.config = write_tiny_config(os.path.join(self.tmp, NAME + '.yml'),
                                        self.data, os.path.join(self.tmp, 'unused'),
                                        epoch=1, extra=CONFIG.format() + DETERMINISTIC_TRAIN_READER
                                        + '  drop_last: true\n')
        with open(os.path.join(self.data, 'annotations', 'instances_train.json')) as f:
            self.train_ids = sorted(i['id'] for i in json.load(f)['images'])

    def run_dir(self, run, node=0):
        return os.path.join(self.tmp, run, 'node{}'.format(node), NAME)

    def options(self, run, node, epoch, extra=()):
        return ['-o', 'save_dir=' + os.path.dirname(self.run_dir(run, node)),
                'epoch={}'.format(epoch), 'LearningRate.base_lr={}'.format(BASE_LR),
                *extra]

    def start_nodes(self, run, epoch, args=(), extra=()):
        """4 launchers, one per node; returns their Popen objects."""
        port = _free_port()
        procs = []
        for node, ip in enumerate(IPS):
            cmd = [sys.executable, '-m', 'paddle.distributed.launch',
                   '--ips', ','.join(IPS), '--host', ip, '--nproc_per_node', '2',
                   '--start_port', str(port),
                   '--log_dir', os.path.join(self.tmp, run, 'launch{}'.format(node)),
                   TRAIN, '-c', self.config, '--seed', '0', *args,
                   *self.options(run, node, epoch, extra)]
            procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
        return procs

    def wait(self, procs, timeout=900):
        outputs = [p.communicate(timeout=timeout)[0] for p in procs]
        for p, out in zip(procs, outputs):
            assert p.returncode == 0, out[-3000:]
        return outputs

    def run_single(self, run, epoch, args=(), extra=(), nproc=1):
        cmd = [sys.executable]
        if nproc > 1:
            cmd += ['-m', 'paddle.distributed.launch', '--nproc_per_node', str(nproc),
                    '--log_dir', os.path.join(self.tmp, run, 'launch0')]
        cmd += [TRAIN, '-c', self.config, '--seed', '0', *args,
                *self.options(run, 0, epoch, extra)]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                              timeout=900)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    def worker_logs(self, run, nodes=4, per_node=2):
        return [open(os.path.join(self.tmp, run, 'launch{}'.format(n),
                                  'workerlog.{}'.format(i))).read()
                for n in range(nodes) for i in range(per_node)]


def _save_initial_weights(config, prefix):
    """One seeded initialisation of the config's model, saved as
    ``prefix.pdparams``: A and S start from it, so what each moved is known."""
    import paddle
    from conftest import workspace_snapshot

    from ppdet_ghm.engine import create_model, load_config
    with workspace_snapshot():
        paddle.seed(0)
        paddle.save(create_model(load_config(config)).state_dict(), prefix + '.pdparams')
    return prefix


@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    r = Rehearsal(tmp_path_factory.mktemp('multinode'))
    r.init = _save_initial_weights(r.config, os.path.join(r.tmp, 'init'))
    start = ['pretrain_weights=' + r.init + '.pdparams']
    r.wait(r.start_nodes('A', epoch=1, args=['--eval'], extra=start + [
        'output_eval=' + os.path.join(r.tmp, 'A', 'eval')]))
    r.run_single('S', epoch=1, extra=start + ['TrainReader.batch_size=16'])
    a_final = os.path.join(r.run_dir('A'), 'model_final')
    r.r2 = r.run_single('R2', epoch=2, args=['-r', a_final], nproc=2)
    r.r1 = r.run_single('R1', epoch=2, args=['-r', a_final])
    return r


def test_every_node_writes_what_it_should(chain):
    for node in range(4):
        files = sorted(os.listdir(chain.run_dir('A', node)))
        logs = ['loss_rank{}.jsonl'.format(2 * node + i) for i in (0, 1)]
        if node == 0:   # rank 0: checkpoints and the evaluation records
            assert set(files) >= set(logs) | {'model_final.pdparams',
                                              'model_final.pdopt', 'eval_records.jsonl'}
        else:           # the others: their loss logs only (locks removed)
            assert files == logs


def test_one_epoch_covers_every_image_once_with_the_tables_batch_and_lr(chain):
    steps = {}
    for rank in range(8):
        node = rank // 2
        for record in _records(os.path.join(chain.run_dir('A', node),
                                            'loss_rank{}.jsonl'.format(rank))):
            assert record['rank'] == rank and len(record['im_id']) == 2
            assert record['lr'] == BASE_LR      # -o LearningRate.base_lr=0.01
            steps.setdefault(record['step'], []).extend(record['im_id'])
    assert sorted(steps) == [0, 1]                     # 32 images / 16 a step
    assert all(len(ids) == 16 for ids in steps.values())
    assert sorted(i for ids in steps.values() for i in ids) == chain.train_ids


def test_every_rank_ends_with_the_same_parameters_and_ghm_state(chain):
    logs = chain.worker_logs('A')
    for what in ('parameter', 'GHM state'):
        digests = [re.findall(r'rank (\d) {} digest: (\w+)'.format(what), log)
                   for log in logs]
        assert [d[0][0] for d in digests] == [str(r) for r in range(8)]
        assert len({d[0][1] for d in digests}) == 1, what


def test_eight_ranks_step_as_one_process_on_their_batches_concatenated(chain):
    """Close, not exact: the 8 ranks' gradients are all-reduced (summed in
    another order than one process's sum over 16 images), and GHM's
    histograms are not continuous (an example whose gradient norm lies on a
    bin edge can fall into the next bin).  Per parameter tensor, the two
    runs differ by less than RATIO of how far training moved it; tensors
    that training does not move stay equal to the bit."""
    import paddle
    init = paddle.load(chain.init + '.pdparams')
    eight = paddle.load(os.path.join(chain.run_dir('A'), 'model_final.pdparams'))
    one = paddle.load(os.path.join(chain.run_dir('S'), 'model_final.pdparams'))
    assert eight.keys() == one.keys()
    ratios = {}
    for key in eight:
        a, b = eight[key].numpy(), one[key].numpy()
        moved = float(np.linalg.norm((b - init[key].numpy()).ravel()))
        if moved == 0:
            np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            ratios[key] = float(np.linalg.norm((a - b).ravel())) / moved
    worst = max(ratios, key=ratios.get)
    print('8 ranks vs 1 process: {} of {} tensors moved; largest difference / '
          'movement {:.2e} ({}), median {:.2e}'.format(
              len(ratios), len(eight), ratios[worst], worst,
              float(np.median(list(ratios.values())))))
    assert len(ratios) > len(eight) // 2
    assert ratios[worst] < RATIO, (worst, ratios[worst])


@pytest.mark.parametrize('run,ranks', [('R2', 2), ('R1', 1)])
def test_an_eight_rank_checkpoint_resumes_on_fewer_ranks(chain, run, ranks):
    proc = getattr(chain, run.lower())
    steps = 32 // (2 * ranks)
    # a launched rank's stderr is its workerlog
    printed = proc.stderr if ranks == 1 else chain.worker_logs(run, nodes=1)[0]
    assert 'the checkpoint counted 2 lr steps; at epoch 1 with {} steps an epoch ' \
           'here, the schedule continues from step {}'.format(steps, steps) in printed
    for rank in range(ranks):
        records = _records(os.path.join(chain.run_dir(run), 'loss_rank{}.jsonl'.format(rank)))
        assert [r['epoch'] for r in records] == [1] * steps      # epoch 0 was A's
        assert {r['lr'] for r in records} == {BASE_LR}
    final = os.path.join(chain.run_dir(run), 'model_final')
    assert_loadable_checkpoint(final)
    import paddle
    start = paddle.load(os.path.join(chain.run_dir('A'), 'model_final.pdparams'))
    end = paddle.load(final + '.pdparams')
    # the GHM state came along and moved on (an EMA from zero would hold
    # one batch's counts only)
    assert float(end['head.loss_class.acc_sum'].sum()) > 0
    assert not np.array_equal(start['head.loss_class.acc_sum'].numpy(),
                              end['head.loss_class.acc_sum'].numpy())


def test_a_two_rank_checkpoint_resumes_on_eight_and_sigterm_to_one_node_ends_all(chain):
    r2_final = os.path.join(chain.run_dir('R2'), 'model_final')
    procs = chain.start_nodes('B', epoch=40, args=['-r', r2_final],
                              extra=['snapshot_epoch=1'])
    node0 = chain.run_dir('B', 0)
    deadline = time.time() + 600
    while not glob.glob(os.path.join(node0, '2.pdparams')):  # an epoch of B saved
        assert time.time() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.5)
    start = time.time()
    procs[2].send_signal(signal.SIGTERM)        # node 2: ranks 4 and 5
    for p in procs:
        p.communicate(timeout=SIGTERM_STOP_SECONDS)
    stopped = time.time() - start
    print('SIGTERM to node 2: all 8 ranks ended in {:.1f} s'.format(stopped))
    assert stopped < SIGTERM_STOP_SECONDS
    leftover = subprocess.run(['pgrep', '-f', chain.tmp], capture_output=True, text=True)
    assert leftover.stdout.strip() == ''          # no rank left hanging
    logs = chain.worker_logs('B')
    assert 'training interrupted by SIGTERM' in logs[4] + logs[5]
    # B resumed R2's epoch-1 checkpoint: its first records are epoch 2, on 8 ranks
    first = _records(os.path.join(node0, 'loss_rank0.jsonl'))[0]
    assert first['epoch'] == 2 and first['lr'] == pytest.approx(BASE_LR * 0.1)
    latest = latest_checkpoint(node0)
    assert latest is not None
    assert_loadable_checkpoint(latest)
