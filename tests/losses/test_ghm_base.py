"""What GHM-C and GHM-R share: persistable EMA state, no host sync."""
import numpy as np
import paddle
import pytest

from ppdet_ghm import GHMCLoss, GHMRLoss


def ghmc_call(arrays, i):
    return [arrays['ghmc_call{}_{}'.format(i, k)]
            for k in ('pred', 'labels', 'label_w')]


def ghmr_call(arrays, i):
    return [arrays['ghmr_call{}_{}'.format(i, k)] for k in ('pred_a', 'tgt_a', 'w')]


CASES = {
    'GHMCLoss': (lambda: GHMCLoss(bins=30, momentum=0.75), ghmc_call),
    'GHMRLoss': (lambda: GHMRLoss(mu=0.02, bins=10, momentum=0.7), ghmr_call),
}


class Holder(paddle.nn.Layer):
    """A model-like container: the loss is a sub-layer, as in a head."""

    def __init__(self, loss):
        super().__init__()
        self.loss_bbox = loss


def loss_and_grad(loss, inputs):
    x = paddle.to_tensor(inputs[0])
    x.stop_gradient = False
    value = loss(x, *[paddle.to_tensor(a) for a in inputs[1:]])
    value.backward()
    return float(value), x.grad.numpy()


@pytest.mark.parametrize('name', sorted(CASES))
def test_ema_state_is_saved_in_pdparams_and_restored(ghm_reference, name,
                                                     tmp_path):
    arrays, _ = ghm_reference
    make, call = CASES[name]
    model = Holder(make())
    for i in range(2):
        loss_and_grad(model.loss_bbox, call(arrays, i))
    state = model.state_dict()
    assert list(state) == ['loss_bbox.acc_sum']  # edges are not state
    path = str(tmp_path / 'model.pdparams')
    paddle.save(state, path)

    restored = Holder(make())
    restored.set_state_dict(paddle.load(path))
    np.testing.assert_array_equal(restored.loss_bbox.acc_sum.numpy(),
                                  model.loss_bbox.acc_sum.numpy())
    expected = loss_and_grad(model.loss_bbox, call(arrays, 2))
    got = loss_and_grad(restored.loss_bbox, call(arrays, 2))
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(restored.loss_bbox.acc_sum.numpy(),
                                  model.loss_bbox.acc_sum.numpy())
    # and a fresh loss (no state) gives a different result: the state matters
    assert loss_and_grad(make(), call(arrays, 2))[0] != expected[0]


@pytest.mark.parametrize('name', sorted(CASES))
def test_no_host_sync_in_forward_or_backward(ghm_reference, name, monkeypatch):
    arrays, _ = ghm_reference
    make, call = CASES[name]
    loss = make()
    inputs = [paddle.to_tensor(a) for a in call(arrays, 0)]
    inputs[0].stop_gradient = False

    def forbidden(*args, **kwargs):
        raise AssertionError('host sync inside the loss')
    for attr in ('numpy', 'item', 'tolist', '__float__', '__int__', '__bool__'):
        monkeypatch.setattr(paddle.Tensor, attr, forbidden)
    value = loss(*inputs)
    value.backward()
    monkeypatch.undo()
    assert np.isfinite(float(value))


@pytest.mark.parametrize('name', sorted(CASES))
def test_state_stays_float32_after_a_half_precision_model_cast(ghm_reference,
                                                               name):
    """AMP O2 casts a model's buffers too; the EMA of counts in the millions
    must stay float32 (float16 overflows at 65504)."""
    arrays, _ = ghm_reference
    make, call = CASES[name]
    reference, cast = make(), make()
    cast.to(dtype='float16')
    for i in range(3):
        expected = loss_and_grad(reference, call(arrays, i))[0]
        np.testing.assert_allclose(loss_and_grad(cast, call(arrays, i))[0],
                                   expected, rtol=1e-6)
    assert cast.acc_sum.dtype == paddle.float32
    np.testing.assert_array_equal(cast.acc_sum.numpy(),
                                  reference.acc_sum.numpy())
