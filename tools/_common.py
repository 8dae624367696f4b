"""What every tool does first: load the config with its ``-o`` options and
pick the device (``ppdet_ghm.engine.load_config``/``select_device``), and
end with a one-line ``error: ...`` (exit 2) when the package raises a
config, dataset or weights error."""
import sys

try:
    from ppdet_ghm import engine
    from ppdet_ghm.data import DatasetError
    from ppdet_ghm.engine.cli import ArgsParser, fail
    from ppdet_ghm.utils import ConfigError, WeightsError
except ModuleNotFoundError as err:  # the usual first-run slip: no install
    sys.exit('error: {} (install the project first: bash tools/setup_env.sh, '
             'or pip install -e . in an environment with paddlepaddle)'.format(err))

__all__ = ['ArgsParser', 'fail', 'load_tool_config', 'check_datasets',
           'make_trainer', 'create_model', 'trainer_with_weights',
           'WeightsError']

KNOWN_ERRORS = (ConfigError, DatasetError, WeightsError, engine.OutputError)


def _or_fail(function, *args, **kwargs):
    """``function(*args, **kwargs)``; a known error ends the tool."""
    try:
        return function(*args, **kwargs)
    except KNOWN_ERRORS as err:
        fail(err)


def load_tool_config(args, **extra):
    """The config ``args.config`` with ``args.opt`` and ``extra`` merged,
    on the device its ``use_gpu`` asks for."""
    cfg = _or_fail(engine.load_config, args.config, args.opt, **extra)
    engine.select_device(cfg)
    return cfg


def check_datasets(cfg, *keys):
    """``ppdet_ghm.engine.check_datasets``; a defect ends the tool."""
    _or_fail(engine.check_datasets, cfg, *keys)


def make_trainer(cfg, mode):
    """PaddleDetection's Trainer (``ppdet_ghm.engine.create_trainer``)."""
    return _or_fail(engine.create_trainer, cfg, mode)


def create_model(cfg):
    """The config's model without a Trainer (``engine.create_model``)."""
    return _or_fail(engine.create_model, cfg)


def trainer_with_weights(cfg, mode):
    """A Trainer with ``cfg.weights`` checked and loaded
    (``engine.create_trainer_with_weights``)."""
    return _or_fail(engine.create_trainer_with_weights, cfg, mode)
