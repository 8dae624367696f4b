"""Check that two deployments of a detector give the same detections.

    python tools/deploy_compare.py --model_dir output_inference/NAME \
        --other_model_dir output_inference_onnx/NAME --other_backend onnxruntime \
        --image_dir D [--backend paddle] [--batch_size 4] [--max_images N]
        [--score_tol 1e-5] [--box_tol 1e-3]

Runs both on every image (in batches) and pairs their detections per image
(same count, same classes, scores within --score_tol, boxes within --box_tol
px; ppdet_ghm.deploy.compare).  Prints a summary; exits 1 when they disagree.
"""
import argparse
import sys

from ppdet_ghm.data import DatasetError
from ppdet_ghm.data.infer_images import list_infer_images
from ppdet_ghm.deploy import BACKENDS, DeployError, create_predictor
from ppdet_ghm.deploy.compare import compare_detections


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model_dir', required=True,
                        help='the first exported model folder')
    parser.add_argument('--backend', default='paddle', choices=BACKENDS,
                        help='runtime of the first model')
    parser.add_argument('--other_model_dir', required=True,
                        help='the exported model folder to compare with')
    parser.add_argument('--other_backend', default='paddle', choices=BACKENDS,
                        help='runtime of the other model')
    parser.add_argument('--image_dir', required=True,
                        help='images both models run on')
    parser.add_argument('--batch_size', type=int, default=1,
                        help='images per predictor call')
    parser.add_argument('--max_images', type=int, default=None,
                        help='compare on the first N images only')
    parser.add_argument('--score_tol', type=float, default=1e-5,
                        help='largest score difference that counts as equal')
    parser.add_argument('--box_tol', type=float, default=1e-3,
                        help='largest box coordinate difference (pixels) that '
                        'counts as equal')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        images = list_infer_images(None, args.image_dir,
                                   flags=('--image_file', '--image_dir'))
        images = images[:args.max_images]
        runs = [create_predictor(args.model_dir, args.backend),
                create_predictor(args.other_model_dir, args.other_backend)]
        reference, other = [], []
        for i in range(0, len(images), args.batch_size):
            reference += runs[0].predict(images[i:i + args.batch_size])
            other += runs[1].predict(images[i:i + args.batch_size])
    except (DatasetError, DeployError) as err:
        sys.stderr.write('error: {}\n'.format(err))
        sys.exit(2)
    agreement = compare_detections(reference, other, args.score_tol, args.box_tol)
    print('{} ({}) vs {} ({}), batch {}: {}'.format(
        args.model_dir, args.backend, args.other_model_dir, args.other_backend,
        args.batch_size, agreement.summary()))
    for line in agreement.problems[:10]:
        print('  ' + line)
    sys.exit(1 if agreement.problems else 0)


if __name__ == '__main__':
    main()
