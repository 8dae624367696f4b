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

    python benchmarks/detector_benchmark.py [--image_size 512] [--batch_size 2]
        [--warmup 2] [--steps 5] [--device cpu|gpu] [--output_dir logs]

(``python tools/benchmark.py`` forwards here with the same flags.)

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
import os
import tempfile

# Nothing imported here imports paddle at module level: the thread count
# below must be set before the first import of paddle.
from bench_report import (batch_digests, format_breakdown, format_table,
                          format_targets, header_lines, machine_info,
                          summarize, targets, write_outputs)
from bench_variants import BASELINE, ROOT, VARIANTS
from bench_workers import measure


def set_cpu_threads():
    """Give Paddle's CPU kernels every core (they use one thread unless
    ``OMP_NUM_THREADS`` says otherwise), unless the caller set the variable.

    Must run before paddle is imported; the workers inherit the variable, so
    every variant runs with the same threads (reported in the machine line).
    """
    os.environ.setdefault('OMP_NUM_THREADS', str(max(1, os.cpu_count() or 1)))


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
    parser.add_argument('--infer_batch_size', type=int, default=1,
                        help='images per inference call')
    parser.add_argument('--infer_warmup', type=int, default=2,
                        help='untimed inference calls first')
    parser.add_argument('--infer_steps', type=int, default=10,
                        help='timed inference calls')
    parser.add_argument('--lr', type=float, default=0.01,
                        help='Momentum learning rate (same for all variants)')
    parser.add_argument('--clip_grad_norm', type=float, default=35.0,
                        help='gradient clipping by global L2 norm (same for '
                        'all variants; randomly initialised detectors diverge '
                        'without it)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'gpu'],
                        help='where the models run')
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
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the weights and the random batches')
    parser.add_argument('--pause', type=float, default=0.5,
                        help='seconds between two workers\' steps (lets the '
                        'last one\'s OpenMP threads go idle)')
    parser.add_argument('--output_dir', default=os.path.join(ROOT, 'output', 'benchmark'),
                        help='where benchmark.txt and benchmark.json go (logs/ holds '
                        'the committed runs: name it to update them)')
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


def run(args):
    """Measure every variant of ``args`` (parsed by :func:`parse_args`),
    print the tables and write them to ``args.output_dir``.

    Returns:
        dict: what ``benchmark.json`` holds.
    """
    machine = machine_info(args.device)
    lines = header_lines(args, machine)
    print('\n'.join(lines), flush=True)

    results = {v: {} for v in args.variant_list}
    modes = ['train', 'infer'] + (['profile'] if args.breakdown else [])
    with tempfile.TemporaryDirectory(prefix='ghm_benchmark_') as tmp:
        for mode in modes:
            for variant, out in measure(args, mode, args.variant_list,
                                        tmp).items():
                results[variant][mode] = out

    digests = batch_digests(results, args.variant_list, modes)
    rows = summarize(results, args.variant_list)
    checks = targets(rows)
    lines += [''] + format_table(rows) + [''] + format_targets(checks)
    if args.breakdown:
        lines += [''] + format_breakdown(results, args.variant_list,
                                         args.breakdown)
    print('\n' + '\n'.join(lines[2:]))

    public_args = {k: v for k, v in vars(args).items()
                   if k not in ('child', 'mode', 'variant_list',
                                'output_dir')}
    record = {'machine': machine, 'args': public_args,
              'batch_digests': digests, 'baseline': BASELINE,
              'rows': rows, 'targets': checks, 'runs': results}
    write_outputs(args.output_dir, '\n'.join(lines), record)
    print('wrote {}/benchmark.txt, benchmark.json'.format(args.output_dir))
    return record


def main(argv=None):
    args = parse_args(argv)
    set_cpu_threads()
    if args.child:  # a worker (started by bench_workers.Worker)
        from bench_jobs import run_worker
        return run_worker(args)
    return run(args)


if __name__ == '__main__':
    main()
