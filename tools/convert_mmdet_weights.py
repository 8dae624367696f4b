"""Convert a published mmdetection GHM RetinaNet checkpoint to a .pdparams.

    python tools/convert_mmdet_weights.py SRC.pth DST.pdparams --config CONFIG
        [-o key=value ...] [-v]

Reads the ``torch.save`` file without PyTorch (zip or legacy format), maps
every tensor of its ``state_dict`` onto the model built from CONFIG (see
``ppdet_ghm/utils/mmdet_weights.py``), writes DST and checks it strictly
against that model, as ``tools/eval.py`` will.  Fails, listing them, if a
model key is not filled or a checkpoint tensor is not used (other than the
skipped ones it prints).  Then:

    python tools/eval.py -c CONFIG -o weights=DST
"""
import argparse
import os

from _common import ArgsParser, build_model, fail, load_tool_config

import paddle

from ppdet_ghm.compat import coco17_class_names, parse_cli_options
from ppdet_ghm.utils import WeightsError, check_weights_cover_model
from ppdet_ghm.utils.mmdet_weights import (compare_class_names,
                                           convert_mmdet_state_dict)
from ppdet_ghm.utils.torch_checkpoint import (TorchCheckpointError,
                                              load_state_dict)


def parse_args(argv=None):
    parser = ArgsParser()
    parser.description = __doc__
    parser.add_argument('src', help='mmdetection checkpoint (.pth)')
    parser.add_argument('dst', help='output .pdparams file')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='list every skipped checkpoint tensor')
    # ArgsParser.parse_args asserts on a missing --config: say it properly
    args = argparse.ArgumentParser.parse_args(parser, argv)
    if not args.config:
        parser.error('--config CONFIG is required (the config of the model '
                     'the weights are for)')
    args.opt = parse_cli_options(parser, args.opt)  # -o key=value -> dict
    return args


def check_class_names(meta, cfg):
    """A line about the checkpoint's class names vs the config's dataset."""
    classes = meta.get('CLASSES') if isinstance(meta, dict) else None
    if not isinstance(classes, (list, tuple)):
        return 'class names: the checkpoint has none (meta CLASSES); not checked'
    if cfg.get('metric') != 'COCO' or cfg.get('num_classes') != 80:
        return ('class names: {} in the checkpoint; not compared (the config '
                'is not COCO with 80 classes)'.format(len(classes)))
    problem = compare_class_names(classes, coco17_class_names())
    if problem:
        return 'WARNING class names: ' + problem
    return ("class names: the checkpoint's 80 meta CLASSES are PaddleDetection's "
            "COCO classes in the same order")


def main(argv=None):
    args = parse_args(argv)
    cfg = load_tool_config(args, use_gpu=False)  # conversion runs on the CPU
    model = build_model(cfg)
    model.eval()

    try:
        state, info = load_state_dict(args.src)
        result = convert_mmdet_state_dict(state, model)
    except (TorchCheckpointError, WeightsError) as err:
        fail('{}: {}'.format(args.src, err))
    print("read {} ({} torch format): {} tensors in its state_dict".format(
        args.src, info['format'], len(state)))
    for key, reason in info['skipped'].items():
        print("  top-level entry '{}' skipped: {}".format(key, reason))
    if result.prefix:
        print("  stripped the prefix '{}' from every key".format(result.prefix))
    print('converted {} tensors to the model of {} (conv weights keep their '
          'OIHW layout; BN running_mean/var -> _mean/_variance)'.format(
              len(result.pairs), args.config))

    by_reason = {}
    for key, reason in result.skipped.items():
        by_reason.setdefault(reason, []).append(key)
    print('skipped {} checkpoint tensors:'.format(len(result.skipped)))
    for reason, keys in by_reason.items():
        print('  {} x {}: {}'.format(len(keys), keys[0].rsplit('.', 1)[-1],
                                     reason))
        if args.verbose:
            for key in keys:
                print('    ' + key)
    print('filled {} model keys that the checkpoint does not have:'.format(
        len(result.filled)))
    for key, reason in result.filled.items():
        print('  {} {}: {}'.format(key, list(result.weights[key].shape),
                                   reason))
    print(check_class_names(info['meta'], cfg))

    dst = args.dst if args.dst.endswith('.pdparams') else args.dst + '.pdparams'
    if os.path.dirname(dst):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
    paddle.save({k: paddle.to_tensor(v) for k, v in result.weights.items()},
                dst)
    try:
        check_weights_cover_model(model, dst)
    except WeightsError as err:
        fail(err)
    print('wrote {} ({} keys); strict check against the model: ok'.format(
        dst, len(result.weights)))
    print('evaluate: python tools/eval.py -c {} -o weights={}'.format(
        args.config, dst))


if __name__ == '__main__':
    main()
