"""Forward+backward time of GHM-C / GHM-R against PaddleDetection's losses.

All contenders run in one process on the same tensors, so the ratios are
side-by-side measurements.  Default input: 400,000 anchors x 80 classes (two
800x1333 images' worth of RetinaNet anchors), ~1% positive, ~5% ignored.

    python benchmarks/loss_benchmark.py [--anchors 400000] [--repeats 5]
        [--output output/benchmark_losses.json]

(``python tools/benchmark_losses.py`` forwards here with the same flags.)
The table goes to stdout; ``--output`` also writes the timings as JSON.
Paddle runs with the environment's ``OMP_NUM_THREADS``.
"""
import argparse
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--anchors', type=int, default=400000,
                        help='anchors (rows) of the classification input')
    parser.add_argument('--classes', type=int, default=80,
                        help='classes (columns)')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed forward + backward runs per loss')
    parser.add_argument('--device', default='cpu', help="Paddle device ('cpu', 'gpu')")
    parser.add_argument('--skip_loop', action='store_true',
                        help='skip the slow per-bin-loop GHM-C')
    parser.add_argument('--output', default=None,
                        help='also write the results as JSON to this path')
    return parser.parse_args(argv)


def main(argv=None):
    """Time the losses, print the table; returns what ``--output`` holds."""
    args = parse_args(argv)
    if ROOT not in sys.path:  # measure this checkout's ppdet_ghm
        sys.path.insert(0, ROOT)
    import paddle
    from bench_losses import format_report, machine_line, measure

    paddle.set_device(args.device)
    measured = measure(args.anchors, args.classes, args.repeats,
                       args.skip_loop)
    machine = machine_line(args.device)
    print('\n'.join(format_report(measured, args.anchors, args.classes,
                                  machine)))
    record = {'machine': machine, 'anchors': args.anchors,
              'classes': args.classes, 'seconds': measured['seconds']}
    if args.output:
        with open(args.output, 'w') as f:
            json.dump(record, f, indent=1)
    return record


if __name__ == '__main__':
    main()
