"""The worker side of the side-by-side benchmark: one process holds one
variant's model for one mode (training, inference or the section-by-section
profile) and runs a step whenever the parent asks (see ``bench_workers``).

Protocol: the parent writes ``step`` or ``finish`` lines on the worker's
stdin; the worker answers each with one JSON line on stdout prefixed by
:data:`MARK` (libraries print there too; the parent skips unmarked lines).
"""
import json
import resource
import sys
import time

import numpy as np

from bench_batch import batch_digest, infer_batch, synthetic_batch, to_inputs
from bench_variants import build_model, variant_config

MARK = '@@benchmark '


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

    def check_loss(self, loss):
        """A non-finite loss ends the benchmark, naming the step."""
        if not np.isfinite(loss):
            raise RuntimeError('non-finite loss {} at step {}'.format(
                loss, self.steps))

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
        self.check_loss(loss)
        if self.first is None:
            self.first = {'losses': {k: float(v) for k, v in losses.items()},
                          'gradients': gradient_check(self.model)}
        self.optimizer.clear_grad()
        self.steps += 1
        self.loss = loss
        return {'time': elapsed, 'cpu': cpu, 'loss': loss}

    def summary(self):
        return {'first_step': self.first, 'last_loss': self.loss}


def head_outputs(head, neck_feats):
    """The raw per-level outputs of ``head`` (ours or PaddleDetection's
    ``RetinaHead``) in training mode too, where both heads' ``forward`` go
    on to the loss: ``GHMRetinaHead.predict``, which needs only the three
    layers both heads have (``conv_feat``, ``retina_cls``, ``retina_reg``)."""
    from ppdet_ghm.modeling import GHMRetinaHead
    return GHMRetinaHead.predict(head, neck_feats)


class ProfileJob(TrainJob):
    """A training step timed section by section (``--breakdown``): the
    network's parts called one after the other as the architecture does
    (the head's convolutions by :func:`head_outputs`, its assignment + loss
    by the head's own ``get_loss``),
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
        cls_logits, deltas = head_outputs(model.head, feats)
        mark()
        losses = model.head.get_loss([cls_logits, deltas], inputs)
        mark()
        losses['loss'].backward()
        mark()
        self.optimizer.step()
        mark()
        loss = float(losses['loss'])
        self.check_loss(loss)
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


JOBS = {'train': TrainJob, 'infer': InferJob, 'profile': ProfileJob}


def send(message):
    """Worker -> parent: one marked JSON line on stdout."""
    sys.stdout.write(MARK + json.dumps(message) + '\n')
    sys.stdout.flush()


def run_worker(args, commands=None):
    """Build variant ``args.child`` for ``args.mode``, report it ready, then
    run a step for every 'step' line of ``commands`` and report; 'finish'
    reports the summary and peak memory and returns.

    ``args``: the benchmark's parsed arguments (``child``, ``mode``,
    ``device``, ``image_size``, ``batch_size``, ``infer_batch_size``,
    ``seed``, ``tiny``, ``lr``, ``clip_grad_norm``); ``commands``: an
    iterable of lines, default stdin.
    """
    import paddle
    paddle.set_device(args.device)
    if args.device == 'gpu' and not paddle.is_compiled_with_cuda():
        raise SystemExit('error: --device gpu but this paddle has no CUDA')
    config, overrides = variant_config(args.child)
    batch = infer_batch(args.batch_size, args.infer_batch_size,
                        args.image_size, args.seed) if args.mode == 'infer' \
        else synthetic_batch(args.batch_size, args.image_size, args.seed)
    model = build_model(config, args.tiny, args.seed, overrides)
    job = JOBS[args.mode](args, model, batch)
    send({'ready': True, 'variant': args.child, 'mode': args.mode,
          'config': config, 'overrides': overrides,
          'batch_digest': batch_digest(batch),
          'head': type(model.head).__name__,
          'parameters': int(sum(p.size for p in model.parameters())),
          'rss_after_build_mb': peak_rss_mb(),
          'allocator_after_build_mb': allocator_peak_mb(args.device)})
    for line in sys.stdin if commands is None else commands:
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
