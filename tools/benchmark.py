"""Training step, inference and peak memory of our GHM RetinaNet against
PaddleDetection's own RetinaNet, side by side in one run.

Every variant runs in its own worker subprocess (one for training, one for
inference, so that each peak resident memory is that of one job), all started
by this one invocation on the same machine, with the same OMP threads and the
same synthetic batch (fixed seed; the batch's digest is compared).  The
workers take turns: in every round each runs one step while the others wait,
so background load on a shared machine hits all variants alike.  Reported:
the median over the timed rounds, ratios of the medians to the baseline, and
(JSON, last table line) the median of the per-round paired ratios.

    python tools/benchmark.py [--image_size 512] [--batch_size 2] [--warmup 2]
                              [--steps 5] [--device cpu|gpu] [--output_dir logs]

Variants:
  ppdet_fl  PaddleDetection's RetinaNet (RetinaHead, FocalLoss + L1), the
            baseline: configs/benchmark/ppdet_retinanet_r50_fpn.yml
  ghm       ours, GHM-C + GHM-R: configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml
  fl_sl1    ours, FocalLoss + SmoothL1 (head cost without the GHM losses):
            configs/ghm/retinanet_fl_sl1_r50_fpn_1x_coco.yml
  ghm_p5    ours, GHM-C + GHM-R with PaddleDetection's FPN variant (P6 from
            P5 instead of the reference's P6 from C5): the same network as
            the baseline, so only head, losses and post-processing differ

Training step = forward + loss + backward + optimizer step (one identical
Momentum optimizer for all: lr --lr, momentum 0.9, L2 1e-4, gradient
clipping at global norm --clip_grad_norm as in our configs: from random
init, PaddleDetection's RetinaNet reaches NaN by the second step without it).
Inference = eval-mode forward including post-processing (NMS), images/s.
Memory: each worker's peak resident set (ru_maxrss) and the peak of tensor
bytes held by Paddle's allocator (deterministic; the RSS also carries how
malloc reuses freed memory, which varies by a few % between identical runs).
--breakdown N adds a section-by-section table of N training steps.
Writes <output_dir>/benchmark.txt (the tables) and benchmark.json (all
timings, machine, arguments).
"""
import argparse
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))

# PaddleDetection's FPN: P6 from P5 with a ReLU before P7 (ours, as the
# reference detector: P6 from C5, a 2048 -> 256 conv, 4.1M more weights).
PPDET_FPN = {'FPN': {'use_c5': False, 'relu_before_extra_convs': True}}

# (key, label, config relative to the repo, overrides)
VARIANTS = [
    ('ppdet_fl', "PaddleDetection RetinaNet (FocalLoss + L1)",
     'configs/benchmark/ppdet_retinanet_r50_fpn.yml', {}),
    ('ghm', 'ours: GHM-C + GHM-R',
     'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml', {}),
    ('fl_sl1', 'ours: FocalLoss + SmoothL1',
     'configs/ghm/retinanet_fl_sl1_r50_fpn_1x_coco.yml', {}),
    ('ghm_p5', "ours: GHM-C + GHM-R on PaddleDetection's FPN (P6 from P5)",
     'configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml', PPDET_FPN),
]
BASELINE = 'ppdet_fl'

# --tiny: the same reduction for every variant (a seconds-long smoke run).
TINY_OVERRIDES = {
    'ResNet': {'depth': 18},
    'FPN': {'out_channel': 16},
    'RetinaFeat': {'feat_in': 16, 'feat_out': 16, 'num_convs': 1},
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--image_size', type=int, default=512,
                        help='square input images (pixels)')
    parser.add_argument('--batch_size', type=int, default=2,
                        help='training batch size')
    parser.add_argument('--warmup', type=int, default=2,
                        help='training steps run before timing')
    parser.add_argument('--steps', type=int, default=5,
                        help='timed training steps (the median is reported)')
    parser.add_argument('--infer_batch_size', type=int, default=1)
    parser.add_argument('--infer_warmup', type=int, default=2)
    parser.add_argument('--infer_steps', type=int, default=10)
    parser.add_argument('--lr', type=float, default=0.01,
                        help='Momentum learning rate (same for all variants)')
    parser.add_argument('--clip_grad_norm', type=float, default=35.0,
                        help='gradient clipping by global L2 norm (same for '
                        'all variants; randomly initialised detectors diverge '
                        'without it)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'gpu'])
    parser.add_argument('--variants', default=','.join(v[0] for v in VARIANTS),
                        help='comma-separated subset of: ' +
                        ', '.join(v[0] for v in VARIANTS))
    parser.add_argument('--tiny', action='store_true',
                        help='shrink every model identically (ResNet-18, '
                        'FPN-16, one 16-channel conv per tower): smoke test')
    parser.add_argument('--breakdown', type=int, default=0, metavar='N',
                        help='also time N training steps section by section '
                        '(backbone, neck, head convs, loss, backward, '
                        'optimizer; one warm-up step), interleaved likewise')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--pause', type=float, default=0.5,
                        help='seconds between two workers\' steps (lets the '
                        'last one\'s OpenMP threads go idle)')
    parser.add_argument('--output_dir', default=os.path.join(ROOT, 'logs'))
    # internal: run one worker in this process
    parser.add_argument('--child', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--mode', default=None,
                        choices=['train', 'infer', 'profile'],
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    known = [v[0] for v in VARIANTS]
    args.variant_list = [v for v in args.variants.split(',') if v]
    unknown = [v for v in args.variant_list if v not in known]
    if unknown or not args.variant_list:
        parser.error('--variants: unknown {} (choose from {})'.format(
            unknown, ', '.join(known)))
    if BASELINE not in args.variant_list:
        parser.error('--variants must include the baseline ' + BASELINE)
    for name in ('image_size', 'batch_size', 'steps', 'infer_batch_size',
                 'infer_steps'):
        if getattr(args, name) < 1:
            parser.error('--{} must be >= 1'.format(name))
    for name in ('warmup', 'infer_warmup'):
        if getattr(args, name) < 0:
            parser.error('--{} must be >= 0'.format(name))
    return args


# ---------------------------------------------------------------- the batch

def synthetic_batch(batch_size, image_size, seed):
    """Numpy arrays of one synthetic batch as PaddleDetection's reader gives
    it with ``collate_batch: false`` (ground truth per image).

    Images are normalised noise; each image has 2-6 boxes (16 px up to half
    the image, inside it) of random classes in [0, 80).

    Returns:
        dict: ``image`` (B, 3, S, S) float32, ``im_shape`` / ``scale_factor``
        (B, 2) float32, ``gt_bbox`` list of (G_i, 4) float32, ``gt_class``
        list of (G_i, 1) int32, ``is_crowd`` list of (G_i, 1) int32.
    """
    rng = np.random.default_rng(seed)
    size = float(image_size)
    batch = {
        'image': rng.standard_normal(
            (batch_size, 3, image_size, image_size)).astype('float32'),
        'im_shape': np.full((batch_size, 2), size, dtype='float32'),
        'scale_factor': np.ones((batch_size, 2), dtype='float32'),
        'gt_bbox': [], 'gt_class': [], 'is_crowd': [],
    }
    for _ in range(batch_size):
        num = int(rng.integers(2, 7))
        wh = rng.uniform(min(16.0, size / 4), size / 2, (num, 2))
        x1y1 = rng.uniform(0, 1, (num, 2)) * (size - wh)
        batch['gt_bbox'].append(
            np.concatenate([x1y1, x1y1 + wh], axis=1).astype('float32'))
        batch['gt_class'].append(
            rng.integers(0, 80, (num, 1)).astype('int32'))
        batch['is_crowd'].append(np.zeros((num, 1), dtype='int32'))
    return batch


def batch_digest(batch):
    """sha256 of every array of the batch, in a fixed key order."""
    digest = hashlib.sha256()
    for key in sorted(batch):
        arrays = batch[key] if isinstance(batch[key], list) else [batch[key]]
        for array in arrays:
            digest.update(key.encode())
            digest.update(str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def to_inputs(batch, count):
    """Tensors of the first ``count`` images, fresh for each step."""
    import paddle
    inputs = {}
    for key, value in batch.items():
        if isinstance(value, list):
            inputs[key] = [paddle.to_tensor(a) for a in value[:count]]
        else:
            inputs[key] = paddle.to_tensor(value[:count])
    return inputs


# ------------------------------------------------------------- child process

def build_model(config, tiny, seed, overrides=None):
    """The config's architecture with ``overrides`` merged, random init,
    pretrained weights never loaded."""
    import paddle
    from ppdet.core.workspace import create, load_config, merge_config
    import ppdet_ghm  # noqa: F401  (registers our modules)

    cfg = load_config(os.path.join(ROOT, config))
    merge_config({'pretrain_weights': None})
    if overrides:
        merge_config({k: dict(v) for k, v in overrides.items()})
    if tiny:
        merge_config({k: dict(v) for k, v in TINY_OVERRIDES.items()})
    paddle.seed(seed)
    np.random.seed(seed)
    return create(cfg.architecture)


def peak_rss_mb():
    """Peak resident set size of this process so far (MB)."""
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == 'darwin':  # bytes there
        kb /= 1024.0
    return kb / 1024.0


def allocator_peak_mb(device):
    """Peak of the bytes Paddle's allocator handed out for tensors in this
    process (weights, activations, gradients; MB): unlike the RSS it does
    not depend on how the C library's malloc reuses freed memory."""
    if device == 'gpu':
        import paddle
        return paddle.device.cuda.max_memory_allocated() / 2**20
    from ppdet_ghm.compat import host_allocated_peak_mb
    return host_allocated_peak_mb()


def synchronize(device):
    """Wait for queued kernels (no-op on the CPU)."""
    import paddle
    if device == 'gpu':
        paddle.device.synchronize()


def gradient_check(model):
    """Count trainable parameters with a finite non-zero gradient and make
    sure the head's classifier/regressor and the backbone got one."""
    import paddle
    named = [(n, p) for n, p in model.named_parameters() if not p.stop_gradient]
    with_grad = []
    for name, param in named:
        grad = param.grad
        if grad is None:
            continue
        norm = float(paddle.linalg.norm(grad.astype('float32')))
        if not np.isfinite(norm):
            raise RuntimeError('non-finite gradient in ' + name)
        if norm > 0:
            with_grad.append(name)
    for must in ('head.retina_cls.weight', 'head.retina_reg.weight'):
        if must not in with_grad:
            raise RuntimeError('no gradient reached ' + must)
    if not any(n.startswith('backbone.') for n in with_grad):
        raise RuntimeError('no gradient reached the backbone')
    return {'trainable': len(named), 'with_gradient': len(with_grad)}


class TrainJob(object):
    """Training steps (forward, loss, backward, optimizer) of one model."""

    def __init__(self, args, model, batch):
        import paddle
        self.args, self.model, self.batch = args, model, batch
        model.train()
        self.optimizer = paddle.optimizer.Momentum(
            learning_rate=args.lr, momentum=0.9,
            parameters=model.parameters(),
            weight_decay=paddle.regularizer.L2Decay(1e-4),
            grad_clip=paddle.nn.ClipGradByGlobalNorm(args.clip_grad_norm))
        self.steps, self.first, self.loss = 0, None, None

    def step(self):
        """One step; wall and CPU seconds.  The first step also checks that
        the loss is finite and that gradients reach head and backbone
        (outside the timed region)."""
        inputs = to_inputs(self.batch, self.args.batch_size)
        synchronize(self.args.device)
        start, cpu = time.perf_counter(), time.process_time()
        losses = self.model(inputs)
        losses['loss'].backward()
        self.optimizer.step()
        synchronize(self.args.device)
        loss = float(losses['loss'])
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        if not np.isfinite(loss):
            raise RuntimeError('non-finite loss {} at step {}'.format(
                loss, self.steps))
        if self.first is None:
            self.first = {'losses': {k: float(v) for k, v in losses.items()},
                          'gradients': gradient_check(self.model)}
        self.optimizer.clear_grad()
        self.steps += 1
        self.loss = loss
        return {'time': elapsed, 'cpu': cpu, 'loss': loss}

    def summary(self):
        return {'first_step': self.first, 'last_loss': self.loss}


class ProfileJob(TrainJob):
    """A training step timed section by section (``--breakdown``): the
    network's parts called one after the other as the architecture does,
    then, separately, the loss alone (forward + backward) on detached head
    outputs: assignment + losses without the convolutions' backward."""

    SECTIONS = ['backbone', 'neck', 'head convs', 'assign + loss',
                'backward', 'optimizer', 'loss alone fwd+bwd']

    def step(self):
        model, device = self.model, self.args.device
        inputs = to_inputs(self.batch, self.args.batch_size)
        model.inputs = inputs
        marks = []

        def mark():
            synchronize(device)
            marks.append(time.perf_counter())

        mark()
        body = model.backbone(inputs)
        mark()
        feats = model.neck(body)
        mark()
        cls_logits, deltas = [], []
        for feat in feats:
            cls_feat, reg_feat = model.head.conv_feat(feat)
            cls_logits.append(model.head.retina_cls(cls_feat))
            deltas.append(model.head.retina_reg(reg_feat))
        mark()
        losses = model.head.get_loss([cls_logits, deltas], inputs)
        mark()
        losses['loss'].backward()
        mark()
        self.optimizer.step()
        mark()
        loss = float(losses['loss'])
        if not np.isfinite(loss):
            raise RuntimeError('non-finite loss {} at step {}'.format(
                loss, self.steps))
        self.optimizer.clear_grad()
        leaves = [x.detach() for x in cls_logits + deltas]
        for leaf in leaves:
            leaf.stop_gradient = False
        num = len(cls_logits)
        mark()
        alone = model.head.get_loss([leaves[:num], leaves[num:]], inputs)
        alone['loss'].backward()
        mark()
        times = [b - a for a, b in zip(marks[:-1], marks[1:])]
        del times[6]  # between the optimizer and the loss-alone pass
        self.steps += 1
        self.loss = loss
        return {'time': sum(times[:6]), 'cpu': 0.0, 'loss': loss,
                'sections': dict(zip(self.SECTIONS, times))}


def infer_batch(args):
    """The inference images: the first ``infer_batch_size`` of the training
    batch (or a batch of that size when it is larger)."""
    batch = synthetic_batch(max(args.batch_size, args.infer_batch_size),
                            args.image_size, args.seed)
    return {k: batch[k][:args.infer_batch_size]
            for k in ('image', 'im_shape', 'scale_factor')}


class InferJob(object):
    """Eval-mode forward including post-processing (NMS) of one model."""

    def __init__(self, args, model, batch):
        self.args, self.model, self.batch = args, model, batch
        model.eval()
        self.detections = None

    def step(self):
        """One batch; wall and CPU seconds."""
        import paddle
        inputs = to_inputs(self.batch, self.args.infer_batch_size)
        with paddle.no_grad():
            synchronize(self.args.device)
            start, cpu = time.perf_counter(), time.process_time()
            out = self.model(inputs)
            synchronize(self.args.device)
            num = [int(n) for n in out['bbox_num'].numpy()]
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
        self.detections = num
        return {'time': elapsed, 'cpu': cpu}

    def summary(self):
        return {'detections_per_image': self.detections}


MARK = '@@benchmark '


def send(message):
    """Worker -> parent: one marked JSON line on stdout (libraries print
    there too; the parent skips unmarked lines)."""
    sys.stdout.write(MARK + json.dumps(message) + '\n')
    sys.stdout.flush()


def child_main(args):
    """Worker: build one variant for one mode, then run a step for every
    'step' line on stdin and report; 'finish' reports the summary and peak
    memory and exits."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _common  # noqa: F401  (OMP threads, project on sys.path)
    import paddle
    paddle.set_device(args.device)
    if args.device == 'gpu' and not paddle.is_compiled_with_cuda():
        raise SystemExit('error: --device gpu but this paddle has no CUDA')
    config, overrides = {k: (c, o) for k, _, c, o in VARIANTS}[args.child]
    batch = infer_batch(args) if args.mode == 'infer' else \
        synthetic_batch(args.batch_size, args.image_size, args.seed)
    model = build_model(config, args.tiny, args.seed, overrides)
    job = {'train': TrainJob, 'infer': InferJob,
           'profile': ProfileJob}[args.mode](args, model, batch)
    send({'ready': True, 'variant': args.child, 'mode': args.mode,
          'config': config, 'overrides': overrides, 'batch_digest': batch_digest(batch),
          'head': type(model.head).__name__,
          'parameters': int(sum(p.size for p in model.parameters())),
          'rss_after_build_mb': peak_rss_mb(),
          'allocator_after_build_mb': allocator_peak_mb(args.device)})
    for line in sys.stdin:
        command = line.strip()
        if command == 'step':
            send(job.step())
        elif command == 'finish':
            result = job.summary()
            result['peak_rss_mb'] = peak_rss_mb()
            result['allocator_peak_mb'] = allocator_peak_mb(args.device)
            send(result)
            return
        else:
            raise SystemExit('error: unknown worker command ' + repr(command))


# ------------------------------------------------------------ parent process

def child_command(args, variant, mode):
    """The command line of one worker subprocess."""
    cmd = [sys.executable, os.path.abspath(__file__),
           '--child', variant, '--mode', mode]
    for name in ('image_size', 'batch_size', 'infer_batch_size', 'lr',
                 'clip_grad_norm', 'device', 'seed'):
        cmd += ['--' + name, str(getattr(args, name))]
    if args.tiny:
        cmd.append('--tiny')
    return cmd


class Worker(object):
    """A worker subprocess holding one variant's model for one mode."""

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


def machine_info(args):
    """CPU model, cores, versions, threads."""
    import paddle
    import ppdet
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = {'cpu': cpu, 'cores': os.cpu_count(),
            'omp_num_threads': os.environ.get('OMP_NUM_THREADS'),
            'python': platform.python_version(),
            'paddle': paddle.__version__,
            'paddledet': getattr(ppdet, '__version__', 'unknown'),
            'device': args.device}
    if args.device == 'gpu' and paddle.is_compiled_with_cuda():
        info['gpu'] = paddle.device.cuda.get_device_name()
    return info


def ratio(value, base):
    return value / base if base else float('nan')


def paired_ratio(times, base_times):
    """Median over rounds of ``times[i] / base_times[i]``."""
    return float(np.median(np.asarray(times) / np.asarray(base_times)))


# What is compared with the baseline: (description, row key, ratio key, mode,
# field of that mode's result, unit, higher is better).  Every ratio is
# value / baseline value.
MEASURES = [
    ('training step', 'train_step_s', 'train_ratio', 'train', 'median', 's',
     False),
    ('inference throughput', 'infer_images_per_s', 'infer_ratio', 'infer',
     'images_per_s', 'img/s', True),
    ('peak RSS (training)', 'train_peak_rss_mb', 'train_rss_ratio', 'train',
     'peak_rss_mb', 'MB', False),
    ('peak RSS (inference)', 'infer_peak_rss_mb', 'infer_rss_ratio', 'infer',
     'peak_rss_mb', 'MB', False),
    ('peak tensor memory (training)', 'train_allocator_mb',
     'train_allocator_ratio', 'train', 'allocator_peak_mb', 'MB', False),
    ('peak tensor memory (inference)', 'infer_allocator_mb',
     'infer_allocator_ratio', 'infer', 'allocator_peak_mb', 'MB', False),
]


def summarize(results, variants):
    """Per variant: medians, peaks and ratios against the baseline."""
    base = results[BASELINE]
    rows = []
    for key, label, config, _ in VARIANTS:
        if key not in variants:
            continue
        ours = results[key]
        row = {'variant': key, 'label': label, 'config': config}
        for _, row_key, ratio_key, mode, field, _, _ in MEASURES:
            row[row_key] = ours[mode][field]
            row[ratio_key] = ratio(ours[mode][field], base[mode][field])
        # per-round time ratios; for throughput, baseline time / ours
        row['train_ratio_paired'] = paired_ratio(ours['train']['times'],
                                                 base['train']['times'])
        row['infer_ratio_paired'] = paired_ratio(base['infer']['times'],
                                                 ours['infer']['times'])
        rows.append(row)
    return rows


def format_table(rows):
    lines = ['| variant | train step s (median) | vs ppdet | inference img/s '
             '| vs ppdet | peak RSS train MB | vs ppdet | peak RSS inference '
             'MB | vs ppdet |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in rows:
        lines.append(
            '| {label} | {train_step_s:.3f} | {train_ratio:.2f}x | '
            '{infer_images_per_s:.3f} | {infer_ratio:.2f}x | '
            '{train_peak_rss_mb:.0f} | {train_rss_ratio:.2f}x | '
            '{infer_peak_rss_mb:.0f} | {infer_rss_ratio:.2f}x |'.format(**r))
    lines += ['', 'peak tensor memory (Paddle\'s allocator, MB; weights '
              'included, malloc overhead not):', '',
              '| variant | training | vs ppdet | inference | vs ppdet |',
              '|---|---:|---:|---:|---:|']
    for r in rows:
        lines.append(
            '| {label} | {train_allocator_mb:.1f} | {train_allocator_ratio:.2f}x'
            ' | {infer_allocator_mb:.1f} | {infer_allocator_ratio:.2f}x |'
            .format(**r))
    lines.append('')
    lines.append('median of per-round paired ratios (training, inference): ' +
                 '; '.join('{} {:.2f}x, {:.2f}x'.format(
                     r['variant'], r['train_ratio_paired'],
                     r['infer_ratio_paired']) for r in rows))
    return lines


def format_breakdown(results, variants, steps):
    """Table of per-section median seconds of the ``--breakdown`` steps."""
    lines = ['training step by section, median of {} steps (s):'.format(steps),
             '',
             '| section | ' + ' | '.join(variants) + ' |',
             '|---|' + '---:|' * len(variants)]
    medians = {v: results[v]['profile']['section_medians'] for v in variants}
    for name in ProfileJob.SECTIONS:
        lines.append('| {} | {} |'.format(name, ' | '.join(
            '{:.3f}'.format(medians[v][name]) for v in variants)))
    lines.append('| sum of the step\'s sections | {} |'.format(' | '.join(
        '{:.3f}'.format(results[v]['profile']['median']) for v in variants)))
    return lines


def targets(rows):
    """The issue's targets, for our GHM detector (``ghm``) and, as a
    diagnostic, for it on PaddleDetection's FPN (``ghm_p5``).

    Returns:
        list of dicts: target, variant, value, baseline, unit, ratio, met.
    """
    base = next(r for r in rows if r['variant'] == BASELINE)
    checks = []
    for row in rows:
        if row['variant'] not in ('ghm', 'ghm_p5'):
            continue
        name = 'GHM' if row['variant'] == 'ghm' else \
            "GHM on PaddleDetection's FPN"
        for what, key, ratio_key, _, _, unit, higher in MEASURES:
            value, baseline = row[key], base[key]
            checks.append({
                'target': '{} {} {} ppdet'.format(
                    name, what, '>=' if higher else '<='),
                'variant': row['variant'], 'value': value,
                'baseline': baseline, 'unit': unit, 'ratio': row[ratio_key],
                'met': bool(value >= baseline if higher else
                            value <= baseline)})
    return checks


def format_targets(checks):
    """One line per target: values, ratio, met or not."""
    return ['{target}: {value:.4g} vs {baseline:.4g} {unit} ({ratio:.3f}x) '
            '-> {verdict}'.format(verdict='met' if c['met'] else 'NOT met',
                                  **c) for c in checks]


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _common  # noqa: F401  (sets OMP_NUM_THREADS, inherited by children)

    machine = machine_info(args)
    header = ('input: {n} x 3x{s}x{s} synthetic images (seed {seed}) for '
              'training, {ib} for inference; {w} warm-up + {k} timed training '
              'steps, {iw} + {ik} inference steps{tiny}'.format(
                  n=args.batch_size, s=args.image_size, seed=args.seed,
                  ib=args.infer_batch_size, w=args.warmup, k=args.steps,
                  iw=args.infer_warmup, ik=args.infer_steps,
                  tiny='; --tiny models' if args.tiny else ''))
    machine_line = ('machine: {cpu}, {cores} cores, OMP_NUM_THREADS='
                    '{omp_num_threads}, python {python}, paddle {paddle}, '
                    'paddledet {paddledet}, device {device}'.format(**machine))
    print(header)
    print(machine_line, flush=True)

    results = {v: {} for v in args.variant_list}
    with tempfile.TemporaryDirectory(prefix='ghm_benchmark_') as tmp:
        modes = ['train', 'infer'] + (['profile'] if args.breakdown else [])
        for mode in modes:
            for variant, out in measure(args, mode, args.variant_list,
                                        tmp).items():
                results[variant][mode] = out

    digests = {}
    for mode in modes:
        seen = {results[v][mode]['batch_digest'] for v in args.variant_list}
        if len(seen) != 1:
            raise SystemExit('error: the variants did not see the same {} '
                             'batch'.format(mode))
        digests[mode] = seen.pop()
    if digests.get('profile', digests['train']) != digests['train']:
        raise SystemExit('error: --breakdown did not use the training batch')
    rows = summarize(results, args.variant_list)
    checks = targets(rows)
    lines = [header, machine_line, ''] + format_table(rows) + ['']
    lines += format_targets(checks)
    if args.breakdown:
        lines += [''] + format_breakdown(results, args.variant_list,
                                         args.breakdown)
    text = '\n'.join(lines)
    print('\n' + '\n'.join(lines[2:]))

    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, 'benchmark.txt'), 'w') as f:
        f.write(text + '\n')
    public_args = {k: v for k, v in vars(args).items()
                   if k not in ('child', 'mode', 'variant_list',
                                'output_dir')}
    with open(os.path.join(args.output_dir, 'benchmark.json'), 'w') as f:
        json.dump({'machine': machine, 'args': public_args,
                   'batch_digests': digests, 'baseline': BASELINE,
                   'rows': rows, 'targets': checks, 'runs': results},
                  f, indent=1)
    print('wrote {}/benchmark.txt, benchmark.json'.format(args.output_dir))


if __name__ == '__main__':
    main()
