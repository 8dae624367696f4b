"""Config checks PaddleDetection does not make before building a model.

ppdet passes every key of a module's block to its constructor, so a typo
(``GHMCLoss: {bins: 30, momentm: 0.75}``) surfaces as a ``TypeError`` from
deep inside ``create``.  :func:`check_module_keys` names the block, the key
and the accepted options first.  At the top level ppdet reads the keys it
knows and ignores the rest, so ``epoc: 3`` silently trains the default
number of epochs: :func:`check_top_level` refuses a key that is not known
but close to one that is, warns about any other unknown key, and checks the
values ppdet would divide by or silently misuse.
"""
import difflib
import inspect
import numbers

from ..compat import is_module_schema, schema_module

__all__ = ['ConfigError', 'check_module_keys', 'check_top_level',
           'KNOWN_TOP_LEVEL_KEYS']

#: Top-level keys that PaddleDetection 2.6 (engine, tools, readers, export,
#: slim) or ppdet_ghm read, besides registered module blocks.  A key outside
#: this set is only refused when it is a near miss of one inside it.
KNOWN_TOP_LEVEL_KEYS = frozenset("""
    architecture pretrain_weights weights metric num_classes epoch
    snapshot_epoch log_iter save_dir use_gpu use_xpu use_mlu use_npu use_gcu
    print_flops print_params find_unused_parameters use_ema ema_decay
    ema_decay_type ema_filter_no_grad ema_black_list ema_start_iters
    use_simple_ema cycle_epoch amp amp_level init_loss_scaling
    custom_black_list custom_white_list use_vdl vdl_log_dir use_wandb wandb
    save_prediction_only output_eval classwise map_type IouType worker_num
    norm_type filename fleet to_static profiler_options export
    TrainReader EvalReader TestReader TrainDataset EvalDataset TestDataset
    EvalMOTDataset TestMOTDataset UnsupTrainDataset LearningRate
    OptimizerBuilder slim slim_type
    nonfinite_loss log_image_ids _config_path
""".split())


class ConfigError(ValueError):
    """A config that cannot build the model it describes."""


def _accepted_options(schema):
    """Constructor arguments of a registered module, or None when it takes
    ``**kwargs`` (then any key may be meant)."""
    cls = getattr(schema_module(schema), schema.name, None)
    if cls is None:
        return None
    params = inspect.signature(cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return None
    return sorted(n for n in params if n != 'self')


def check_module_keys(cfg, config_path='config'):
    """Every key set in a registered module's block is one of its options.

    Args:
        cfg (dict): ppdet's loaded global config.
        config_path (str): for the message.

    Raises:
        ConfigError: naming the config, block, key and accepted options.
    """
    for block, schema in cfg.items():
        if not is_module_schema(schema):
            continue
        accepted = _accepted_options(schema)
        if accepted is None:
            continue
        unknown = [k for k in schema if k not in accepted and k != 'name']
        if unknown:
            key = unknown[0]
            close = difflib.get_close_matches(key, accepted, n=1)
            raise ConfigError(
                "{}: {} has no option '{}'{} (accepted: {})".format(
                    config_path, block, key,
                    "; did you mean '{}'?".format(close[0]) if close else '',
                    ', '.join(accepted)))


def _near_miss(key, known):
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
    return close[0] if close else None


def _positive_int(cfg, key, config_path, separator=': '):
    value = cfg.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(
            value, numbers.Integral) or value < 1):
        raise ConfigError('{}{}{}: expected an integer >= 1, got {!r}'.format(
            config_path, separator, key, value))


def check_top_level(cfg, config_path='config'):
    """The config's top-level keys and the values ppdet does not check.

    Args:
        cfg (dict): ppdet's loaded global config (after ``-o`` options).
        config_path (str): for the messages.

    Returns:
        list[str]: warnings, one per unknown key that is not a near miss.

    Raises:
        ConfigError: a near miss of a known key or of a registered module
            (``epoc`` for ``epoch``, ``GHMCLos``), ``snapshot_epoch``,
            ``epoch`` or ``log_iter`` not an integer >= 1 (ppdet divides by
            ``snapshot_epoch``), ``num_classes`` or a reader's ``batch_size``
            not an integer >= 1, or a
            ``LearningRate.base_lr`` that is not a number > 0.
    """
    modules = {k for k, v in cfg.items() if is_module_schema(v)}
    known = KNOWN_TOP_LEVEL_KEYS | modules
    warnings = []
    for key in cfg:
        if key in known or not isinstance(key, str):
            continue
        close = _near_miss(key, known)
        if close:
            raise ConfigError("{}: unknown top-level key '{}'; did you mean "
                              "'{}'? (ppdet would ignore it)".format(
                                  config_path, key, close))
        warnings.append("{}: top-level key '{}' is not one PaddleDetection or "
                        "ppdet_ghm reads (ignored)".format(config_path, key))
    for key in ('snapshot_epoch', 'epoch', 'log_iter', 'num_classes'):
        _positive_int(cfg, key, config_path)
    # ppdet asserts on a reader's batch_size only when it builds that
    # reader: EvalReader's after the first training epoch
    for reader in ('TrainReader', 'EvalReader', 'TestReader'):
        block = cfg.get(reader)
        if hasattr(block, 'get'):
            _positive_int(block, 'batch_size', '{}: {}'.format(config_path, reader),
                          separator='.')
    lr = cfg.get('LearningRate')
    base_lr = lr.get('base_lr') if hasattr(lr, 'get') else None
    if base_lr is not None and (isinstance(base_lr, bool) or not isinstance(
            base_lr, numbers.Real) or not base_lr > 0):
        raise ConfigError('{}: LearningRate.base_lr: expected a number > 0, '
                          'got {!r}'.format(config_path, base_lr))
    warnings += _check_milestones(lr, cfg.get('epoch'), config_path)
    return warnings


def _check_milestones(lr, epoch, config_path):
    """``PiecewiseDecay.milestones``: increasing integers >= 1 (Paddle would
    build an lr that jumps back and forth without a word); a warning for
    each one the schedule never reaches."""
    schedulers = lr.get('schedulers') if hasattr(lr, 'get') else None
    warnings = []
    for scheduler in schedulers or []:
        milestones = getattr(scheduler, 'milestones', None)
        if milestones is None:
            continue
        name = type(scheduler).__name__
        if not isinstance(milestones, (list, tuple)) or not all(
                isinstance(m, numbers.Integral) and not isinstance(m, bool)
                and m >= 1 for m in milestones) or list(milestones) != sorted(
                    set(milestones)):
            raise ConfigError('{}: LearningRate {}.milestones: expected '
                              'increasing epoch numbers >= 1, got {!r}'.format(
                                  config_path, name, milestones))
        late = [m for m in milestones if isinstance(epoch, int) and m >= epoch]
        if late:
            warnings.append('{}: LearningRate {}.milestones {} are not before '
                            'the last epoch ({}): the lr never drops there'.format(
                                config_path, name, late, epoch))
    return warnings
