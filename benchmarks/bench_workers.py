"""The parent side of the side-by-side benchmark: one worker subprocess per
variant and mode (``bench_jobs`` runs in it), driven in interleaved rounds so
that background load on a shared machine hits all variants alike."""
import json
import os
import subprocess
import sys
import time

import numpy as np

from bench_jobs import MARK
from bench_variants import ROOT

# The script a worker runs: the benchmark's entry, with --child.
ENTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     'detector_benchmark.py')


def child_command(args, variant, mode):
    """The command line of one worker subprocess."""
    cmd = [sys.executable, ENTRY, '--child', variant, '--mode', mode]
    for name in ('image_size', 'batch_size', 'infer_batch_size', 'lr',
                 'clip_grad_norm', 'device', 'seed'):
        cmd += ['--' + name, str(getattr(args, name))]
    if args.tiny:
        cmd.append('--tiny')
    return cmd


class Worker(object):
    """A worker subprocess holding one variant's model for one mode.

    The worker inherits this process's environment (``OMP_NUM_THREADS``
    included) with this checkout first on ``PYTHONPATH``, so that it measures
    this checkout's ``ppdet_ghm`` even where another copy is installed."""

    def __init__(self, args, variant, mode, tmp):
        self.variant, self.mode = variant, mode
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                      if p])
        self.stderr_path = os.path.join(tmp, '{}_{}.stderr'.format(
            variant, mode))
        self.stderr = open(self.stderr_path, 'w')
        self.proc = subprocess.Popen(
            child_command(args, variant, mode), env=env, cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
            text=True, bufsize=1)

    def receive(self):
        """The worker's next marked message; a clear error if it died."""
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        self.proc.wait()
        self.stderr.flush()
        with open(self.stderr_path) as f:
            tail = f.read()[-4000:]
        raise SystemExit('error: {} {} worker failed (exit {}):\n{}'.format(
            self.variant, self.mode, self.proc.returncode, tail))

    def request(self, command):
        self.proc.stdin.write(command + '\n')
        self.proc.stdin.flush()
        return self.receive()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.stderr.close()


def measure(args, mode, variants, tmp):
    """Interleaved measurement of one mode: one live worker per variant; in
    every round each worker runs one step while the others wait (the order
    rotates from round to round), so a change of the machine's background
    load hits all variants alike.

    Returns:
        dict variant -> result (ready info, timed/warm-up times, medians,
        summary, peak RSS).
    """
    warmup, steps = {'train': (args.warmup, args.steps),
                     'infer': (args.infer_warmup, args.infer_steps),
                     'profile': (1, args.breakdown)}[mode]
    workers = [Worker(args, v, mode, tmp) for v in variants]
    try:
        results = {w.variant: w.receive() for w in workers}
        for w in workers:
            results[w.variant].update({'warmup_times': [], 'times': [],
                                       'cpu_times': [], 'order': [],
                                       'sections': {}})
        for round_ in range(warmup + steps):
            shift = round_ % len(workers)
            for position, w in enumerate(workers[shift:] + workers[:shift]):
                time.sleep(args.pause)  # let the previous worker's threads idle
                out = w.request('step')
                r = results[w.variant]
                if round_ < warmup:
                    r['warmup_times'].append(out['time'])
                else:
                    r['times'].append(out['time'])
                    r['cpu_times'].append(out['cpu'])
                    r['order'].append(position)
                    for name, t in out.get('sections', {}).items():
                        r['sections'].setdefault(name, []).append(t)
            print('  {} round {}/{}{}: {}'.format(
                mode, round_ + 1, warmup + steps,
                ' (warm-up)' if round_ < warmup else '',
                ', '.join('{} {:.2f} s'.format(
                    v, (results[v]['warmup_times'] + results[v]['times'])[-1])
                    for v in variants)), flush=True)
        for w in workers:
            results[w.variant].update(w.request('finish'))
    finally:
        for w in workers:
            w.close()
    count = args.infer_batch_size if mode == 'infer' else args.batch_size
    for r in results.values():
        r['section_medians'] = {k: float(np.median(v))
                                for k, v in r['sections'].items()}
        r['median'] = float(np.median(r['times']))
        r['median_cpu'] = float(np.median(r['cpu_times']))
        r['images_per_s'] = count / r['median']
    return results
