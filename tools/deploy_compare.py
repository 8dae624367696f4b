"""Check that two deployments of a detector give the same detections.

    python tools/deploy_compare.py --model_dir output_inference/NAME \
        --other_model_dir output_inference_onnx/NAME --other_backend onnxruntime \
        --image_dir D [--backend paddle] [--batch_size 4] [--max_images N]
        [--score_tol 1e-5] [--box_tol 1e-3]
    python tools/deploy_compare.py --model_dir output_inference/NAME \
        --other_backend paddledetection --paddledetection_dir PaddleDetection \
        --image_dir D

Runs both on every image (in batches) and pairs their detections per image
(same count, same classes, scores within --score_tol, boxes within --box_tol
px; ppdet_ghm.deploy.compare).  Prints a summary; exits 1 when they disagree.
``--other_backend paddledetection`` runs PaddleDetection's own client
(deploy/python/infer.py of the checkout --paddledetection_dir) on --model_dir
itself, image by image (ppdet_ghm.deploy.ppdet_client).
"""
import sys

from ppdet_ghm.data import DatasetError
from ppdet_ghm.data.infer_images import list_infer_images
from ppdet_ghm.deploy import BACKENDS, DeployError, create_predictor
from ppdet_ghm.deploy.compare import compare_detections
from ppdet_ghm.deploy.ppdet_client import PaddleDetectionClient
from ppdet_ghm.engine.cli import ToolParser, nonnegative_float, positive_int

CLIENT = 'paddledetection'


def parse_args(argv=None):
    parser = ToolParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model_dir', required=True,
                        help='the first exported model folder')
    parser.add_argument('--backend', default='paddle', choices=BACKENDS,
                        help='runtime of the first model')
    parser.add_argument('--other_model_dir', default=None,
                        help='the exported model folder to compare with '
                        '(default: --model_dir)')
    parser.add_argument('--other_backend', default='paddle',
                        choices=BACKENDS + (CLIENT,),
                        help="runtime of the other model; 'paddledetection': "
                        "PaddleDetection's deploy/python/infer.py")
    parser.add_argument('--paddledetection_dir', default=None,
                        help='a PaddleDetection checkout (for --other_backend '
                        'paddledetection)')
    parser.add_argument('--cpu_threads', type=positive_int, default=1,
                        help='CPU math threads of both runtimes')
    parser.add_argument('--disable_onednn', action='store_true',
                        help='run the first model (Paddle Inference) without oneDNN')
    parser.add_argument('--other_disable_onednn', action='store_true',
                        help='run the other model (Paddle Inference) without oneDNN')
    parser.add_argument('--image_dir', required=True,
                        help='images both models run on')
    parser.add_argument('--batch_size', type=positive_int, default=1,
                        help='images per predictor call')
    parser.add_argument('--max_images', type=positive_int, default=None,
                        help='compare on the first N images only')
    parser.add_argument('--score_tol', type=nonnegative_float, default=1e-5,
                        help='largest score difference that counts as equal')
    parser.add_argument('--box_tol', type=nonnegative_float, default=1e-3,
                        help='largest box coordinate difference (pixels) that '
                        'counts as equal')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        images = list_infer_images(None, args.image_dir,
                                   flags=('--image_file', '--image_dir'))
        images = images[:args.max_images]
        other_dir = args.other_model_dir or args.model_dir
        if args.other_backend == CLIENT:
            if not args.paddledetection_dir:
                raise DeployError('--other_backend paddledetection needs '
                                  '--paddledetection_dir (a PaddleDetection checkout)')
            client = PaddleDetectionClient(other_dir, args.paddledetection_dir,
                                           args.cpu_threads)
        first = create_predictor(args.model_dir, args.backend,
                                 cpu_threads=args.cpu_threads,
                                 onednn=not args.disable_onednn)
        reference = []
        for i in range(0, len(images), args.batch_size):
            reference += first.predict(images[i:i + args.batch_size])
        if args.other_backend == CLIENT:
            other = client.predict(images)
        else:
            second = create_predictor(other_dir, args.other_backend,
                                      cpu_threads=args.cpu_threads,
                                      onednn=not args.other_disable_onednn)
            other = []
            for i in range(0, len(images), args.batch_size):
                other += second.predict(images[i:i + args.batch_size])
    except (DatasetError, DeployError) as err:
        sys.stderr.write('error: {}\n'.format(err))
        sys.exit(2)
    agreement = compare_detections(reference, other, args.score_tol, args.box_tol)
    def route(backend, no_onednn):
        return backend + (' without oneDNN' if backend == 'paddle' and no_onednn else '')
    print('{} ({}) vs {} ({}), batch {}: {}'.format(
        args.model_dir, route(args.backend, args.disable_onednn), other_dir,
        route(args.other_backend, args.other_disable_onednn),
        args.batch_size, agreement.summary()))
    for line in agreement.problems[:10]:
        print('  ' + line)
    sys.exit(1 if agreement.problems else 0)


if __name__ == '__main__':
    main()
