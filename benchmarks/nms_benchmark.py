"""The numpy NMS that follows an ONNX model (ppdet_ghm/deploy/nms.py)
against Paddle's multiclass_nms3 kernel, side by side in one process, on
the worst case of an R50 model with random weights: 1,000 candidate boxes
of an 800x1333 image, 80 classes, every score above the threshold (and a
30 % case); both results are checked equal to the bit.

    python benchmarks/nms_benchmark.py [--candidates 1000] [--classes 80] \
        [--repeats 20] [--output output/nms_benchmark.json]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--candidates', type=int, default=1000,
                        help='candidate boxes of the image')
    parser.add_argument('--classes', type=int, default=80, help='classes')
    parser.add_argument('--repeats', type=int, default=20,
                        help='timed calls of each (the median is reported)')
    parser.add_argument('--output', default=None,
                        help='also write the timings as JSON to this path')
    return parser.parse_args(argv)


def random_case(rng, candidates, classes, fraction):
    """Boxes spread over an 800x1333 image (16-400 px sides) and uniform
    scores, ``fraction`` of them kept above 0 (the rest 0)."""
    centre = rng.uniform(0, [1333, 800], (candidates, 2))
    size = np.exp(rng.uniform(np.log(16), np.log(400), (candidates, 2)))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], 1).astype(np.float32)
    scores = rng.uniform(0, 1, (classes, candidates)).astype(np.float32)
    scores *= rng.uniform(0, 1, (classes, candidates)) < fraction
    return boxes, scores


def _median_ms(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main(argv=None):
    args = parse_args(argv)
    if ROOT not in sys.path:      # measure this checkout's ppdet_ghm
        sys.path.insert(0, ROOT)
    import paddle

    from ppdet_ghm.compat import multiclass_nms as kernel_nms
    from ppdet_ghm.deploy.nms import multiclass_nms
    paddle.set_device('cpu')
    settings = dict(score_threshold=0.05, nms_threshold=0.5, keep_top_k=100)
    rng = np.random.default_rng(0)
    rows = []
    for fraction in (1.0, 0.3):
        boxes, scores = random_case(rng, args.candidates, args.classes, fraction)
        tensors = paddle.to_tensor(boxes[None]), paddle.to_tensor(scores[None])
        ours = multiclass_nms(boxes, scores, **settings)
        theirs = kernel_nms(*tensors, **settings)[0].numpy().reshape(-1, 6)
        row = {'candidates': args.candidates, 'classes': args.classes,
               'scores_above_zero': fraction,
               'numpy_ms': _median_ms(lambda: multiclass_nms(boxes, scores, **settings),
                                      args.repeats),
               'kernel_ms': _median_ms(lambda: kernel_nms(*tensors, **settings),
                                       args.repeats),
               'rows': int(ours.shape[0]), 'bit_equal': bool(np.array_equal(ours, theirs))}
        rows.append(row)
        print('{candidates} candidates x {classes} classes, {pct:.0f} % scored: numpy '
              '{numpy_ms:.1f} ms, Paddle kernel {kernel_ms:.1f} ms (median of {n}); '
              '{rows} rows, bit-equal: {bit_equal}'.format(
                  pct=100 * fraction, n=args.repeats, **row))
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        with open(args.output, 'w') as f:
            json.dump({'args': vars(args), 'rows': rows}, f, indent=1)
        print('wrote', args.output)
    return rows


if __name__ == '__main__':
    main()
