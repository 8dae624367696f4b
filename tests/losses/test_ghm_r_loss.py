"""GHM-R against the reference implementation and its documented semantics."""
import numpy as np
import paddle
import pytest

from ppdet_ghm import GHMRLoss

RUNS = {'ghmr_v3_a_mmt0.7': 0.7, 'ghmr_v3_a_mmt0.0': 0.0}


def call_inputs(arrays, i):
    return tuple(arrays['ghmr_call{}_{}'.format(i, k)]
                 for k in ('pred_a', 'tgt_a', 'w'))


def run_call(loss, pred, target, weight, dtype='float32'):
    x = paddle.to_tensor(pred).astype(dtype)
    x.stop_gradient = False
    value = loss(x, paddle.to_tensor(target), paddle.to_tensor(weight))
    value.backward()
    return float(value), x.grad.numpy()


@pytest.mark.parametrize('run', sorted(RUNS))
def test_three_calls_match_reference(ghm_reference, run):
    arrays, outputs = ghm_reference
    loss = GHMRLoss(mu=0.02, bins=10, momentum=RUNS[run])
    for i, ref in enumerate(outputs['runs'][run]['calls']):
        value, grad = run_call(loss, *call_inputs(arrays, i))
        np.testing.assert_allclose(value, ref['loss'], rtol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(grad), ref['grad_norm'],
                                   rtol=1e-5)
        np.testing.assert_allclose(grad.sum(), ref['grad_sum'], rtol=1e-5)
        name = '{}_call{}_grad'.format(run, i)
        if name in arrays:
            np.testing.assert_allclose(grad, arrays[name], rtol=1e-5, atol=1e-12)
        if ref.get('acc_sum') is not None:
            np.testing.assert_allclose(loss.acc_sum.numpy(), ref['acc_sum'],
                                       rtol=1e-5)


def test_edges_are_the_reference_float32_edges(ghm_reference):
    _, outputs = ghm_reference
    np.testing.assert_array_equal(
        GHMRLoss(bins=10).edges.numpy(),
        np.array(outputs['extra']['edges_ghmr_float32'], dtype='float32'))


def test_tot_is_the_sum_of_label_weights(ghm_reference):
    """tot = sum(label_weight), not a count.  It cancels in 'mean' (weights
    are tot / density, the sum is divided by tot) but scales 'none'."""
    arrays, outputs = ghm_reference
    pred, target, weight = [paddle.to_tensor(a) for a in call_inputs(arrays, 0)]
    assert float(weight.sum()) == outputs['extra']['ghmr_call0_tot']
    none1 = GHMRLoss(0.02, 10, 0.0, reduction='none')(pred, target, weight)
    none2 = GHMRLoss(0.02, 10, 0.0, reduction='none')(pred, target, weight * 2)
    np.testing.assert_allclose(none2.numpy(), 2 * none1.numpy(), rtol=1e-6)
    mean1 = GHMRLoss(0.02, 10, 0.0)(pred, target, weight)
    mean2 = GHMRLoss(0.02, 10, 0.0)(pred, target, weight * 2)
    np.testing.assert_allclose(float(mean2), float(mean1), rtol=1e-6)


def test_per_anchor_label_weight_is_expanded(ghm_reference):
    arrays, _ = ghm_reference
    pred, target, weight = call_inputs(arrays, 1)
    v1, g1 = run_call(GHMRLoss(0.02, 10, 0.7), pred, target, weight)
    v2, g2 = run_call(GHMRLoss(0.02, 10, 0.7), pred, target, weight[:, 0])
    assert v1 == v2
    np.testing.assert_array_equal(g1, g2)


def test_none_reduction_is_elementwise(ghm_reference):
    arrays, outputs = ghm_reference
    pred, target, weight = [paddle.to_tensor(a) for a in call_inputs(arrays, 0)]
    out = GHMRLoss(0.02, 10, 0.7, reduction='none')(pred, target, weight)
    assert list(out.shape) == [300, 4]
    assert not out.numpy()[weight.numpy() == 0].any()
    np.testing.assert_allclose(
        float(out.sum()) / outputs['extra']['ghmr_call0_tot'],
        outputs['runs']['ghmr_v3_a_mmt0.7']['calls'][0]['loss'], rtol=1e-5)


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_half_precision_inputs(ghm_reference, dtype):
    arrays, _ = ghm_reference
    pred, target, weight = call_inputs(arrays, 0)
    value, grad = run_call(GHMRLoss(0.02, 10, 0.7), pred, target, weight, dtype)
    rounded = paddle.to_tensor(pred).astype(dtype).astype('float32').numpy()
    v32, _ = run_call(GHMRLoss(0.02, 10, 0.7), rounded, target, weight)
    np.testing.assert_allclose(value, v32, rtol=1e-6)
    assert np.isfinite(grad).all()


def test_no_valid_entry_and_zero_rows_give_zero():
    x = paddle.randn([6, 4])
    x.stop_gradient = False
    value = GHMRLoss(momentum=0.7)(x, paddle.zeros([6, 4]), paddle.zeros([6, 4]))
    value.backward()
    assert float(value) == 0.0 and not x.grad.numpy().any()
    empty = paddle.zeros([0, 4])
    assert float(GHMRLoss()(empty, empty, empty)) == 0.0


def test_nan_prediction_gives_nan_loss_and_finite_state(ghm_reference):
    arrays, _ = ghm_reference
    pred, target, weight = call_inputs(arrays, 0)
    pred = pred.copy()
    pred[0, 0] = np.nan
    assert weight[0, 0] > 0
    loss = GHMRLoss(0.02, 10, 0.7)
    value = loss(paddle.to_tensor(pred), paddle.to_tensor(target),
                 paddle.to_tensor(weight))
    assert np.isnan(float(value))
    assert np.isfinite(loss.acc_sum.numpy()).all()


@pytest.mark.parametrize('kwargs, culprit', [
    (dict(mu=0), 'mu'), (dict(mu=-0.02), 'mu'), (dict(mu='0.02'), 'mu'),
    (dict(bins=0), 'bins'), (dict(momentum=1), 'momentum'),
    (dict(loss_weight=-10), 'loss_weight')])
def test_constructor_validation_names_argument_and_value(kwargs, culprit):
    with pytest.raises(ValueError) as err:
        GHMRLoss(**kwargs)
    assert culprit in str(err.value)
    assert str(list(kwargs.values())[0]) in str(err.value)
