"""ppdet_ghm.analysis.gradient_norms: histograms, GHM weights, curves."""
import numpy as np
import paddle
import pytest

from ppdet_ghm.analysis.gradient_norms import (GradientNormStats, classification_curves,
                                gradient_shares,
                                classification_gradient_norms, ghm_weights,
                                regression_curves, regression_gradient_norms)
from ppdet_ghm.losses import GHMCLoss, GHMRLoss


def _batch(rng, batch=2, anchors=50, classes=3):
    logits = rng.normal(0, 2, (batch, anchors, classes)).astype('float32')
    labels = rng.integers(0, classes + 1, (batch, anchors))   # classes = bg
    label_weights = (rng.random((batch, anchors)) > 0.3).astype('float32')
    box_weights = ((labels < classes) & (label_weights > 0)).astype('float32')
    deltas = rng.normal(0, 0.3, (batch, anchors, 4)).astype('float32')
    targets = rng.normal(0, 0.3, (batch, anchors, 4)).astype('float32')
    return logits, labels, label_weights, deltas, targets, box_weights


def test_classification_gradient_norms_match_numpy():
    rng = np.random.default_rng(0)
    logits, labels, weights, *_ = _batch(rng)
    g = classification_gradient_norms(paddle.to_tensor(logits),
                                      paddle.to_tensor(labels),
                                      paddle.to_tensor(weights)).numpy()
    valid = weights.reshape(-1) > 0
    onehot = np.eye(4)[labels.reshape(-1)][:, :3]
    expected = np.abs(1 / (1 + np.exp(-logits.reshape(-1, 3))) - onehot)[valid]
    np.testing.assert_allclose(g, expected.reshape(-1), rtol=1e-5, atol=1e-6)


def test_regression_gradient_norms_only_positive_anchors():
    rng = np.random.default_rng(1)
    *_, deltas, targets, box_weights = _batch(rng)
    abs_d, g = regression_gradient_norms(
        paddle.to_tensor(deltas), paddle.to_tensor(targets),
        paddle.to_tensor(box_weights), mu=0.02)
    pos = box_weights.reshape(-1) > 0
    d = np.abs(deltas.reshape(-1, 4) - targets.reshape(-1, 4))[pos].reshape(-1)
    np.testing.assert_allclose(abs_d.numpy(), d, rtol=1e-6)
    np.testing.assert_allclose(g.numpy(), d / np.sqrt(d * d + 0.02 ** 2),
                               rtol=1e-5)


def test_stats_counts_add_up_to_valid_entries():
    rng = np.random.default_rng(2)
    loss_c, loss_r = GHMCLoss(bins=30, momentum=0.75), GHMRLoss(bins=10)
    stats = GradientNormStats(loss_c, loss_r, fine_bins=50)
    all_g, valid_total, pos_total = [], 0, 0
    for _ in range(3):
        batch = _batch(rng)
        logits, labels, lw, deltas, targets, bw = batch
        stats.update(*[paddle.to_tensor(a) for a in
                       (logits, deltas, labels, lw, targets, bw)])
        valid_total += int((lw > 0).sum())
        pos_total += int((bw > 0).sum())
        all_g.append(classification_gradient_norms(
            paddle.to_tensor(logits), paddle.to_tensor(labels),
            paddle.to_tensor(lw)).numpy())
    out = stats.to_dict()
    assert out['num_images'] == 6
    assert out['num_valid_anchors'] == valid_total
    assert out['classification']['num_entries'] == valid_total * 3
    assert sum(out['classification']['ghm_counts']) == valid_total * 3
    assert out['regression']['num_entries'] == pos_total * 4
    assert sum(out['regression']['ghm_counts']) == pos_total * 4
    assert sum(out['regression']['abs_delta_counts']) == pos_total * 4
    g = np.concatenate(all_g)
    np.testing.assert_array_equal(
        out['classification']['ghm_counts'],
        np.histogram(g, bins=np.arange(31) / 30)[0])
    np.testing.assert_array_equal(
        out['classification']['fine_counts'],
        np.histogram(g, bins=np.linspace(0, 1, 51))[0])
    bins = np.minimum((g * 30).astype(int), 29)
    np.testing.assert_allclose(out['classification']['ghm_g_sums'],
                               np.bincount(bins, weights=g, minlength=30), rtol=1e-5)
    # the losses' EMA state is not touched by the analysis
    assert float(loss_c.acc_sum.abs().sum()) == 0.0

    # each entry's GHM-C gradient g * tot / (count * n), summed directly
    counts = np.bincount(bins, minlength=30)
    per_entry = g * len(g) / (counts[bins] * (counts > 0).sum())
    shares = gradient_shares(out['classification'], thresholds=(0.5, 0.8))
    for row in shares:
        hard = g >= row['threshold'] - 1e-6
        assert row['entries'] == pytest.approx(hard.mean(), rel=1e-6)
        assert row['ghm_c'] == pytest.approx(per_entry[hard].sum() / per_entry.sum(),
                                             rel=1e-4)
        assert 0 < row['ce'] < row['focal'] < 1   # FL favours the hard ones


def test_ghm_weights_are_tot_over_count_over_nonempty_bins():
    loss = GHMCLoss(bins=4, momentum=0.75)
    counts = np.array([90, 0, 8, 2])
    g = np.array([0.1, 0.3, 0.6, 0.9])
    w = ghm_weights(loss, counts, g)
    np.testing.assert_allclose(w, [100 / 90 / 3, 0.0, 100 / 8 / 3, 100 / 2 / 3],
                               rtol=1e-6)
    # averaged over the examples themselves the weight is 1
    per_example = np.repeat(w, counts)
    assert per_example.mean() == pytest.approx(1.0, rel=1e-6)
    assert float(loss.acc_sum.abs().sum()) == 0.0


def test_classification_curves():
    loss = GHMCLoss(bins=10)
    counts = np.arange(10, 0, -1) * 100
    curves = classification_curves(loss, counts, num_points=100)
    g = np.asarray(curves['g'])
    np.testing.assert_allclose(curves['ce'], g)
    # focal loss (alpha off), one negative: g^(gamma+1) - gamma g^gamma (1-g) log(1-g)
    expected = g ** 3 - 2 * g ** 2 * (1 - g) * np.log(1 - g)
    np.testing.assert_allclose(curves['focal'], expected, rtol=2e-3, atol=1e-7)
    bins = np.minimum((g * 10).astype(int), 9)
    np.testing.assert_allclose(curves['ghm_c'],
                               g * counts.sum() / counts[bins] / 10, rtol=1e-5)


def test_regression_curves():
    loss = GHMRLoss(mu=0.02, bins=10)
    counts = np.array([5, 5, 5, 5, 5, 5, 5, 5, 5, 955])
    curves = regression_curves(loss, counts, max_abs_delta=1.0,
                               num_points=50, sl1_beta=0.11)
    d = np.asarray(curves['abs_delta'])
    asl1 = d / np.sqrt(d * d + 0.0004)
    np.testing.assert_allclose(curves['sl1'], np.minimum(d / 0.11, 1.0))
    np.testing.assert_allclose(curves['asl1'], asl1, rtol=1e-6)
    # large errors (g near 1, the crowded last bin) are down-weighted
    assert curves['ghm_r'][-1] == pytest.approx(asl1[-1] * 1000 / 955 / 10,
                                                rel=1e-5)


def test_stats_refuses_non_ghm_losses():
    with pytest.raises(TypeError, match='GHMCLoss'):
        GradientNormStats(GHMRLoss(), GHMRLoss())
