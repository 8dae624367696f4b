"""Loading weights without silent surprises.

PaddleDetection's ``load_weight`` / ``load_pretrain_weight`` are non-strict:
a parameter missing from the file silently keeps its random initialisation.
Evaluating, predicting with or exporting such a model gives garbage without a
word; :func:`check_weights_cover_model` refuses it first.
"""
import os

import numpy as np
import paddle

__all__ = ['WeightsError', 'resolve_weights_path', 'check_weights_cover_model',
           'check_resume_checkpoint', 'load_state_dict',
           'resolve_pretrain_weights', 'first_nonfinite']

_SHOWN = 20


class WeightsError(ValueError):
    """A weights file that cannot be used for the model."""


def resolve_weights_path(path):
    """The ``.pdparams`` file for ``path`` (given with or without the suffix,
    as PaddleDetection accepts), or :class:`WeightsError` naming it."""
    if not path:
        raise WeightsError('weights: no path given (pass -o weights=PATH)')
    for candidate in (path, path + '.pdparams'):
        if os.path.isfile(candidate):
            return candidate
    raise WeightsError("weights: no file at '{}' (nor '{}.pdparams')".format(
        path, path))


def load_state_dict(path, what='weights'):
    """Read a ``.pdparams`` (or ``.pdopt``) file as a dict.

    Raises:
        WeightsError: naming the file when it is truncated, not a Paddle
            file, or not a dict.
    """
    try:
        state = paddle.load(path, return_numpy=True)
    except Exception as err:  # truncated / not a paddle file
        raise WeightsError("{}: cannot read '{}' as a {} file, truncated or "
                           "not written by paddle.save? ({}: {})".format(
                               what, path, os.path.splitext(path)[1] or
                               'Paddle', type(err).__name__, err))
    if not isinstance(state, dict):
        raise WeightsError("{}: '{}' holds a {}, expected a dict of "
                           "tensors".format(what, path, type(state).__name__))
    return state


def first_nonfinite(state):
    """``(key, what)`` of the first float array in ``state`` holding NaN or
    inf (``what`` counts them), or None."""
    for key, value in state.items():
        array = np.asarray(value) if isinstance(value, np.ndarray) else None
        if array is None or array.dtype.kind != 'f':
            continue
        finite = np.isfinite(array)
        if not finite.all():
            nan = int(np.isnan(array).sum())
            return key, '{} NaN and {} inf of {} values'.format(
                nan, int((~finite).sum()) - nan, array.size)
    return None


def _refuse_nonfinite(state, path, what):
    bad = first_nonfinite(state)
    if bad:
        raise WeightsError(
            "{}: '{}' holds non-finite values, first in '{}' ({}): it would "
            "only produce NaN (weights saved after training diverged?)".format(
                what, path, bad[0], bad[1]))


def check_resume_checkpoint(model, path):
    """A checkpoint to resume from: weights that cover ``model`` and a
    readable optimizer state next to them.

    Returns:
        str: the ``.pdparams`` path.
    """
    path = check_weights_cover_model(model, path)
    opt = os.path.splitext(path)[0] + '.pdopt'
    if not os.path.isfile(opt):
        raise WeightsError("resume: no optimizer state '{}' next to '{}' (a "
                           "checkpoint saved by training has both)".format(
                               opt, path))
    load_state_dict(opt, 'resume')
    return path


def _describe(names, what):
    shown = ', '.join(names[:_SHOWN])
    more = ' ... and {} more'.format(len(names) - _SHOWN) \
        if len(names) > _SHOWN else ''
    return '{} {} key(s): {}{}'.format(len(names), what, shown, more)


def check_weights_cover_model(model, path):
    """Check that the weights file at ``path`` has every parameter and
    persistable buffer of ``model`` with the right shape.

    Args:
        model (paddle.nn.Layer): the built model.
        path (str): ``.pdparams`` file, with or without the suffix.

    Returns:
        str: the resolved file path.

    Raises:
        WeightsError: missing file, unreadable file, missing keys or shape
            mismatches (all listed), NaN or inf in a float tensor (the
            first named). Extra keys in the file are allowed.
    """
    path = resolve_weights_path(path)
    weights = load_state_dict(path)
    _refuse_nonfinite(weights, path, 'weights')
    expected = model.state_dict()  # parameters + persistable buffers
    missing = [k for k in expected if k not in weights]
    mismatched = ['{} (model {} vs file {})'.format(
        k, list(v.shape), list(weights[k].shape))
        for k, v in expected.items()
        if k in weights and list(v.shape) != list(weights[k].shape)]
    problems = []
    if missing:
        problems.append(_describe(missing, 'missing'))
    if mismatched:
        problems.append(_describe(mismatched, 'with a different shape'))
    if problems:
        raise WeightsError(
            "weights: '{}' does not fit the model built from the config "
            "(different architecture or num_classes?): {}".format(
                path, '; '.join(problems)))
    return path


def resolve_pretrain_weights(url_or_path):
    """Local path of a ``pretrain_weights`` entry, downloading a URL through
    PaddleDetection's cache.  An offline machine gets an error that says how
    to pass a local file instead of a stack trace from the downloader."""
    from ppdet.utils.checkpoint import is_url
    from ppdet.utils.download import get_weights_path

    if not url_or_path:
        return None
    if not is_url(url_or_path):
        try:
            resolve_weights_path(url_or_path)
        except WeightsError:
            raise WeightsError(
                "pretrain_weights: no file at '{}'. Pass an existing file with "
                "-o pretrain_weights=PATH or train from scratch with "
                "-o pretrain_weights=".format(url_or_path))
        # the file itself: ppdet takes any dot in the name for a suffix
        path = resolve_weights_path(url_or_path)
        _refuse_nonfinite(load_state_dict(path, 'pretrain_weights'), path,
                          'pretrain_weights')
        return path
    try:
        return get_weights_path(url_or_path)
    except BaseException as err:  # the downloader may sys.exit or raise
        if isinstance(err, KeyboardInterrupt):
            raise
        raise WeightsError(
            "pretrain_weights: could not download {} ({}: {}). Offline? Pass "
            "a local file with -o pretrain_weights=/path/to/{} or train from "
            "scratch with -o pretrain_weights=".format(
                url_or_path, type(err).__name__, err,
                os.path.basename(url_or_path)))
