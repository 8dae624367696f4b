"""Every use of a non-public Paddle or PaddleDetection API, in one place.

Each shim says what it relies on; ``tests/test_compat.py`` exercises each
against the installed libraries, so an upgrade that breaks one fails there
by name instead of somewhere deep in training.  Verified with the versions
in :data:`VERIFIED` (``constraints.txt``); importing ``ppdet_ghm`` warns once
when the installed ones differ.
"""
import contextlib
import warnings

__all__ = ['VERIFIED', 'installed_versions', 'version_warnings',
           'check_versions', 'multiclass_nms', 'ppdet_save_model_wrapped',
           'wrap_optimizer_methods', 'restart_train_loader',
           'restart_loader_iterator',
           'parse_cli_options', 'coco17_class_names', 'schema_module',
           'is_module_schema', 'host_allocated_peak_mb',
           'request_ground_truth', 'set_cpu_threads', 'current_metric_results',
           'reader_errors_propagated', 'ast_to_static']

# distribution name -> the version every shim below was verified with
VERIFIED = {'paddlepaddle': '3.3.1', 'paddledet': '2.6.0'}


def installed_versions():
    """``{distribution: version or None}`` for :data:`VERIFIED`'s names
    (``paddlepaddle-gpu`` counts as ``paddlepaddle``)."""
    from importlib import metadata
    found = {}
    for name in VERIFIED:
        version = None
        for dist in (name, name + '-gpu') if name == 'paddlepaddle' else (name,):
            try:
                version = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        found[name] = version
    return found


def version_warnings(installed):
    """One message per distribution whose version is not the verified one."""
    return ['{} {} is installed; ppdet_ghm was verified with {} {} (the '
            'private APIs it uses are listed in ppdet_ghm/compat.py; run '
            'tests/test_compat.py to check them)'.format(
                name, installed.get(name) or '(unknown)', name, want)
            for name, want in VERIFIED.items()
            if installed.get(name) != want]


def check_versions():
    """Warn (``UserWarning``) about every version outside :data:`VERIFIED`."""
    for message in version_warnings(installed_versions()):
        warnings.warn(message, stacklevel=2)


# ------------------------------------------------------------- paddle ops ----
#: multiclass_nms3's nms_top_k meaning "every candidate" (more than any image has)
NMS_TOP_K_ALL = 1 << 20


def set_cpu_threads(num_threads):
    """Use ``num_threads`` threads in Paddle's CPU kernels (oneDNN/MKL/OpenMP).

    Relies on ``paddle.base.core.set_num_threads`` (the runtime counterpart
    of ``OMP_NUM_THREADS``, which Paddle only reads at import and resets to 1
    when unset; verified in 3.3.1).  Calling it after import needs no
    import-order care.
    """
    from paddle.base import core
    core.set_num_threads(int(num_threads))



def multiclass_nms(boxes, scores, *, score_threshold, nms_threshold, keep_top_k):
    """Class-wise NMS with Paddle's C++ ``multiclass_nms3`` kernel.

    Relies on ``paddle._C_ops.multiclass_nms3(bboxes, scores, rois_num,
    score_threshold, nms_top_k, keep_top_k, nms_threshold, normalized,
    nms_eta, background_label)``: ten positional arguments, Paddle 2.5-3.3.
    It runs in dygraph and in the static (PIR) graph, so an exported model
    keeps the post-processing (``paddle.vision.ops.nms`` is per class and
    not exportable as one op).

    Args:
        boxes (Tensor): ``[N, M, 4]`` x1y1x2y2 in pixels.
        scores (Tensor): ``[N, C, M]`` class probabilities.

    Returns:
        tuple: ``(bbox [K, 6] (class, score, x1, y1, x2, y2), keep [K, 1],
        bbox_num [N])``.
    """
    import paddle
    # nms_top_k: all candidates -- the kernel keeps all when it is -1 or
    # larger than their count; not -1, because paddle2onnx 2.1 passes it on
    # as NonMaxSuppression's max_output_boxes_per_class, where -1 selects
    # nothing.  normalized: no +1 in widths; nms_eta 1; background_label -1:
    # none (sigmoid classes)
    return paddle._C_ops.multiclass_nms3(
        boxes, scores, None, score_threshold, NMS_TOP_K_ALL, keep_top_k,
        nms_threshold, True, 1.0, -1)


def host_allocated_peak_mb():
    """Peak bytes Paddle's CPU allocator handed out in this process (MB).

    Relies on ``paddle.base.core.host_memory_stat_peak_value('Allocated',
    0)`` (Paddle 2.6-3.3; no public API reports the host allocator's peak).
    """
    from paddle.base import core
    return core.host_memory_stat_peak_value('Allocated', 0) / 2**20


def wrap_optimizer_methods(optimizer, wrapper):
    """Replace ``optimizer.step`` and ``optimizer.minimize`` on this instance
    by ``wrapper(original)``.

    Relies on PaddleDetection's ``Trainer`` calling ``optimizer.step()``
    (or ``minimize`` under AMP) as bound attributes looked up at each call
    (ppdet 2.6 ``engine/trainer.py``)."""
    for name in ('step', 'minimize'):
        setattr(optimizer, name, wrapper(getattr(optimizer, name)))


# ------------------------------------------------------ PaddleDetection ----
@contextlib.contextmanager
def ppdet_save_model_wrapped(wrapper):
    """Within the block, PaddleDetection's checkpoint saving goes through
    ``wrapper(save_model)``; the original is back afterwards (also after an
    error).  Nested blocks wrap once.

    Relies on ``ppdet.engine.callbacks.Checkpointer`` calling the module-level
    name ``save_model`` of ``ppdet.engine.callbacks`` (ppdet 2.6), which is
    therefore the one to replace."""
    import ppdet.engine.callbacks as callbacks
    original = callbacks.save_model
    if not getattr(original, '_ppdet_ghm_wrapped', False):
        callbacks.save_model = wrapper(original)
        callbacks.save_model._ppdet_ghm_wrapped = True
    try:
        yield callbacks.save_model
    finally:
        callbacks.save_model = original


def restart_train_loader(loader, epoch, before_start=None):
    """Make a training loader's sampler shuffle as in ``epoch`` and start a
    new iterator (for an exact resume, or a seeded data order).

    The iterator ppdet made at construction has been prefetching in a
    thread (drawing augmentation randomness from numpy's global state); it
    is shut down first, then ``before_start()`` runs (e.g. to re-seed), then
    the new iterator starts.

    Relies on ppdet 2.6's ``BaseDataLoader`` keeping its sampler in
    ``_batch_sampler`` (a ``DistributedBatchSampler`` with ``set_epoch``),
    its ``paddle.io.DataLoader`` in ``dataloader`` and the iterator it
    prefetches from in ``loader``; and on Paddle 3.3's loader iterators'
    ``_try_shutdown_all`` (stops and joins the prefetch thread).

    Returns:
        bool: whether the sampler could be set (False: a sampler without
        ``set_epoch``; nothing changed).
    """
    sampler = getattr(loader, '_batch_sampler', None)
    if not hasattr(sampler, 'set_epoch'):
        return False
    def set_epoch_then(before=before_start):
        sampler.set_epoch(epoch)
        if before is not None:
            before()
    restart_loader_iterator(loader, before_start=set_epoch_then)
    return True


def restart_loader_iterator(loader, before_start=None):
    """Shut down the iterator a ppdet loader prefetches from (it started at
    the loader's construction), run ``before_start()``, start a new one.

    Relies on ppdet 2.6's ``BaseDataLoader`` keeping its
    ``paddle.io.DataLoader`` in ``dataloader`` and the iterator in
    ``loader``, and on Paddle 3.3's iterators' ``_try_shutdown_all``."""
    shutdown = getattr(getattr(loader, 'loader', None), '_try_shutdown_all',
                       None)
    if shutdown is not None:
        shutdown()
    if before_start is not None:
        before_start()
    loader.loader = iter(loader.dataloader)


def parse_cli_options(parser, options):
    """``-o key=value`` strings as the nested dict ``merge_config`` takes.

    Relies on ``ppdet.utils.cli.ArgsParser._parse_opt`` (ppdet 2.6)."""
    return parser._parse_opt(options)


def coco17_class_names():
    """The 80 COCO class names in class-id order (ascending category id, as
    PaddleDetection's COCODataSet and mmdetection's CocoDataset number them).

    Relies on ``ppdet.data.source.category._coco17_category`` (ppdet 2.6)
    returning ``(clsid2catid, catid2name)``."""
    from ppdet.data.source.category import _coco17_category
    clsid2catid, catid2name = _coco17_category()
    return [catid2name[clsid2catid[i]] for i in range(len(clsid2catid))]


def is_module_schema(value):
    """Whether a workspace entry describes a registered module.

    Relies on ``ppdet.core.config.schema.SchemaDict`` and its ``pymodule``
    attribute (ppdet 2.6)."""
    from ppdet.core.config.schema import SchemaDict
    return isinstance(value, SchemaDict) and bool(
        getattr(value, 'pymodule', None))


def schema_module(schema):
    """The Python module a workspace schema was registered from, or None
    (``SchemaDict.pymodule``, ppdet 2.6)."""
    return getattr(schema, 'pymodule', None)


def request_ground_truth(dataset, fields=('image', 'gt_bbox', 'gt_class',
                                          'is_crowd')):
    """Make a ppdet ``COCODataSet`` built for evaluation also load boxes and
    classes.

    Relies on ``COCODataSet.parse_dataset`` reading ``self.data_fields``
    (ppdet 2.6); must run before the dataset is parsed."""
    dataset.data_fields = list(fields)
    return dataset


def current_metric_results(trainer):
    """Each evaluation metric's ``get_results()`` now (a list of dicts, e.g.
    ``[{'bbox': [AP, AP50, ...]}]``; ``{}`` for a metric that computed
    nothing).  Valid between a metric's ``accumulate()`` and the trainer's
    reset: in a callback's ``on_epoch_end`` of an evaluation.

    Relies on ``Trainer._metrics`` (ppdet 2.6: built by ``_init_metrics``,
    for in-training evaluation at the first one)."""
    return [dict(metric.get_results() or {})
            for metric in getattr(trainer, '_metrics', None) or []]


@contextlib.contextmanager
def reader_errors_propagated(describe):
    """Within the block, an error in the single-process data loader's reader
    thread ends the main process's wait with that error (``describe(dataset,
    indices, err)`` builds the exception to raise) instead of leaving it
    waiting; the loader class is restored afterwards (also after an error).

    Relies on ``paddle.io.dataloader.dataloader_iter.
    _DataLoaderIterSingleProcess`` (Paddle 3.3.1): its ``_thread_loop``
    catches only ``StopIteration`` around ``_dataset_fetcher.fetch``, so any
    other exception (a transform failing on a sample) ends the thread with
    the blocking queue open and ``__next__`` blocked on it for ever; its
    ``_exit_thread_unexpectedly`` kills the queue, which wakes ``__next__``.
    The reader thread binds ``_thread_loop`` when an iterator starts, so an
    iterator started inside the block keeps the behaviour for its life.
    Nested blocks patch once.  The multi-process loader reports its workers'
    errors itself.
    """
    from paddle.io.dataloader import dataloader_iter
    cls = dataloader_iter._DataLoaderIterSingleProcess
    if '_ppdet_ghm_describe' in cls.__dict__:        # an outer block patched
        yield
        return
    thread_loop, next_batch = cls._thread_loop, cls.__next__

    def _thread_loop(self, *args, **kwargs):
        fetcher = self._dataset_fetcher
        fetch = fetcher.fetch

        def checked_fetch(indices, *fetch_args, **fetch_kwargs):
            try:
                return fetch(indices, *fetch_args, **fetch_kwargs)
            except Exception as err:
                raise describe(self._dataset, indices, err) from err
        fetcher.fetch = checked_fetch
        try:
            thread_loop(self, *args, **kwargs)
        except Exception as err:      # the main thread raises it (__next__)
            self._ppdet_ghm_reader_error = err
            self._exit_thread_unexpectedly()

    def __next__(self):
        try:
            return next_batch(self)
        except BaseException:
            error = getattr(self, '_ppdet_ghm_reader_error', None)
            if error is not None:
                raise error from None
            raise

    cls._thread_loop, cls.__next__ = _thread_loop, __next__
    cls._ppdet_ghm_describe = describe
    try:
        yield
    finally:
        cls._thread_loop, cls.__next__ = thread_loop, next_batch
        del cls._ppdet_ghm_describe


def ast_to_static():
    """A context in which ``paddle.jit.to_static`` uses the AST converter.

    PaddleDetection 2.6 exports through the AST converter (it reads the
    traced program); Paddle 3 defaults to the SOT converter, which has no
    program to read.  Relies on ``paddle.jit.api.sot_mode_guard`` (Paddle
    3.3.1: it sets ``ENABLE_FALL_BACK``, which ``to_static`` reads at call
    time) -- scoped, instead of an environment variable set for the process.
    """
    from paddle.jit.api import sot_mode_guard
    return sot_mode_guard(False)
