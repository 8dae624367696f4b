"""GHM-C against the reference implementation and its documented semantics."""
import numpy as np
import paddle
import pytest

from ppdet_ghm import GHMCLoss

RUNS = {'ghmc_v3_intlabels_mmt0.75': 0.75, 'ghmc_v3_intlabels_mmt0.0': 0.0}


def call_inputs(arrays, i):
    return (arrays['ghmc_call{}_pred'.format(i)],
            arrays['ghmc_call{}_labels'.format(i)],
            arrays['ghmc_call{}_label_w'.format(i)])


def run_call(loss, pred, target, label_weight, dtype='float32'):
    x = paddle.to_tensor(pred).astype(dtype)
    x.stop_gradient = False
    value = loss(x, paddle.to_tensor(target), paddle.to_tensor(label_weight))
    value.backward()
    return float(value), x.grad.numpy()


def onehot(labels, num_classes):
    t = np.zeros((labels.shape[0], num_classes), dtype='float32')
    pos = labels < num_classes
    t[np.nonzero(pos)[0], labels[pos]] = 1
    return t


@pytest.mark.parametrize('run', sorted(RUNS))
def test_three_calls_match_reference(ghm_reference, run):
    arrays, outputs = ghm_reference
    loss = GHMCLoss(bins=30, momentum=RUNS[run])
    for i, ref in enumerate(outputs['runs'][run]['calls']):
        value, grad = run_call(loss, *call_inputs(arrays, i))
        np.testing.assert_allclose(value, ref['loss'], rtol=1e-5)
        np.testing.assert_allclose(
            grad, arrays['{}_call{}_grad'.format(run, i)], rtol=1e-5,
            atol=1e-12)
        np.testing.assert_allclose(
            np.linalg.norm(grad), ref['grad_norm'], rtol=1e-5)
        if ref.get('acc_sum') is not None:
            np.testing.assert_allclose(
                loss.acc_sum.numpy(), ref['acc_sum'], rtol=1e-5)
        else:  # momentum 0 keeps no running state
            assert not loss.acc_sum.numpy().any()


def test_edges_are_the_reference_float32_edges(ghm_reference):
    _, outputs = ghm_reference
    np.testing.assert_array_equal(
        GHMCLoss(bins=30).edges.numpy(),
        np.array(outputs['extra']['edges_ghmc_float32'], dtype='float32'))


@pytest.mark.parametrize('bins', [1, 7, 10, 30, 47])
def test_bin_index_is_exact_at_edges(bins):
    """Values on, just below and just above every edge fall in the bin the
    reference's comparisons ``edges[i] <= g < edges[i+1]`` give."""
    loss = GHMCLoss(bins=bins)
    edges = loss.edges.numpy()
    g = np.concatenate([edges, np.nextafter(edges, -1), np.nextafter(edges, 2),
                        np.float32([0.0, 1.0])]).astype('float32')
    g = g[(g >= 0) & (g <= 1)]
    expected = np.zeros(g.shape, dtype='int32')
    for i in range(bins):  # the reference's definition, written plainly
        expected[(g >= edges[i]) & (g < edges[i + 1])] = i + 1
    index = loss.bin_index(paddle.to_tensor(g), paddle.to_tensor(True))
    np.testing.assert_array_equal(index.numpy(), expected)
    assert (expected > 0).all()


def test_onehot_targets_and_full_label_weights_match_int_labels(ghm_reference):
    arrays, _ = ghm_reference
    by_label, by_onehot = GHMCLoss(30, 0.75), GHMCLoss(30, 0.75)
    for i in range(3):
        pred, labels, label_w = call_inputs(arrays, i)
        v1, g1 = run_call(by_label, pred, labels, label_w)
        full_w = np.repeat(label_w[:, None], pred.shape[1], axis=1)
        v2, g2 = run_call(by_onehot, pred, onehot(labels, pred.shape[1]), full_w)
        np.testing.assert_allclose(v2, v1, rtol=1e-6)
        np.testing.assert_allclose(g2, g1, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(by_onehot.acc_sum.numpy(),
                                   by_label.acc_sum.numpy(), rtol=1e-7)


def test_labels_outside_classes_are_background(ghm_reference):
    """As the reference's one-hot expansion: labels < 0 or >= C are no class."""
    arrays, _ = ghm_reference
    pred, labels, label_w = call_inputs(arrays, 0)
    odd = labels.copy()
    odd[labels == 80] = np.where(np.arange((labels == 80).sum()) % 2, -1, 200)
    v1, g1 = run_call(GHMCLoss(30, 0.75), pred, labels, label_w)
    v2, g2 = run_call(GHMCLoss(30, 0.75), pred, odd, label_w)
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)


def test_none_reduction_matches_reference(ghm_reference):
    arrays, outputs = ghm_reference
    pred, labels, label_w = call_inputs(arrays, 0)
    out = GHMCLoss(30, 0.75, reduction='none')(
        paddle.to_tensor(pred), paddle.to_tensor(labels),
        paddle.to_tensor(label_w))
    assert list(out.shape) == outputs['extra']['ghmc_v3_none_reduction_call0']['shape']
    np.testing.assert_allclose(
        float(out.sum()),
        outputs['extra']['ghmc_v3_none_reduction_call0']['sum'], rtol=1e-5)
    # 'mean' is the 'none' sum over tot (valid entries) on identical state
    mean = GHMCLoss(30, 0.75)(paddle.to_tensor(pred), paddle.to_tensor(labels),
                              paddle.to_tensor(label_w))
    tot = outputs['extra']['ghmc_call0_tot']
    np.testing.assert_allclose(float(mean), float(out.sum()) / tot, rtol=1e-5)


def test_sum_reduction_is_refused_and_avg_factor_ignored(ghm_reference):
    arrays, _ = ghm_reference
    pred, labels, label_w = [paddle.to_tensor(a) for a in call_inputs(arrays, 0)]
    with pytest.raises(ValueError, match="reduction.*'sum'"):
        GHMCLoss(reduction='sum')
    with pytest.raises(ValueError, match='reduction'):
        GHMCLoss()(pred, labels, label_w, reduction_override='sum')
    a = GHMCLoss(30, 0.75)(pred, labels, label_w)
    b = GHMCLoss(30, 0.75)(pred, labels, label_w, avg_factor=123.0)
    assert float(a) == float(b)


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_half_precision_inputs_are_computed_in_float32(ghm_reference, dtype):
    arrays, _ = ghm_reference
    pred, labels, label_w = call_inputs(arrays, 0)
    low = paddle.to_tensor(pred).astype(dtype)
    value, grad = run_call(GHMCLoss(30, 0.75), pred, labels, label_w, dtype)
    # same as float32 on the rounded logits: nothing computed in low precision
    rounded = low.astype('float32').numpy()
    v32, g32 = run_call(GHMCLoss(30, 0.75), rounded, labels, label_w)
    np.testing.assert_allclose(value, v32, rtol=1e-6)
    x = low.detach()
    x.stop_gradient = False
    GHMCLoss(30, 0.75)(x, paddle.to_tensor(labels),
                       paddle.to_tensor(label_w)).backward()
    assert x.grad.dtype == x.dtype
    np.testing.assert_allclose(x.grad.astype('float32').numpy(), g32,
                               rtol=1e-2, atol=1e-7)
    assert np.isfinite(grad).all()


def test_no_valid_entry_gives_exact_zero():
    x = paddle.randn([50, 80])
    x.stop_gradient = False
    loss = GHMCLoss(30, 0.75)
    value = loss(x, paddle.full([50], 3, dtype='int64'), paddle.zeros([50]))
    value.backward()
    assert float(value) == 0.0
    assert not x.grad.numpy().any()
    assert not loss.acc_sum.numpy().any()


def test_zero_rows_give_zero():
    x = paddle.zeros([0, 80])
    x.stop_gradient = False
    value = GHMCLoss(30, 0.75)(x, paddle.zeros([0], 'int64'), paddle.zeros([0]))
    value.backward()
    assert float(value) == 0.0 and list(x.grad.shape) == [0, 80]


def test_non_finite_logits_give_non_finite_loss_and_spare_the_state(ghm_reference):
    """Documented behaviour: a NaN logit makes the loss NaN (never dropped
    silently); the EMA state does not count it and stays finite."""
    arrays, _ = ghm_reference
    pred, labels, label_w = call_inputs(arrays, 0)
    bad = pred.copy()
    bad[3, 5] = np.nan
    loss = GHMCLoss(30, 0.75)
    value = loss(paddle.to_tensor(bad), paddle.to_tensor(labels),
                 paddle.to_tensor(label_w))
    assert np.isnan(float(value))
    acc = loss.acc_sum.numpy()
    assert np.isfinite(acc).all()
    clean = GHMCLoss(30, 0.75)
    clean(paddle.to_tensor(pred), paddle.to_tensor(labels),
          paddle.to_tensor(label_w))
    assert np.isclose(acc.sum(), clean.acc_sum.numpy().sum() - 0.25)
    bad[3, 5] = np.inf  # a negative entry at +inf: infinite BCE
    value = GHMCLoss(30, 0.75)(paddle.to_tensor(bad), paddle.to_tensor(labels),
                               paddle.to_tensor(label_w))
    assert float(value) == np.inf


@pytest.mark.parametrize('kwargs, culprit', [
    (dict(bins=0), 'bins'), (dict(bins=2.5), 'bins'), (dict(bins='30'), 'bins'),
    (dict(bins=True), 'bins'), (dict(momentum=1.0), 'momentum'),
    (dict(momentum=-0.1), 'momentum'), (dict(momentum='0.75'), 'momentum'),
    (dict(loss_weight=-1), 'loss_weight'), (dict(use_sigmoid=False), 'use_sigmoid'),
    (dict(reduction='sum'), 'reduction')])
def test_constructor_validation_names_argument_and_value(kwargs, culprit):
    with pytest.raises(ValueError) as err:
        GHMCLoss(**kwargs)
    message = str(err.value)
    assert culprit in message and repr(list(kwargs.values())[0]).strip("'") in message


def test_bad_shapes_are_clear_errors():
    loss = GHMCLoss()
    x = paddle.zeros([4, 3])
    with pytest.raises(ValueError, match='label_weight'):
        loss(x, paddle.zeros([4], 'int64'), paddle.zeros([5]))
    with pytest.raises(ValueError, match='integer labels'):
        loss(x, paddle.zeros([4]), paddle.zeros([4]))
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        loss(paddle.zeros([4]), paddle.zeros([4], 'int64'), paddle.zeros([4]))
