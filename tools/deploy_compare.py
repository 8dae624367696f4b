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
from ppdet_ghm.deploy import BACKENDS, DeployError
from ppdet_ghm.deploy.compare import (CLIENT, compare_deployments, deployment_runner,
                                      route_name)
from ppdet_ghm.engine.cli import ToolParser, fail, nonnegative_float, positive_int


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
    other_dir = args.other_model_dir or args.model_dir
    try:
        images = list_infer_images(None, args.image_dir,
                                   flags=('--image_file', '--image_dir'))[:args.max_images]
        other = deployment_runner(other_dir, args.other_backend, args.cpu_threads,
                                  not args.other_disable_onednn, args.paddledetection_dir)
        first = deployment_runner(args.model_dir, args.backend, args.cpu_threads,
                                  not args.disable_onednn)
        agreement = compare_deployments(images, first, other, args.batch_size,
                                        args.score_tol, args.box_tol)
    except (DatasetError, DeployError) as err:
        fail(err)
    print('{} ({}) vs {} ({}), batch {}: {}'.format(
        args.model_dir, route_name(args.backend, not args.disable_onednn), other_dir,
        route_name(args.other_backend, not args.other_disable_onednn),
        args.batch_size, agreement.summary()))
    for line in agreement.problems[:10]:
        print('  ' + line)
    sys.exit(1 if agreement.problems else 0)


if __name__ == '__main__':
    main()
