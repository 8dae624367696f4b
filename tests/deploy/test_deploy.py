"""ppdet_ghm.deploy and tools/deploy_infer.py: an exported tiny model gives
tools/infer.py's dygraph detections -- same count and labels, scores within
1e-5, boxes within 1e-3 px -- for single images, a batch of images of
different sizes, and an image without detections, on three routes: Paddle
Inference with NMS in the program, Paddle Inference of the export without
NMS and ONNX Runtime of its ONNX conversion (both with ppdet_ghm.deploy.nms
after the model)."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from export_helpers import (BOX_TOL, ROOT, assert_same, dygraph_detections, export,
                            save_spread_logit_model, tiny_export_config, val_images)

from ppdet_ghm.deploy import DeployError, DeployPredictor, create_predictor

# route -> (backend, which export)
ROUTES = {'paddle': ('paddle', 'with_nms'),
          'paddle_without_nms': ('paddle', 'without_nms'),
          'onnxruntime': ('onnxruntime', 'without_nms')}


@pytest.fixture(scope='module')
def exported(tmp_path_factory, tiny_data):
    """A tiny model, exported twice: as is, and with a score threshold no
    box reaches.  Returns (tmp, config, model_dir,
    model_dir_without_detections)."""
    tmp = str(tmp_path_factory.mktemp('deploy'))
    config = tiny_export_config(tmp, tiny_data, 'tiny')
    # class logits with std ~2
    save_spread_logit_model(config, tmp, 200.)
    silent = tiny_export_config(tmp, tiny_data, 'silent',
                     'GHMRetinaPostProcess: {score_threshold: 1.0}\n')
    return (tmp, config, export(config, os.path.join(tmp, 'export')),
            export(silent, os.path.join(tmp, 'export')))


@pytest.fixture(scope='module')
def exported_without_nms(exported):
    """The same two models exported with ``--onnx``: programs without NMS,
    ``infer_cfg.yml`` with the NMS settings, and ``model.onnx``.  Returns
    (model_dir, model_dir_without_detections)."""
    tmp = exported[0]
    out = os.path.join(tmp, 'export_onnx')
    return (export(os.path.join(tmp, 'tiny.yml'), out, '--onnx'),
            export(os.path.join(tmp, 'silent.yml'), out, '--onnx'))


def route_predictor(route, exported, exported_without_nms, silent=False):
    backend, export = ROUTES[route]
    dirs = exported[2:] if export == 'with_nms' else exported_without_nms
    return create_predictor(dirs[1] if silent else dirs[0], backend)


@pytest.mark.parametrize('route', sorted(ROUTES))
def test_single_images_give_the_dygraph_detections(route, exported,
                                                   exported_without_nms, tiny_data):
    config = exported[1]
    images = val_images(tiny_data)
    predictor = route_predictor(route, exported, exported_without_nms)
    deployed = [d for path in images for d in predictor.predict([path])]
    assert sum(len(d.scores) for d in deployed) > 0
    # dygraph with batch 1 too (a batch pads images to a common size)
    from ppdet.core.workspace import merge_config
    dygraph = []
    for path in images:
        merge_config({'TestReader': {'batch_size': 1}})
        dygraph += dygraph_detections(config, [path])
    assert_same(dygraph, deployed)


@pytest.mark.parametrize('route', sorted(ROUTES))
def test_a_batch_of_images_of_different_sizes(route, exported, exported_without_nms,
                                              tiny_data, tmp_path):
    config = exported[1]
    sizes = [(64, 64), (96, 80), (50, 70)]
    images = []
    for (h, w), path in zip(sizes, val_images(tiny_data)):
        resized = str(tmp_path / os.path.basename(path))
        cv2.imwrite(resized, cv2.resize(cv2.imread(path), (w, h)))
        images.append(resized)
    predictor = route_predictor(route, exported, exported_without_nms)
    deployed = predictor.predict(images[:2]) + predictor.predict(images[2:])
    assert_same(dygraph_detections(config, images), deployed)    # batch 2 both


@pytest.mark.parametrize('route', sorted(ROUTES))
def test_an_image_without_detections(route, exported, exported_without_nms,
                                     tiny_data):
    silent_config = os.path.join(exported[0], 'silent.yml')
    image = val_images(tiny_data)[0]
    deployed = route_predictor(route, exported, exported_without_nms,
                               silent=True).predict([image])
    assert len(deployed[0].scores) == 0 and deployed[0].boxes.shape == (0, 4)
    assert len(dygraph_detections(silent_config, [image])[0]) == 0


@pytest.mark.parametrize('backend', ['paddle', 'onnxruntime'])
def test_the_tool_writes_json_and_a_drawn_image(backend, exported_without_nms,
                                                tiny_data, tmp_path):
    model_dir = exported_without_nms[0]
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'deploy_infer.py'),
         '--model_dir', model_dir, '--image_dir', os.path.join(tiny_data, 'val'),
         '--output_dir', str(out), '--threshold', '0.0', '--batch_size', '2',
         '--backend', backend],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = sorted(os.listdir(os.path.join(tiny_data, 'val')))
    assert sorted(os.listdir(out)) == sorted(
        names + [os.path.splitext(n)[0] + '.json' for n in names])
    with open(out / (os.path.splitext(names[0])[0] + '.json')) as f:
        record = json.load(f)
    assert record['detections'] and set(record['detections'][0]) == {
        'class_id', 'label', 'score', 'box'}
    assert record['detections'][0]['label'] in ('circle', 'rectangle', 'triangle',
                                                'cross')


def test_the_tool_times_the_three_stages(exported, tiny_data):
    _, _, model_dir, _ = exported
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'deploy_infer.py'),
         '--model_dir', model_dir, '--image_file', val_images(tiny_data)[0],
         '--run_benchmark', '--warmup', '1', '--repeats', '2'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'ms per image preprocess' in proc.stdout and '/ inference ' in proc.stdout


def test_without_nms_the_paddle_export_gives_the_same_detections_to_the_bit(
        exported, exported_without_nms, tiny_data):
    # ppdet_ghm.deploy.nms after the program == multiclass_nms3 inside it
    images = val_images(tiny_data)
    with_nms = DeployPredictor(exported[2]).predict(images)
    without = DeployPredictor(exported_without_nms[0]).predict(images)
    assert sum(len(d.scores) for d in without) > 100
    for a, b in zip(with_nms, without):
        for field in ('labels', 'scores', 'boxes'):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_onnx_of_a_fixed_size_export_names_the_size(exported, tiny_data, tmp_path):
    # the demo config fixes the input size; ONNX keeps it, Paddle does not
    fixed = tiny_export_config(exported[0], tiny_data, 'fixed', image_shape='[3, 64, 64]')
    model_dir = export(fixed, os.path.join(exported[0], 'export_fixed'), '--onnx')
    image = str(tmp_path / 'large.jpg')
    cv2.imwrite(image, cv2.resize(cv2.imread(val_images(tiny_data)[0]), (96, 96)))
    predictor = create_predictor(model_dir, 'onnxruntime')
    assert len(predictor.predict(val_images(tiny_data)[:1])[0].scores) > 0
    with pytest.raises(DeployError, match=r"input 'image' has the fixed shape "
                       r"\[.*, 3, 64, 64\] of the export, got \(1, 3, 96, 96\)"):
        predictor.predict([image])


def test_the_nms_settings_reach_infer_cfg(exported_without_nms):
    from ppdet_ghm.deploy import load_infer_config
    assert load_infer_config(exported_without_nms[0]).nms == {
        'score_threshold': 0.05, 'nms_threshold': 0.5, 'keep_top_k': 1000}
    assert load_infer_config(exported_without_nms[1]).nms['score_threshold'] == 1.0


def test_the_compare_tool_checks_two_deployments(exported, exported_without_nms,
                                                tiny_data):
    def compare(*flags):
        return subprocess.run(
            [sys.executable, os.path.join(ROOT, 'tools', 'deploy_compare.py'),
             '--image_dir', os.path.join(tiny_data, 'val'), '--batch_size', '2',
             *flags], cwd=ROOT, capture_output=True, text=True, timeout=300)
    same = compare('--model_dir', exported[2], '--other_model_dir',
                   exported_without_nms[0], '--other_backend', 'onnxruntime')
    assert same.returncode == 0, same.stdout + same.stderr[-2000:]
    assert '4 image(s)' in same.stdout and '0 image(s) disagree' in same.stdout
    # a score threshold no box reaches: every image disagrees in count
    differ = compare('--model_dir', exported[2], '--other_model_dir', exported[3])
    assert differ.returncode == 1 and '4 image(s) disagree' in differ.stdout
    assert 'detections, the other run has 0' in differ.stdout
    # oneDNN on (the default) against off, one model
    onednn = compare('--model_dir', exported[2], '--other_disable_onednn')
    assert onednn.returncode == 0, onednn.stdout + onednn.stderr[-2000:]
    assert '(paddle) vs {} (paddle without oneDNN)'.format(exported[2]) in onednn.stdout


@pytest.mark.skipif(not os.environ.get('PPDET_GHM_PADDLEDETECTION_DIR'),
                    reason='PaddleDetection\'s client is not in the paddledet wheel: '
                    'set PPDET_GHM_PADDLEDETECTION_DIR to a checkout (and pip '
                    'install -c constraints.txt -e .[ppdet-client])')
def test_paddledetections_own_client_gives_our_detections(exported, tiny_data):
    """deploy/python/infer.py of a PaddleDetection checkout, oneDNN on."""
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'deploy_compare.py'),
         '--model_dir', exported[2], '--other_backend', 'paddledetection',
         '--paddledetection_dir', os.environ['PPDET_GHM_PADDLEDETECTION_DIR'],
         '--image_dir', os.path.join(tiny_data, 'val')],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert '4 image(s) bit-identical' in proc.stdout


def test_onnx_export_refuses_a_program_with_nms(exported):
    from ppdet_ghm.deploy.onnx_export import export_onnx
    with pytest.raises(DeployError, match='exported with NMS in the program; '
                       'paddle2onnx 2.1.0 converts multiclass_nms3 wrongly'):
        export_onnx(exported[2])
    with pytest.raises(DeployError, match='no model.onnx in'):
        create_predictor(exported[2], 'onnxruntime')


def test_a_folder_without_an_export_is_named(tmp_path):
    with pytest.raises(DeployError, match="has no exported model"):
        DeployPredictor(str(tmp_path))


def test_onednn_gives_the_detections_without_it(exported, tiny_data):
    # GHMRetinaFPN exports without nearest_interp: oneDNN (the default) runs
    _, _, model_dir, _ = exported
    images = val_images(tiny_data)
    with_onednn = DeployPredictor(model_dir).predict(images)
    without = DeployPredictor(model_dir, onednn=False).predict(images)
    assert sum(len(d.scores) for d in with_onednn) > 0
    for a, b in zip(with_onednn, without):
        np.testing.assert_array_equal(a.labels, b.labels)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)


def test_onednn_still_fails_on_nearest_interp_and_such_a_model_is_named(tmp_path, exported):
    # Paddle 3.3.1's oneDNN cannot convert nearest_interp's `scale` (an array
    # of doubles): why GHMRetinaFPN exists.  When an upgrade fixes it, this
    # fails: then the repeat_interleave export is no longer needed.
    import shutil

    import paddle
    import paddle.inference as inference
    import paddle.nn.functional as F

    class Upsample(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.bias = self.create_parameter([1])    # a params file to load

        def forward(self, x):
            return F.interpolate(x, scale_factor=2., mode='nearest') + self.bias
    model = str(tmp_path / 'up' / 'model')
    paddle.jit.save(paddle.jit.to_static(Upsample(), full_graph=True, input_spec=[
        paddle.static.InputSpec([1, 3, 4, 4], 'float32', 'x')]), model)
    config = inference.Config(model + '.json', model + '.pdiparams')
    config.disable_gpu()
    config.enable_mkldnn()
    predictor = inference.create_predictor(config)
    handle = predictor.get_input_handle(predictor.get_input_names()[0])
    handle.copy_from_cpu(np.ones((1, 3, 4, 4), np.float32))
    with pytest.raises(NotImplementedError, match='ArrayAttribute<pir::DoubleAttribute>'):
        predictor.run()
    # the runner names such a model instead of failing in run()
    model_dir = str(tmp_path / 'old')
    shutil.copytree(str(tmp_path / 'up'), model_dir)
    shutil.copy(os.path.join(exported[2], 'infer_cfg.yml'), model_dir)
    with pytest.raises(DeployError, match=r"has nearest_interp ops, which Paddle "
                       r"3.3.1.s oneDNN cannot run .*\(--disable_onednn\)"):
        DeployPredictor(model_dir)


@pytest.mark.parametrize('keep_ratio, target', [(True, [800, 1333]), (False, [96, 80])])
def test_preprocessing_equals_ppdets_operators_to_the_bit(tiny_data, keep_ratio, target):
    from ppdet.data.transform import operators as ops

    from ppdet_ghm.deploy.preprocess import preprocess
    path = val_images(tiny_data)[0]
    steps = [{'type': 'Resize', 'target_size': target, 'keep_ratio': keep_ratio,
              'interp': 1},
             {'type': 'NormalizeImage', 'is_scale': True, 'mean': [0.485, 0.456, 0.406],
              'std': [0.229, 0.224, 0.225]},
             {'type': 'Permute'}]
    ours = preprocess(path, steps)
    sample = {'im_file': path}
    for op in (ops.Decode(), ops.Resize(target, keep_ratio=keep_ratio, interp=1),
               ops.NormalizeImage([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
               ops.Permute()):
        sample = op(sample)
    for key in ('image', 'im_shape', 'scale_factor'):
        assert ours[key].dtype == sample[key].dtype
        np.testing.assert_array_equal(ours[key], sample[key])


def test_the_latency_benchmark_times_every_route_side_by_side(
        exported, exported_without_nms, tiny_data, tmp_path):
    def bench(*flags):
        return subprocess.run(
            [sys.executable, os.path.join(ROOT, 'benchmarks', 'deploy_latency.py'),
             '--model_dir', exported[2], '--image_dir', os.path.join(tiny_data, 'val'),
             '--max_images', '2', '--cpu_threads', '1', '--rounds', '2',
             '--warmup', '1', '--repeats', '1', '--output_dir', str(tmp_path),
             *flags], cwd=ROOT, capture_output=True, text=True, timeout=300)
    proc = bench('--onnx_model_dir', exported_without_nms[0], '--profile', 'paddle')
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / 'deploy_latency.json') as f:
        record = json.load(f)
    assert [r['route'] for r in record['rows']] == [
        'paddle', 'paddle_no_onednn', 'paddle_without_nms', 'onnxruntime']
    for row in record['rows']:
        assert row['threads'] == 1 and len(row['rounds_total_ms']) == 2
        assert row['ms']['inference'] > 0
        assert row['total_ms'] == pytest.approx(sum(row['ms'].values()))
    assert '| 1 | onnxruntime |' in proc.stdout and '| 1.00x | 1.00x |' in proc.stdout
    assert 'onnxruntime 1.' in record['machine']
    assert 'Profiling Report' in proc.stdout      # Paddle's own op table
    # a route whose export is not given is refused by name
    missing = bench('--routes', 'paddle', 'onnxruntime')
    assert missing.returncode == 1
    assert 'route onnxruntime needs the export without NMS' in missing.stderr


def test_the_tool_names_a_bad_image_in_one_line(exported, tmp_path):
    _, _, model_dir, _ = exported
    junk = tmp_path / 'notes.txt'
    junk.write_text('not an image')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tools', 'deploy_infer.py'),
         '--model_dir', model_dir, '--image_file', str(junk)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: --image_file: '{}': the file does not decode as an image".format(junk))


def test_paddle2onnx_still_converts_the_nms_wrongly(exported, tiny_data, tmp_path):
    # Why the ONNX route exports without NMS: paddle2onnx 2.1.0's
    # multiclass_nms3 gives Paddle's rows for class 0 only.  When an upgrade
    # fixes it, this fails: then the NMS can stay in the ONNX program.
    import paddle2onnx
    import onnxruntime

    from ppdet_ghm.deploy.preprocess import pad_batch, preprocess
    model_dir = exported[2]
    paddle2onnx.export(os.path.join(model_dir, 'model.json'),
                       os.path.join(model_dir, 'model.pdiparams'),
                       str(tmp_path / 'model.onnx'), opset_version=11)
    paddle_run = DeployPredictor(model_dir)
    inputs = pad_batch([preprocess(val_images(tiny_data)[0],
                                   paddle_run.config.preprocess)])
    session = onnxruntime.InferenceSession(str(tmp_path / 'model.onnx'),
                                           providers=['CPUExecutionProvider'])
    onnx_rows = session.run(None, {n.name: inputs[n.name]
                                   for n in session.get_inputs()})[0]
    paddle_rows = paddle_run._run(inputs)[0]
    assert len(onnx_rows) == len(paddle_rows)

    def of_class(rows, label):
        rows = rows[rows[:, 0] == label]
        return rows[np.lexsort(rows[:, ::-1].T)]
    np.testing.assert_allclose(of_class(onnx_rows, 0), of_class(paddle_rows, 0),
                               atol=BOX_TOL)
    assert not np.allclose(of_class(onnx_rows, 1), of_class(paddle_rows, 1),
                           atol=BOX_TOL)


def test_the_r50_coco_config_exported_runs_with_onednn_and_gives_the_detections_without_it(
        tmp_path, tiny_data):
    # the reference detector itself (ResNet-50, FPN-256, 80 classes; random
    # weights, COCO's class names), on one image resized to 800 px as its
    # reader does.  Random weights saturate every kept score to exactly 1.0,
    # so which of the tied boxes the top-100 cut keeps is decided by the last
    # bit: labels and scores are compared, boxes cannot be (the demo
    # detector's detections, boxes included: logs/deploy/demo_agreement.txt)
    sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
    try:
        from deploy_latency import export as export_with_random_weights
    finally:
        sys.path.pop(0)
    model_dir, _ = export_with_random_weights(
        os.path.join(ROOT, 'configs', 'ghm', 'retinanet_ghm_r50_fpn_1x_coco.yml'),
        None, str(tmp_path))
    image = val_images(tiny_data)[:1]
    with_onednn = DeployPredictor(model_dir).predict(image)[0]
    without = DeployPredictor(model_dir, onednn=False).predict(image)[0]
    assert len(with_onednn.scores) == 100        # max_per_img of the config
    np.testing.assert_array_equal(with_onednn.labels, without.labels)
    np.testing.assert_allclose(with_onednn.scores, without.scores, atol=1e-5)
