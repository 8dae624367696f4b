"""CPU latency of an exported detector under Paddle Inference or ONNX
Runtime: preprocess / inference / postprocess ms per image
(tools/deploy_infer.py's timing).

    python benchmarks/deploy_latency.py --config configs/ghm/retinanet_ghm_r50_fpn_1x_coco.yml \
        --image_size 800 1333 [--weights PATH] [--warmup 2] [--repeats 5]
    python benchmarks/deploy_latency.py --model_dir output_inference/retinanet_ghm_demo \
        --image_dir dataset/ghm_demo/val --max_images 20 [--backend onnxruntime]

With --config, the model is exported first (tools/export_model.py) into
--output_dir; without --weights its weights are random (latency does not
depend on them, except for how many boxes reach NMS), and a stub annotation
file gives the label list (the config's num_classes, COCO's names for 80).
With --backend onnxruntime the export is made with --onnx (no NMS in the
program: the runner's NMS is timed as postprocessing).
The timed image is a synthetic one of --image_size unless --image_dir is
given.  Prints one line per stage and writes <output_dir>/deploy_latency.json.
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--config', help='export this config first')
    source.add_argument('--model_dir', help='an exported model folder')
    parser.add_argument('--weights', default=None,
                        help='weights for --config (default: random init)')
    parser.add_argument('--backend', default='paddle',
                        choices=['paddle', 'onnxruntime'], help='runtime to time')
    parser.add_argument('--cpu_threads', type=int, default=1,
                        help='math threads of either backend (same for both, '
                        'so that their rows compare)')
    parser.add_argument('--image_size', type=int, nargs=2, default=[800, 1333],
                        help='H W of the random images (without --image_dir)')
    parser.add_argument('--image_dir', default=None,
                        help='time on these images instead of random ones')
    parser.add_argument('--max_images', type=int, default=20,
                        help='images per timed pass')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed passes first')
    parser.add_argument('--repeats', type=int, default=5,
                        help='timed passes')
    parser.add_argument('--output_dir', default='output/deploy_latency',
                        help='where the export and the latency JSON go')
    return parser.parse_args(argv)


def export(config, weights, output_dir, onnx=False):
    """Export ``config`` (random weights and a stub label list when none
    are given); returns the model folder."""
    import paddle

    from ppdet_ghm.compat import coco17_class_names
    from ppdet_ghm.engine import create_model, load_config
    cfg = load_config(config)
    names = coco17_class_names() if cfg.num_classes == 80 else [
        'class{}'.format(i) for i in range(cfg.num_classes)]
    stub = os.path.join(output_dir, 'labels.json')
    os.makedirs(output_dir, exist_ok=True)
    with open(stub, 'w') as f:
        json.dump({'images': [], 'annotations': [], 'categories': [
            {'id': i + 1, 'name': n} for i, n in enumerate(names)]}, f)
    if weights is None:
        paddle.seed(0)
        weights = os.path.join(output_dir, 'random_weights.pdparams')
        paddle.save(create_model(cfg).state_dict(), weights)
    subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'export_model.py'),
                    '-c', config, '--output_dir', output_dir, '-o',
                    'weights=' + weights, 'TestDataset.dataset_dir=',
                    'TestDataset.anno_path=' + stub] + (['--onnx'] if onnx else []),
                   check=True, cwd=ROOT)
    return os.path.join(output_dir, os.path.splitext(os.path.basename(config))[0])


def images_to_time(args):
    if args.image_dir:
        return sorted(glob.glob(os.path.join(args.image_dir, '*.jpg')))[:args.max_images]
    height, width = args.image_size
    path = os.path.join(args.output_dir, 'synthetic_{}x{}.jpg'.format(height, width))
    rng = np.random.default_rng(0)
    cv2.imwrite(path, rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    return [path]


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.output_dir, exist_ok=True)
    model_dir = args.model_dir or export(args.config, args.weights, args.output_dir,
                                         onnx=args.backend == 'onnxruntime')
    from ppdet_ghm.deploy import create_predictor
    from ppdet_ghm.deploy.benchmark import time_predictor
    predictor = create_predictor(model_dir, args.backend,
                                 cpu_threads=args.cpu_threads)
    line = time_predictor(predictor, images_to_time(args), 1, args.warmup,
                          args.repeats)
    versions = 'paddle ' + __import__('paddle').__version__
    if args.backend == 'onnxruntime':
        versions += ', onnxruntime ' + __import__('onnxruntime').__version__
    machine = '{}, {} cores, {}, {} math thread(s)'.format(
        platform.processor() or platform.machine(), os.cpu_count(), versions,
        args.cpu_threads)
    print('{} ({}): {}\nmachine: {}'.format(model_dir, args.backend, line, machine))
    with open(os.path.join(args.output_dir, 'deploy_latency.json'), 'w') as f:
        json.dump({'model_dir': model_dir, 'backend': args.backend, 'result': line, 'machine': machine,
                   'args': vars(args)}, f, indent=1)


if __name__ == '__main__':
    main()
