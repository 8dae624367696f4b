"""What every tool does first: find the project, register its modules, load
the config with ``-o`` overrides, pick the device."""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
if ROOT not in sys.path:  # runnable from a checkout without pip install -e
    sys.path.insert(0, ROOT)

# Paddle's CPU kernels use one thread unless told otherwise: give each
# process its share of the cores (must happen before paddle is imported).
_procs = int(os.environ.get('PADDLE_TRAINERS_NUM', '1') or 1)
os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // _procs)))

import paddle  # noqa: E402
import ppdet_ghm  # noqa: E402,F401  (registers modules before configs load)
from ppdet.core.workspace import load_config, merge_config  # noqa: E402
from ppdet.utils.check import check_config, check_gpu  # noqa: E402
from ppdet.utils.cli import ArgsParser  # noqa: E402

from ppdet_ghm.data import DatasetError  # noqa: E402
from ppdet_ghm.utils import (ConfigError, WeightsError,  # noqa: E402
                             check_module_keys)

__all__ = ['ArgsParser', 'load_tool_config', 'fail', 'WeightsError',
           'make_trainer', 'build_model', 'trainer_with_weights',
           'check_datasets']


def fail(message):
    """Exit with a one-line error (no stack trace) on stderr."""
    sys.stderr.write('error: {}\n'.format(message))
    sys.exit(2)


def load_tool_config(args, **extra):
    """Load ``args.config``, merge ``-o`` options and ``extra``, set the
    device from ``use_gpu``; returns the config."""
    if not os.path.isfile(args.config):
        fail("config: no file at '{}'".format(args.config))
    cfg = load_config(args.config)
    merge_config(args.opt)
    merge_config(extra)
    check_config(cfg)
    try:
        check_module_keys(cfg, args.config)
    except ConfigError as err:
        fail(err)
    cfg['_config_path'] = args.config
    use_gpu = cfg.get('use_gpu', False) and paddle.is_compiled_with_cuda()
    if cfg.get('use_gpu', False) and not use_gpu:
        print('use_gpu is true but this paddle has no CUDA: running on CPU',
              file=sys.stderr)
        cfg['use_gpu'] = False
    check_gpu(cfg.use_gpu)
    paddle.set_device('gpu' if use_gpu else 'cpu')
    return cfg


def check_datasets(cfg, *keys):
    """Check the config's COCO datasets before ppdet reads them (see
    ``ppdet_ghm.engine.check_datasets``); exit with the problem on a defect."""
    from ppdet_ghm.engine import check_datasets as check
    try:
        check(cfg, *keys)
    except DatasetError as err:
        fail(err)


def make_trainer(cfg, mode):
    """PaddleDetection's Trainer (``ppdet_ghm.engine.create_trainer``); a
    module refusing its config ends the tool with that message."""
    from ppdet_ghm.engine import create_trainer
    try:
        return create_trainer(cfg, mode)
    except ConfigError as err:
        fail(err)


def build_model(cfg):
    """The config's model without a Trainer (no dataset needed); a refused
    config ends the tool as in :func:`make_trainer`."""
    from ppdet_ghm.engine import create_model
    try:
        return create_model(cfg)
    except ConfigError as err:
        fail(err)


def trainer_with_weights(cfg, mode):
    """PaddleDetection's Trainer in ``mode`` with ``cfg.weights`` loaded,
    after checking that they cover the model (ppdet's loader would keep the
    random init of missing parameters without a word)."""
    from ppdet_ghm.utils import check_weights_cover_model

    if mode == 'eval':
        check_datasets(cfg, 'EvalDataset')
    trainer = make_trainer(cfg, mode)
    try:
        weights = check_weights_cover_model(trainer.model, cfg.get('weights'))
    except WeightsError as err:
        fail(err)
    trainer.load_weights(weights)
    return trainer
