import math

import numpy as np
import paddle

from ppdet_ghm.modeling import GHMRetinaAnchorGenerator


def test_cells_are_ratio_major_with_reference_sizes():
    gen = GHMRetinaAnchorGenerator()
    assert gen.num_anchors == 9
    cell = gen.cell_anchors[0].numpy()  # stride 8
    w, h = cell[:, 2] - cell[:, 0], cell[:, 3] - cell[:, 1]
    sizes = [32 * 2**(i / 3) for i in range(3)]
    for r, ratio in enumerate([0.5, 1.0, 2.0]):
        for s, size in enumerate(sizes):
            k = r * 3 + s  # ratio-major, scale-minor (mmdetection order)
            np.testing.assert_allclose(h[k] / w[k], ratio, rtol=1e-5)
            np.testing.assert_allclose(math.sqrt(w[k] * h[k]), size, rtol=1e-5)
    np.testing.assert_allclose(cell[:, :2], -cell[:, 2:], rtol=1e-6)  # centred


def test_levels_grid_and_order():
    gen = GHMRetinaAnchorGenerator()
    feats = [paddle.zeros([1, 1, h, w]) for h, w in
             [(4, 6), (2, 3), (1, 2), (1, 1), (1, 1)]]
    levels = gen(feats)
    assert [int(a.shape[0]) for a in levels] == [4 * 6 * 9, 2 * 3 * 9, 18, 9, 9]
    p3 = levels[0].numpy().reshape(4, 6, 9, 4)
    centres = (p3[..., :2] + p3[..., 2:]) / 2
    ys, xs = np.meshgrid(np.arange(4) * 8.0, np.arange(6) * 8.0, indexing='ij')
    np.testing.assert_allclose(centres[..., 0], np.repeat(xs[..., None], 9, 2), atol=1e-4)
    np.testing.assert_allclose(centres[..., 1], np.repeat(ys[..., None], 9, 2), atol=1e-4)
    p7 = levels[4].numpy()
    np.testing.assert_allclose(np.sqrt((p7[4, 2] - p7[4, 0]) * (p7[4, 3] - p7[4, 1])),
                               128 * 4 * 2**(1 / 3), rtol=1e-5)
