"""Export a trained detector to a Paddle Inference model (and ONNX).

    python tools/export_model.py -c CONFIG -o weights=PATH --output_dir output_inference
        [--exclude_nms] [--onnx [--opset 11]] [--label_list FILE]

The class names in infer_cfg.yml come from the config's TestDataset
annotation file when it exists, else from --label_list (one name per line),
else, for an 80-class COCO model, COCO's names; the tool says which.

--exclude_nms ends the program before NMS (infer_cfg.yml then holds the NMS
settings the runner applies); --onnx implies it and also writes model.onnx
with paddle2onnx (pip install -c constraints.txt -e ".[deploy]").  See docs/deployment.md.
"""
from _common import ArgsParser, fail, load_tool_config, trainer_with_weights

from ppdet_ghm.deploy import DeployError
from ppdet_ghm.deploy.onnx_export import export_onnx
from ppdet_ghm.engine import export_model
from ppdet_ghm.engine.cli import positive_int
from ppdet_ghm.utils import ConfigError
from ppdet_ghm.utils.paths import output_dir


def parse_args(argv=None):
    parser = ArgsParser()
    parser.add_argument('--output_dir', default='output_inference', type=output_dir,
                        help='where the inference model is written')
    parser.add_argument('--exclude_nms', action='store_true',
                        help='export the candidates before NMS')
    parser.add_argument('--onnx', action='store_true',
                        help='also write model.onnx (implies --exclude_nms)')
    parser.add_argument('--opset', type=positive_int, default=11, help='ONNX opset')
    parser.add_argument('--label_list', default=None,
                        help='class names, one per line, when the config\'s '
                        'TestDataset annotation file is not on this machine')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args)
    trainer = trainer_with_weights(cfg, 'test')
    try:
        path, source = export_model(trainer, args.output_dir,
                                    exclude_nms=args.exclude_nms or args.onnx,
                                    label_list=args.label_list, for_onnx=args.onnx)
        onnx_file = export_onnx(path, args.opset) if args.onnx else None
    except (ConfigError, DeployError) as err:
        fail(err)
    print('class names from {}'.format(source))
    print('exported {}{} (run it: python tools/deploy_infer.py --model_dir {} '
          '--image_file IMAGE{})'.format(
              path, ' and ' + onnx_file if onnx_file else '', path,
              ' --backend onnxruntime' if onnx_file else ''))


if __name__ == '__main__':
    main()
