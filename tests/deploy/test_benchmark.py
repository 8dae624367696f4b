"""ppdet_ghm.deploy.benchmark: stages timed after warm-up, routes timed in
rounds side by side, figures as medians (fake predictors with set times)."""
import pytest

from ppdet_ghm.deploy import DeployError, benchmark


class FakePredictor:
    """Reports the stage times it is given, one set per call, in turn."""

    def __init__(self, log, name, times):
        self.log, self.name, self.times = log, name, list(times)
        self.timings = {s: [] for s in benchmark.STAGES}

    def predict(self, batch):
        self.log.append(self.name)
        seconds = self.times.pop(0)
        for stage in benchmark.STAGES:
            self.timings[stage].append(seconds)


def test_stage_ms_drops_the_warm_up_and_takes_the_median_per_image():
    predictor = FakePredictor([], 'p', [9.0, 9.0, 0.001, 0.003, 0.002])
    ms = benchmark.stage_ms(predictor, ['a.jpg'], warmup=2, repeats=3)
    assert ms == {s: pytest.approx(2.0) for s in benchmark.STAGES}


def test_routes_run_in_rounds_and_report_the_median_round(monkeypatch):
    log = []
    # per route: 3 rounds x (1 warm-up + 1 timed) calls
    times = {'paddle': [1, 0.004, 1, 0.001, 1, 0.002],
             'onnxruntime': [1, 0.010, 1, 0.030, 1, 0.020]}
    monkeypatch.setattr(benchmark, 'route_predictor', lambda route, dirs, threads:
                        FakePredictor(log, route, times[route]))
    rows = benchmark.time_routes(['paddle', 'onnxruntime'], [1], {}, ['a.jpg'],
                                 rounds=3, warmup=1, repeats=1)
    assert log == ['paddle', 'paddle', 'onnxruntime', 'onnxruntime'] * 3
    paddle, onnx = rows
    assert paddle['route'] == 'paddle' and paddle['threads'] == 1
    assert paddle['ms']['inference'] == pytest.approx(2.0)
    assert paddle['total_ms'] == pytest.approx(6.0)
    assert onnx['rounds_total_ms'] == pytest.approx([30.0, 90.0, 60.0])


def test_a_route_without_its_export_or_an_unknown_route_is_named():
    with pytest.raises(DeployError, match='route onnxruntime needs the export '
                       'without NMS'):
        benchmark.route_predictor('onnxruntime', {'with_nms': 'x'}, 1)
    with pytest.raises(DeployError, match="--routes: expected some of .*'tensorrt'"):
        benchmark.route_predictor('tensorrt', {}, 1)
