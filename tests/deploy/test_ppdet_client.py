"""ppdet_ghm.deploy.ppdet_client: PaddleDetection's deploy/python/infer.py
in a child process, with the enable_memory_optim workaround, its rows turned
into Detections.  Its repository is not here, so a stand-in client with the
same interface (``Detector(model_dir, device, cpu_threads, enable_mkldnn)``,
``predict_image([path], visual=False)``) checks the plumbing; the real
client runs in tests/deploy/test_deploy.py when a checkout is named."""
import json
import os
import textwrap

import numpy as np
import pytest

from ppdet_ghm.deploy import DeployError
from ppdet_ghm.deploy.ppdet_client import PaddleDetectionClient

# the stand-in: loads a predictor the way the real client's load_predictor
# does (enable_memory_optim included), then answers with the rows that
# rows.json holds for the image's file name
STAND_IN = textwrap.dedent('''\
    import json, os
    import numpy as np
    from paddle.inference import Config, create_predictor

    HERE = os.path.dirname(os.path.abspath(__file__))

    class Detector:
        def __init__(self, model_dir, device='CPU', cpu_threads=1,
                     enable_mkldnn=False, **unused):
            config = Config(model_dir, 'model')
            config.disable_gpu()
            config.set_cpu_math_library_num_threads(cpu_threads)
            if enable_mkldnn:
                config.enable_mkldnn()
            config.enable_memory_optim()
            self.predictor = create_predictor(config)
            with open(os.path.join(HERE, 'rows.json')) as f:
                self.rows = json.load(f)

        def predict_image(self, image_list, visual=True):
            assert len(image_list) == 1 and not visual
            number, rows = self.rows[os.path.basename(image_list[0])]
            return {'boxes': np.array(rows, np.float32).reshape(-1, 6),
                    'boxes_num': np.array([number], np.int32)}
    ''')


@pytest.fixture(scope='module')
def one_conv_model(tmp_path_factory):
    """A one-convolution model saved with paddle.jit.save (model.json)."""
    import paddle
    folder = str(tmp_path_factory.mktemp('one_conv'))
    paddle.seed(0)
    layer = paddle.nn.Conv2D(3, 4, 3)
    paddle.jit.save(layer, os.path.join(folder, 'model'),
                    input_spec=[paddle.static.InputSpec([1, 3, 8, 8], 'float32')])
    return folder


def _checkout(tmp_path, script, rows=None):
    folder = tmp_path / 'PaddleDetection' / 'deploy' / 'python'
    folder.mkdir(parents=True)
    (folder / 'infer.py').write_text(script)
    (folder / 'rows.json').write_text(json.dumps(rows or {}))
    return str(tmp_path / 'PaddleDetection')


def test_paddle_still_fails_on_enable_memory_optim(one_conv_model):
    """Why the workaround exists; when this fails, Paddle fixed it and the
    workaround (and its paragraph in docs/deployment.md) can go."""
    from paddle.inference import Config, create_predictor
    config = Config(one_conv_model, 'model')
    config.disable_gpu()
    config.enable_memory_optim()
    with pytest.raises(ValueError, match='memory_optimize_pass'):
        create_predictor(config)


def test_the_clients_rows_become_detections_image_by_image(tmp_path, one_conv_model):
    rows = {'a.jpg': [2, [[1, 0.9, 1, 2, 3, 4], [0, 0.5, 5.5, 6, 7, 8.25]]],
            # no detection; a kernel may still return a placeholder row
            'b.jpg': [0, [[-1, 0, 0, 0, 0, 0]]],
            'c.jpg': [1, [[3, 0.25, 0, 0, 10, 10]]]}
    client = PaddleDetectionClient(one_conv_model, _checkout(tmp_path, STAND_IN, rows))
    detections = client.predict(['x/a.jpg', 'x/b.jpg', 'x/c.jpg'])
    assert [d.image for d in detections] == ['x/a.jpg', 'x/b.jpg', 'x/c.jpg']
    first, empty, last = detections
    np.testing.assert_array_equal(first.labels, [1, 0])
    np.testing.assert_array_equal(first.scores, np.float32([0.9, 0.5]))
    np.testing.assert_array_equal(first.boxes, [[1, 2, 3, 4], [5.5, 6, 7, 8.25]])
    assert empty.boxes.shape == (0, 4) and empty.labels.shape == (0,)
    np.testing.assert_array_equal(last.boxes, [[0, 0, 10, 10]])
    assert first.labels.dtype == np.int64 and first.boxes.dtype == np.float32


def test_a_failing_client_is_named_in_one_line(tmp_path, one_conv_model):
    script = 'class Detector:\n    def __init__(self, *a, **k):\n' \
             '        raise RuntimeError("cannot read infer_cfg.yml")\n'
    client = PaddleDetectionClient(one_conv_model, _checkout(tmp_path, script))
    with pytest.raises(DeployError) as err:
        client.predict(['a.jpg'])
    message = str(err.value)
    assert 'infer.py' in message and 'cannot read infer_cfg.yml' in message
    assert '\n' not in message


def test_a_client_that_cannot_be_imported_names_the_extra(tmp_path, one_conv_model):
    client = PaddleDetectionClient(one_conv_model, _checkout(
        tmp_path, 'import a_module_that_is_not_installed\n'))
    with pytest.raises(DeployError, match=r'a_module_that_is_not_installed.*'
                       r'\.\[ppdet-client\]'):
        client.predict(['a.jpg'])


def test_a_folder_without_the_client_is_named(tmp_path):
    with pytest.raises(DeployError, match=r"--paddledetection_dir: '.*' has no "
                       r"deploy/python/infer.py"):
        PaddleDetectionClient('model', str(tmp_path))
