"""ppdet_ghm.deploy.compare on hand-made detections."""
import numpy as np
import pytest

from ppdet_ghm.deploy.compare import compare_detections

BOXES = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
RUN = ([0, 0, 1], [0.9, 0.8, 0.7], BOXES)


def test_the_same_detections_in_another_order_agree():
    other = ([1, 0, 0], [0.7, 0.8, 0.9 + 4e-6], BOXES[[2, 1, 0]] + 5e-4)
    agreement = compare_detections([RUN, RUN], [RUN, other])
    assert agreement.problems == [] and agreement.identical == 1
    assert agreement.images == 2 and agreement.detections == 6
    assert agreement.max_box_diff == pytest.approx(5e-4, rel=1e-3)
    assert agreement.max_score_diff == pytest.approx(4e-6, abs=1e-7)


@pytest.mark.parametrize('other, message', [
    (([0, 0], [0.9, 0.8], BOXES[:2]), 'image 0: 3 detections, the other run has 2'),
    (([0, 1, 1], [0.9, 0.7, 0.8], BOXES[[0, 2, 1]]),
     'image 0: class 1 has more detections'),
    (([0, 0, 1], [0.9, 0.8, 0.7], BOXES + [0, 0, 0.01, 0]),
     'image 0: class 0 box [0.000, 0.000, 10.010, 10.000] score 0.900000: nearest '
     'of the reference is 0.01'),
    (([0, 0, 1], [0.9, 0.8, 0.71], BOXES), 'image 0: class 1 box'),
])
def test_a_difference_is_named(other, message):
    agreement = compare_detections([RUN], [other])
    assert len(agreement.problems) == 1 and agreement.problems[0].startswith(message)
    assert '1 image(s) disagree' in agreement.summary()


def test_runs_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match='2 images against 1'):
        compare_detections([RUN, RUN], [RUN])


class _Runner:
    """A stand-in for a predictor: records its batches, returns ``runs``."""

    def __init__(self, runs):
        self.runs, self.batches = runs, []

    def predict_batches(self, paths, batch_size=1):
        for i in range(0, len(paths), batch_size):
            self.batches.append(paths[i:i + batch_size])
            yield from self.runs[i:i + batch_size]


def test_two_runners_are_compared_image_by_image_in_batches():
    from ppdet_ghm.deploy.compare import compare_deployments
    other = ([0, 0, 1], [0.9, 0.8, 0.7], BOXES + 0.5)
    first, second = _Runner([RUN] * 3), _Runner([RUN, RUN, other])
    agreement = compare_deployments(['a', 'b', 'c'], first, second, batch_size=2)
    assert first.batches == second.batches == [['a', 'b'], ['c']]
    assert agreement.images == 3 and agreement.identical == 2
    assert len(agreement.problems) == 1 and agreement.problems[0].startswith('image 2:')


def test_routes_are_named_and_the_client_needs_its_checkout():
    from ppdet_ghm.deploy import DeployError
    from ppdet_ghm.deploy.compare import CLIENT, deployment_runner, route_name
    assert route_name('paddle', onednn=False) == 'paddle without oneDNN'
    assert route_name('paddle') == 'paddle'
    assert route_name('onnxruntime', onednn=False) == 'onnxruntime'
    with pytest.raises(DeployError, match='needs --paddledetection_dir'):
        deployment_runner('model', CLIENT)
