"""CPU latency of an exported detector on several routes side by side:
Paddle Inference with oneDNN (NMS in the program, or in numpy after it),
without oneDNN, and ONNX Runtime; at one or more thread counts; preprocess
/ inference / postprocess ms per image (tools/deploy_infer.py's timing).

    python benchmarks/deploy_latency.py --config configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml \
        --image_size 800 1333 [--weights PATH] [--cpu_threads 1 2] [--rounds 3]
    python benchmarks/deploy_latency.py --model_dir output_inference/retinanet_ghm_demo \
        --onnx_model_dir output_inference_onnx/retinanet_ghm_demo \
        --image_dir dataset/ghm_demo/val --max_images 20

With --config, the model is exported twice first (tools/export_model.py,
with NMS and with --onnx) into --output_dir; without --weights its weights
are random (latency does not depend on them, except for how many boxes
reach NMS), and a stub annotation file gives the label list.  Routes
(--routes, ppdet_ghm.deploy.benchmark.ROUTES) run in rounds, one after the
other in each round (--rounds), so that a busier moment of the machine falls
on all of them; a figure is the median over rounds.  The timed image is a
synthetic one of --image_size unless --image_dir is given.  Prints a table
with each route's ratio to ONNX Runtime at the same thread count and writes
<output_dir>/deploy_latency.json.  --profile ROUTE then runs Paddle's own
profiler on that route (1 thread) and lets it print its op table.
"""
import argparse
import glob
import json
import os
import platform
import subprocess
import sys

import cv2
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))


def parse_args(argv=None):
    from ppdet_ghm.deploy.benchmark import ROUTES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--config', help='export this config first (twice)')
    source.add_argument('--model_dir', help='an export with NMS in the program '
                        '(tools/export_model.py)')
    parser.add_argument('--onnx_model_dir', default=None,
                        help='with --model_dir: the export without NMS '
                        '(tools/export_model.py --onnx)')
    parser.add_argument('--weights', default=None,
                        help='weights for --config (default: random init)')
    parser.add_argument('--routes', nargs='+', default=list(ROUTES),
                        choices=list(ROUTES), help='routes to time')
    parser.add_argument('--cpu_threads', type=int, nargs='+', default=[1, 2],
                        help='math threads (each route runs at each count)')
    parser.add_argument('--image_size', type=int, nargs=2, default=[800, 1333],
                        help='H W of the random image (without --image_dir)')
    parser.add_argument('--image_dir', default=None,
                        help='time on these images instead of a random one')
    parser.add_argument('--max_images', type=int, default=20,
                        help='images per timed pass')
    parser.add_argument('--rounds', type=int, default=3,
                        help='rounds over all routes')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed passes per route and round')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed passes per route and round')
    parser.add_argument('--profile', default=None, choices=[
        r for r in ROUTES if r.startswith('paddle')],
                        help="afterwards, run Paddle's profiler on this route "
                        '(1 thread) and print its op table')
    parser.add_argument('--output_dir', default='output/deploy_latency',
                        help='where the exports and the latency JSON go')
    return parser.parse_args(argv)


def export(config, weights, output_dir, onnx=False):
    """Export ``config`` (random weights when none are given; class names
    as export finds them without the dataset: COCO's for an 80-class COCO
    model, else a ``--label_list`` of placeholders); returns the model
    folder and the weights used."""
    import paddle

    from ppdet_ghm.engine import create_model, load_config
    cfg = load_config(config)
    os.makedirs(output_dir, exist_ok=True)
    flags = ['--onnx'] if onnx else []
    if not (cfg.num_classes == 80 and cfg.get('metric') == 'COCO'):
        names = os.path.join(output_dir, 'label_list.txt')
        with open(names, 'w') as f:
            f.write(''.join('class{}\n'.format(i) for i in range(cfg.num_classes)))
        flags += ['--label_list', names]
    if weights is None:
        paddle.seed(0)
        weights = os.path.join(output_dir, 'random_weights.pdparams')
        paddle.save(create_model(cfg).state_dict(), weights)
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'export_model.py'),
                    '-c', config, '--output_dir', output_dir, '-o',
                    'weights=' + weights, 'TestDataset.dataset_dir=',
                    'TestDataset.anno_path='] + flags, check=True, cwd=ROOT)
    return (os.path.join(output_dir, os.path.splitext(os.path.basename(config))[0]),
            weights)


def images_to_time(args):
    if args.image_dir:
        return sorted(glob.glob(os.path.join(args.image_dir, '*.jpg')))[:args.max_images]
    height, width = args.image_size
    path = os.path.join(args.output_dir, 'synthetic_{}x{}.jpg'.format(height, width))
    rng = np.random.default_rng(0)
    cv2.imwrite(path, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    return [path]


def machine(threads):
    import paddle
    versions = 'paddle ' + paddle.__version__
    try:
        versions += ', onnxruntime ' + __import__('onnxruntime').__version__
    except ImportError:
        pass
    return '{}, {} cores, {}; math threads {}'.format(
        platform.processor() or platform.machine(), os.cpu_count(), versions,
        '/'.join(str(t) for t in threads))


def table(rows):
    """Markdown rows with each route's ratio to ONNX Runtime (same threads)."""
    onnx = {r['threads']: r for r in rows if r['route'] == 'onnxruntime'}
    lines = ['| threads | route | preprocess ms | inference ms | postprocess ms | '
             'total ms | total / ONNX Runtime | inference / ONNX Runtime |',
             '|---:|---|---:|---:|---:|---:|---:|---:|']
    for row in rows:
        ref = onnx.get(row['threads'])
        ratio = (lambda a, b: '{:.2f}x'.format(a / b)) if ref else (lambda a, b: '')
        lines.append('| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {} | {} |'.format(
            row['threads'], row['route'], row['ms']['preprocess'],
            row['ms']['inference'], row['ms']['postprocess'], row['total_ms'],
            ratio(row['total_ms'], ref['total_ms']) if ref else '',
            ratio(row['ms']['inference'], ref['ms']['inference']) if ref else ''))
    return '\n'.join(lines)


def profile(route, model_dirs, images, output_dir):
    """Paddle's own profiler on ``route`` (1 thread, 5 passes): it prints
    its op table when the predictor is destroyed."""
    from ppdet_ghm.deploy.benchmark import route_predictor
    images = [os.path.abspath(p) for p in images]
    model_dirs = {k: v and os.path.abspath(v) for k, v in model_dirs.items()}
    here = os.getcwd()
    os.chdir(output_dir)        # Paddle's profiler also writes profile.log here
    try:
        predictor = route_predictor(route, model_dirs, 1, profile=True)
        for _ in range(5):
            for image in images:
                predictor.predict([image])
        del predictor
        sys.stdout.flush()
    finally:
        os.chdir(here)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    if args.config:
        weights = args.weights
        model_dirs = {}
        for name, onnx in (('with_nms', False), ('without_nms', True)):
            model_dirs[name], weights = export(
                args.config, weights, os.path.join(args.output_dir, name), onnx)
    else:
        model_dirs = {'with_nms': args.model_dir, 'without_nms': args.onnx_model_dir}
    from ppdet_ghm.deploy import DeployError
    from ppdet_ghm.deploy.benchmark import ROUTES, time_routes
    images = images_to_time(args)
    try:
        rows = time_routes(args.routes, args.cpu_threads, model_dirs, images,
                           args.rounds, args.warmup, args.repeats,
                           progress=lambda line: print(line, flush=True))
    except DeployError as err:
        sys.exit('error: {}'.format(err))
    about = '{} image(s) of {}, {} round(s) x ({} warm-up + {} timed passes)'.format(
        len(images), args.image_dir or 'size {}x{}'.format(*args.image_size),
        args.rounds, args.warmup, args.repeats)
    print('\n{}\n{}\nmachine: {}'.format(about, table(rows), machine(args.cpu_threads)))
    for route in args.routes:
        print('  {}: {}'.format(route, ROUTES[route][1]))
    with open(os.path.join(args.output_dir, 'deploy_latency.json'), 'w') as f:
        json.dump({'model_dirs': model_dirs, 'images': about, 'rows': rows,
                   'machine': machine(args.cpu_threads), 'args': vars(args)},
                  f, indent=1)
    if args.profile:
        profile(args.profile, model_dirs, images, args.output_dir)


if __name__ == '__main__':
    main()
