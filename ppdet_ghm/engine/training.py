"""Training with PaddleDetection's ``Trainer`` plus what this project adds:
dataset checks before ppdet reads them, a non-finite-loss guard, per-rank
loss logs, atomic checkpoints, signal handling and an exact resume.

``tools/train.py`` is a thin command line over :func:`train`; a notebook or
another tool that trains from Python calls :func:`train` and gets the same
behaviour.  Problems are raised, not printed: :class:`ConfigError`,
:class:`~ppdet_ghm.utils.WeightsError`, :class:`~ppdet_ghm.data.DatasetError`,
:class:`NonFiniteLossError` and :class:`TrainingInterrupted`; the tools turn
them into one-line errors and exit codes.
"""
import contextlib
import os
import sys
from dataclasses import dataclass, field

from ..compat import reader_errors_propagated, restart_train_loader
from ..data import (DatasetError, check_dataset_config,
                    describe_pipeline_failure)
from ..utils import (ConfigError, WeightsError, check_resume_checkpoint,
                     check_weights_cover_model, resolve_pretrain_weights,
                     resolve_weights_path)
from ..modeling.checks import check_detector, dry_run
from ..utils.paths import prepare_output_dir
from .callbacks import EvalRecordWriter, RankLossLogger
from .checkpoints import (atomic_checkpoints, check_writable,
                          latest_checkpoint)
from .nonfinite_guard import NonFiniteLossError, NonFiniteLossGuard
from .run_lock import save_dir_lock
from .signals import (PendingSignalCheck, TrainingInterrupted,
                      interrupting_signals, raise_pending_interrupt)

__all__ = ['TrainResult', 'check_datasets', 'create_model', 'create_trainer',
           'create_trainer_with_weights', 'train', 'data_order_epoch',
           'reader_errors_raised']

# Paddle's DistributedBatchSampler shuffles epoch e with RandomState(e): the
# data order depends on the epoch alone.  With a seed, epoch e shuffles as
# epoch seed * SEED_EPOCH_STRIDE + e of the sampler, so another seed gives
# another order while seed 0 keeps the unseeded order.
SEED_EPOCH_STRIDE = 100003


def data_order_epoch(seed, epoch):
    """The sampler epoch whose shuffle training epoch ``epoch`` uses with
    random seed ``seed`` (None: the epoch itself)."""
    return epoch if seed is None else int(seed) * SEED_EPOCH_STRIDE + epoch


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes:
        save_dir (str): where the checkpoints are (``save_dir/filename``).
        skipped (list): ``(iteration, message)`` of steps skipped for a
            non-finite loss (``nonfinite_loss: skip``).
    """
    save_dir: str
    skipped: list = field(default_factory=list)


def check_datasets(cfg, *keys, stream=None):
    """Check the config's COCO datasets (``'TrainDataset'``, ...) before
    ppdet reads them; raise :class:`~ppdet_ghm.data.DatasetError` on a
    defect and print each warning to ``stream`` (default: ``sys.stderr``)."""
    for key in keys:
        report = check_dataset_config(cfg[key], key)
        if report is None:
            continue
        for message in report.warnings():
            print('warning: {}: {}'.format(key, message),
                  file=stream or sys.stderr)
        _check_class_count(cfg, key, report, stream or sys.stderr)


def _check_class_count(cfg, key, report, stream):
    """ppdet numbers a dataset's categories 0..K-1; with ``num_classes`` < K
    the highest ones fall outside the head's outputs without a word."""
    num_classes = cfg.get('num_classes')
    if not isinstance(num_classes, int):
        return
    where = "{}: '{}' has {} categories".format(
        key, report.categories_file or 'the default class list',
        report.num_categories)
    if num_classes < report.num_categories:
        raise DatasetError('{} but num_classes is {}: set num_classes: {} (the '
                           'classes beyond {} would be lost)'.format(
                               where, num_classes, report.num_categories,
                               num_classes))
    if num_classes > report.num_categories:
        print('warning: {}, num_classes is {}: the head has outputs no '
              'category trains'.format(where, num_classes), file=stream)


def reader_errors_raised():
    """A context within which a sample failing in the data pipeline raises
    :class:`~ppdet_ghm.data.DataPipelineError` naming the image instead of
    leaving the single-process loader waiting (``compat.
    reader_errors_propagated``).  :func:`train`, :func:`~.evaluation.evaluate`
    and :func:`~.evaluation.predict` run inside one; Paddle's loader is
    unchanged outside."""
    return reader_errors_propagated(describe_pipeline_failure)


def _refused(cfg, err):
    """``err`` from a module's constructor as a :class:`ConfigError` naming
    the config file."""
    return ConfigError('{}: {}'.format(cfg.get('_config_path', 'config'),
                                       err or repr(err)))


def create_trainer(cfg, mode):
    """PaddleDetection's ``Trainer`` for ``cfg`` in ``mode``.

    PaddleDetection's modules check their arguments with ``assert`` or
    ``ValueError`` in their constructors (wrong type, out of range, a
    head/loss combination that cannot train), and the built model is
    checked as a whole (:func:`_check_built_model`); either becomes a
    :class:`ConfigError` naming the config file.  (Its loaders start
    reading at construction: create it inside :func:`reader_errors_raised`
    for a failing sample to raise instead of hanging, as :func:`train` does.)
    """
    from ppdet.engine import Trainer
    try:
        trainer = Trainer(cfg, mode=mode)
        _check_built_model(trainer.model, cfg)
    except (ValueError, AssertionError) as err:
        raise _refused(cfg, err) from err
    return trainer


def create_model(cfg):
    """The config's architecture without a Trainer (no dataset needed);
    a refused config raises :class:`ConfigError` as in
    :func:`create_trainer`."""
    from ppdet.core.workspace import create
    try:
        model = create(cfg.architecture)
        _check_built_model(model, cfg)
    except (ValueError, AssertionError) as err:
        raise _refused(cfg, err) from err
    return model


def _check_built_model(model, cfg):
    """Module arguments against each other, then one blank image through
    the model (``modeling.checks``), so that a config only a Paddle op
    rejects ends here, naming keys or the layer, not at the first step."""
    check_detector(model, blocks=[k for k in cfg if isinstance(k, str)])
    dry_run(model)


def create_trainer_with_weights(cfg, mode):
    """PaddleDetection's Trainer in ``mode`` with ``cfg.weights`` loaded,
    after checking that they cover the model (ppdet's loader would keep the
    random init of missing parameters without a word) and, for ``'eval'``,
    the evaluation dataset.

    Raises:
        ConfigError, DatasetError, WeightsError.
    """
    if mode == 'eval':
        check_datasets(cfg, 'EvalDataset')
    trainer = create_trainer(cfg, mode)
    weights = check_weights_cover_model(trainer.model, cfg.get('weights'))
    trainer.load_weights(weights)
    return trainer


def train(cfg, evaluate=False, resume=None, seed=None, fleet=False):
    """Train the model ``cfg`` describes (a loaded ppdet config).

    Args:
        cfg (AttrDict): ``ppdet.core.workspace.load_config`` result, with
            ``-o`` options merged and the device set.
        evaluate (bool): evaluate after each snapshot epoch (``--eval``).
        resume (str or None): checkpoint to resume from (weights, optimizer
            state and epoch), with or without ``.pdparams``.
        seed (int or None): random seed: fixes the initialisation, the
            augmentation draws and the data order (which another seed
            changes, :func:`data_order_epoch`).
        fleet (bool): initialise fleet instead of plain data parallel.

    Returns:
        TrainResult

    Raises:
        ConfigError, WeightsError, DatasetError: before training starts.
        OutputError: ``save_dir`` or ``output_eval`` cannot be written, or
            another training holds ``save_dir`` (``RunLockError``; all
            before training starts), or a checkpoint or the loss log could
            not be written (disk full...): the previous checkpoints are
            intact.
        NonFiniteLossError: the guard stopped training; the message names
            the latest checkpoint.
        TrainingInterrupted: SIGTERM/SIGINT; ``latest_checkpoint``,
            ``epoch`` and ``step`` are set on it.
    """
    import paddle.distributed as dist
    from ppdet.engine import init_fleet_env, init_parallel_env, set_random_seed

    if seed is not None and (isinstance(seed, bool) or not isinstance(
            seed, int) or not 0 <= seed < 2**32):
        # numpy's and Paddle's generators take 0 .. 2**32 - 1
        raise ConfigError('--seed: expected an integer from 0 to {}, got '
                          '{!r}'.format(2**32 - 1, seed))
    if fleet:
        init_fleet_env(cfg.get('find_unused_parameters', False))
    elif dist.get_world_size() > 1:
        init_parallel_env()
    if seed is not None:
        set_random_seed(seed)

    resume = resolve_weights_path(resume) if resume else None
    pretrain = None if resume else resolve_pretrain_weights(
        cfg.get('pretrain_weights'))
    check_datasets(cfg, 'TrainDataset', *(['EvalDataset'] if evaluate else []))
    save_dir = os.path.join(cfg.get('save_dir', 'output'), cfg.filename)
    check_writable(save_dir)    # before hours of training, not after
    if evaluate and cfg.get('output_eval'):
        prepare_output_dir(cfg.output_eval, 'output_eval')
    # what this run changes in Paddle/ppdet and the process is undone after it
    with contextlib.ExitStack() as scope:
        # one training per folder, resumed or not (run_lock)
        scope.enter_context(save_dir_lock(save_dir, dist.get_rank()))
        scope.enter_context(reader_errors_raised())
        trainer = create_trainer(cfg, 'train')
        guard = _start(trainer, cfg, evaluate, resume, pretrain, seed)
        scope.enter_context(atomic_checkpoints())
        scope.enter_context(interrupting_signals())
        try:
            trainer.train(evaluate)
            raise_pending_interrupt()   # a signal held during the last step
        except AssertionError as err:
            if resume and 'Optimizer set error' in str(err):
                raise _optimizer_mismatch(resume, err) from err
            raise
        except NonFiniteLossError as err:
            raise NonFiniteLossError('{}; latest checkpoint: {}'.format(
                err, latest_checkpoint(save_dir) or 'none yet')) from err
        except TrainingInterrupted as err:
            err.latest_checkpoint = latest_checkpoint(save_dir)
            err.epoch, err.step = guard.epoch, guard.step
            raise
    return TrainResult(save_dir=save_dir, skipped=list(guard.skipped))


def _optimizer_mismatch(resume, err):
    """Paddle asserts at the first step after a resume (it creates the
    optimizer's accumulators then) when the checkpoint's optimizer state
    lacks one: the checkpoint was saved by another optimizer."""
    checkpoint = os.path.splitext(resume)[0]
    return WeightsError(
        "resume: the optimizer state '{}.pdopt' does not fit this config's "
        "optimizer ({}); nothing was updated: resume with the optimizer it "
        "was saved with, or start from its weights with -o pretrain_weights="
        "{}".format(checkpoint, str(err).strip().splitlines()[0], checkpoint))


def _check_steps_per_epoch(trainer, cfg):
    """ConfigError when an epoch would have no step (ppdet only warns, then
    saves an untrained model): fewer images per rank than one batch with
    ``drop_last``."""
    import paddle.distributed as dist
    if len(trainer.loader) >= 1:
        return
    reader = cfg.get('TrainReader', {})
    raise ConfigError(
        '{}: an epoch has no training step: {} image(s) over {} rank(s) with '
        'TrainReader.batch_size {} and drop_last {}; lower batch_size or set '
        'drop_last: false'.format(cfg.get('_config_path', 'config'),
                                  len(trainer.dataset), dist.get_world_size(),
                                  reader.get('batch_size'), reader.get('drop_last')))


def _continue_lr_schedule(trainer):
    """Put the resumed lr schedule at the start of ``trainer.start_epoch``.

    The checkpoint's scheduler counts optimizer steps; on another number of
    ranks an epoch has another number of steps, and ppdet's restored count
    would put the schedule (warmup, milestones, cosine) at the wrong epoch:
    8 ranks -> 2 ranks, 1 epoch done, would resume at a quarter of the first
    epoch.  Same topology: the counts agree and nothing changes."""
    scheduler = getattr(trainer, 'lr', None)
    if scheduler is None or not hasattr(scheduler, 'last_epoch'):
        return
    steps = trainer.start_epoch * len(trainer.loader)
    if scheduler.last_epoch == steps:
        return
    print('resume: the checkpoint counted {} lr steps; at epoch {} with {} '
          'steps an epoch here, the schedule continues from step {}'.format(
              scheduler.last_epoch, trainer.start_epoch, len(trainer.loader),
              steps), file=sys.stderr, flush=True)
    scheduler.last_epoch = steps - 1
    scheduler.step()        # last_epoch = steps, lr recomputed


def _start(trainer, cfg, evaluate, resume, pretrain, seed):
    """Callbacks, weights and data order of a new training; returns its
    :class:`NonFiniteLossGuard`."""
    import paddle.distributed as dist
    from ppdet.engine import set_random_seed
    try:
        guard = NonFiniteLossGuard(trainer, cfg.get('nonfinite_loss', 'stop'))
    except ValueError as err:
        raise _refused(cfg, err) from err
    _check_steps_per_epoch(trainer, cfg)
    callbacks = [RankLossLogger(trainer), guard, PendingSignalCheck(trainer)]
    if evaluate and dist.get_rank() == 0:   # only rank 0 evaluates
        callbacks.append(EvalRecordWriter(trainer))
    trainer.register_callbacks(callbacks)
    if resume:
        trainer.resume_weights(check_resume_checkpoint(trainer.model, resume))
        if trainer.start_epoch >= cfg.epoch:
            raise ConfigError(
                "{}: the checkpoint '{}' is at epoch {} and the config trains "
                "to epoch {}: nothing to train (to go on, raise epoch: -o "
                "epoch=N)".format(cfg.get('_config_path', 'config'), resume,
                                  trainer.start_epoch, cfg.epoch))
        _continue_lr_schedule(trainer)
        # The sampler shuffles with its epoch as seed: continue its count.
        # The loader's iterator already drew from it (it prefetches from
        # construction on), so a new iterator starts after set_epoch.
        restart_train_loader(trainer.loader,
                             data_order_epoch(seed, trainer.start_epoch))
    else:
        if pretrain:
            trainer.load_weights(pretrain)
        if seed is not None:
            # re-seeded once the first iterator's prefetch thread is joined:
            # its draws, as many as it got to, must not shift the rest
            restart_train_loader(trainer.loader, data_order_epoch(seed, 0),
                                 before_start=lambda: set_random_seed(seed))
    return guard
