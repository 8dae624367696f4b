"""A run's config and device, as every tool sets them up.

``load_config`` is PaddleDetection's ``load_config`` + ``merge_config`` of
the ``-o`` options, followed by the checks ppdet does not do (module keys);
``select_device`` picks the device from ``use_gpu`` and gives each process
its share of the CPU cores.
"""
import contextlib
import copy
import os
import sys

import yaml

from ..compat import set_cpu_threads
from ..utils import ConfigError, check_module_keys, check_top_level

__all__ = ['load_config', 'select_device', 'cpu_threads_per_process',
           'isolated_workspace']


def _read_config(path):
    """ppdet's ``load_config`` with its file errors as :class:`ConfigError`
    (a YAML syntax error, a ``_BASE_`` entry that is not there, a file that
    is not a mapping), naming the file."""
    from ppdet.core.workspace import load_config as ppdet_load_config
    try:
        return ppdet_load_config(path)
    except yaml.YAMLError as err:
        raise ConfigError('{}: not valid YAML: {}'.format(
            path, ' '.join(str(err).split()))) from err
    except (FileNotFoundError, IsADirectoryError) as err:
        raise ConfigError("{}: _BASE_ entry '{}' is not a file (a _BASE_ "
                          "path is relative to the config that names it)"
                          .format(path, err.filename)) from err
    except (TypeError, AttributeError) as err:
        raise ConfigError('{}: expected a YAML mapping of keys to values in it '
                          'and in each _BASE_ file ({})'.format(path, err)) from err


def load_config(path, options=None, stream=None, **extra):
    """The config at ``path`` with ``options`` (``-o`` key=value, a dict)
    and then ``extra`` merged over it; ``cfg['_config_path']`` is ``path``.
    Warnings (a top-level key nobody reads) go to ``stream`` (stderr).

    Raises:
        ConfigError: no file at ``path`` or not valid YAML; a module block
            with a key its module does not take, or a top-level key that is
            a near miss of a known one (named, with the closest valid key);
            a value ppdet would misuse (``utils.config.check_top_level``).
    """
    from ppdet.core.workspace import merge_config
    from ppdet.utils.check import check_config

    if not os.path.isfile(path):
        raise ConfigError("config: no file at '{}'".format(path))
    cfg = _read_config(path)
    merge_config(options or {})
    merge_config(extra)
    check_config(cfg)
    check_module_keys(cfg, path)
    for message in check_top_level(cfg, path):
        print('warning: ' + message, file=stream or sys.stderr)
    cfg['_config_path'] = path
    return cfg


def _environment_at_start(name):
    """``name`` in the environment this process was started with, or None.

    Paddle overwrites ``os.environ['OMP_NUM_THREADS']`` (with '1' when it is
    unset) as it is imported, so ``os.environ`` cannot tell whether the user
    set it; Linux keeps the start-up environment in ``/proc/self/environ``.
    Elsewhere, ``os.environ`` (read before paddle is imported, or as Paddle
    left it).
    """
    try:
        with open('/proc/self/environ', 'rb') as f:
            entries = f.read().split(b'\0')
    except OSError:
        return os.environ.get(name)
    prefix = name.encode() + b'='
    for entry in entries:
        if entry.startswith(prefix):
            return entry[len(prefix):].decode(errors='replace')
    return None


def cpu_threads_per_process():
    """CPU threads for one process: ``OMP_NUM_THREADS`` when the process was
    started with it (a parent that imported paddle passes on its '1'), else
    the machine's cores shared among the ``PADDLE_TRAINERS_NUM`` processes
    of a launch."""
    asked = _environment_at_start('OMP_NUM_THREADS')
    try:
        return max(1, int(asked))
    except (TypeError, ValueError):
        pass
    processes = int(os.environ.get('PADDLE_TRAINERS_NUM', '1') or 1)
    return max(1, (os.cpu_count() or 1) // processes)


def select_device(cfg, stream=None):
    """Set Paddle's device from ``cfg.use_gpu`` (falling back to the CPU,
    with a note on ``stream``, when this Paddle has no CUDA) and the CPU
    threads from :func:`cpu_threads_per_process`; returns the device name."""
    import paddle
    from ppdet.utils.check import check_gpu

    use_gpu = cfg.get('use_gpu', False) and paddle.is_compiled_with_cuda()
    if cfg.get('use_gpu', False) and not use_gpu:
        print('use_gpu is true but this paddle has no CUDA: running on CPU',
              file=stream or sys.stderr)
        cfg['use_gpu'] = False
    check_gpu(cfg.use_gpu)
    device = 'gpu' if use_gpu else 'cpu'
    paddle.set_device(device)
    set_cpu_threads(cpu_threads_per_process())
    return device


@contextlib.contextmanager
def isolated_workspace():
    """Undo, when the block ends, what ``load_config``/``merge_config`` did
    to ppdet's process-wide config inside it (ppdet merges every config it
    loads into one global dict: a second config would inherit the first's
    blocks).  Modules registered inside the block stay registered."""
    from ppdet.core.workspace import global_config

    from ..compat import is_module_schema
    snapshot = {k: copy.deepcopy(dict(v)) if isinstance(v, dict) else
                copy.deepcopy(v) for k, v in global_config.items()}
    try:
        yield
    finally:
        for key in list(global_config):
            if key not in snapshot:
                if not is_module_schema(global_config[key]):
                    del global_config[key]
            elif isinstance(global_config[key], dict):
                global_config[key].clear()
                global_config[key].update(copy.deepcopy(snapshot[key]))
            else:
                global_config[key] = snapshot[key]
