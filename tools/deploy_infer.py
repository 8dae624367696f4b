"""Run an exported detector with Paddle Inference or ONNX Runtime (no
PaddleDetection code).

    python tools/deploy_infer.py --model_dir output_inference/NAME \
        (--image_file X | --image_dir D) [--backend paddle|onnxruntime]
        [--device cpu|gpu] [--threshold T]
        [--output_dir OUT] [--batch_size N] [--cpu_threads N] [--disable_onednn]
        [--run_benchmark [--warmup 3 --repeats 10]]

Writes OUT/<image>.json (detections scoring >= T; T defaults to the export's
draw_threshold) and OUT/<image> (boxes drawn).  --run_benchmark times
preprocessing, inference and postprocessing separately after --warmup runs,
as ms per image.  See docs/deployment.md.
"""

from ppdet_ghm.data import DatasetError
from ppdet_ghm.data.infer_images import list_infer_images
from ppdet_ghm.deploy import BACKENDS, DeployError, create_predictor
from ppdet_ghm.deploy.benchmark import time_predictor
from ppdet_ghm.deploy.outputs import write_outputs
from ppdet_ghm.engine.cli import (ToolParser, fail, nonnegative_int, positive_int,
                                  unit_interval)
from ppdet_ghm.utils.paths import output_dir


def parse_args(argv=None):
    parser = ToolParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model_dir', required=True,
                        help='exported model folder (tools/export_model.py)')
    parser.add_argument('--image_file', help='one image')
    parser.add_argument('--image_dir', help='a folder of images')
    parser.add_argument('--backend', default='paddle', choices=BACKENDS,
                        help='Paddle Inference or ONNX Runtime (model.onnx)')
    parser.add_argument('--device', default='cpu', choices=['cpu', 'gpu'],
                        help='where Paddle Inference runs')
    parser.add_argument('--threshold', type=unit_interval, default=None,
                        help="lowest score drawn and written (default: infer_cfg.yml's "
                        'draw_threshold)')
    parser.add_argument('--output_dir', default='output_deploy', type=output_dir,
                        help='where drawn images and detections.json go')
    parser.add_argument('--batch_size', type=positive_int, default=1,
                        help='images per predictor call')
    parser.add_argument('--cpu_threads', type=positive_int, default=None,
                        help='math threads on the CPU (default: the runtime\'s)')
    parser.add_argument('--disable_onednn', action='store_true',
                        help='run Paddle Inference on the CPU without oneDNN '
                        '(the default uses it; docs/deployment.md)')
    parser.add_argument('--run_benchmark', action='store_true',
                        help='time preprocess / inference / postprocess per image')
    parser.add_argument('--warmup', type=nonnegative_int, default=3,
                        help='untimed runs before --run_benchmark times')
    parser.add_argument('--repeats', type=positive_int, default=10,
                        help='timed runs of --run_benchmark')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        images = list_infer_images(args.image_file, args.image_dir,
                                   flags=('--image_file', '--image_dir'))
        predictor = create_predictor(args.model_dir, args.backend, args.device,
                                     args.cpu_threads, not args.disable_onednn)
        if args.run_benchmark:
            print(time_predictor(predictor, images, args.batch_size, args.warmup,
                                 args.repeats))
            return
        threshold = predictor.config.draw_threshold if args.threshold is None \
            else args.threshold
        for dets in predictor.predict_batches(images, args.batch_size):
            json_path, _ = write_outputs(dets, predictor.config.label_list,
                                         threshold, args.output_dir)
            print('{}: {} detection(s) >= {} -> {}'.format(
                dets.image, int((dets.scores >= threshold).sum()), threshold,
                json_path))
    except (DatasetError, DeployError) as err:
        fail(err)


if __name__ == '__main__':
    main()
