"""An exported detector under Paddle Inference or ONNX Runtime: images in,
detections out.

On a CPU the Paddle Inference predictor uses oneDNN unless told not to.
Paddle 3.3.1's oneDNN executor cannot convert the ``scale`` attribute (an
array of doubles) of ``nearest_interp``, the upsampling of PaddleDetection's
FPN (``run()`` fails with ``ConvertPirAttribute2RuntimeAttribute not
support [pir::ArrayAttribute<pir::DoubleAttribute>]``); the project's
``GHMRetinaFPN`` exports without that op.  A model exported with one is
refused with oneDNN on, naming the op and both ways out (docs/deployment.md).
"""
import abc
import json
import os
import time
from dataclasses import dataclass

import numpy as np

from .infer_config import DeployError, load_infer_config, model_files
from .nms import multiclass_nms
from .pir_json import pir_json_op_names
from .preprocess import pad_batch, preprocess

__all__ = ['Detections', 'DeployPredictor', 'OnnxPredictor', 'create_predictor',
           'BACKENDS']

BACKENDS = ('paddle', 'onnxruntime')


@dataclass
class Detections:
    """One image's detections: ``boxes`` ``(N, 4)`` x1, y1, x2, y2 in the
    original image's pixels, ``scores`` ``(N,)``, ``labels`` ``(N,)`` class
    ids (index into the label list)."""
    image: str
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    @classmethod
    def from_rows(cls, image, rows):
        """From NMS rows ``(N, 6)``: ``[class, score, x1, y1, x2, y2]``."""
        return cls(image=image, boxes=rows[:, 2:6].astype(np.float32),
                   scores=rows[:, 1].astype(np.float32),
                   labels=rows[:, 0].astype(np.int64))


class _Predictor(abc.ABC):
    """Preprocessing, running a backend (``_run``) and turning its outputs
    into :class:`Detections`, timed stage by stage.

    Attributes:
        config (InferConfig), timings (dict of lists of seconds per batch:
        ``preprocess``, ``inference``, ``postprocess``).
    """

    def __init__(self, model_dir):
        self.config = load_infer_config(model_dir)
        self.timings = {'preprocess': [], 'inference': [], 'postprocess': []}

    @abc.abstractmethod
    def _run(self, inputs):
        """The model's outputs (list of arrays) for the input dict."""

    def _rows_per_image(self, outputs):
        """``(M, 6)`` rows ``[class, score, x1, y1, x2, y2]`` per image: the
        program's NMS output split by ``bbox_num``, or, for a model exported
        without NMS, :func:`.nms.multiclass_nms` of each image's
        ``boxes (K, 4)`` and ``scores (C, K)``."""
        first, second = outputs[:2]
        if self.config.nms is not None:
            return [multiclass_nms(boxes, scores, **self.config.nms)
                    for boxes, scores in zip(first, second)]
        rows, start = [], 0
        for number in np.asarray(second).reshape(-1).tolist():
            rows.append(first[start:start + int(number)])
            start += int(number)
        return rows

    def predict(self, paths):
        """Detections of a batch of image files (any sizes).

        Returns:
            list[Detections], one per path, in order.
        """
        start = time.perf_counter()
        inputs = pad_batch([preprocess(p, self.config.preprocess) for p in paths])
        ready = time.perf_counter()
        outputs = self._run(inputs)
        ran = time.perf_counter()
        detections = [Detections.from_rows(path, rows)
                      for path, rows in zip(paths, self._rows_per_image(outputs))]
        done = time.perf_counter()
        for key, seconds in (('preprocess', ready - start),
                             ('inference', ran - ready),
                             ('postprocess', done - ran)):
            self.timings[key].append(seconds)
        return detections

    def predict_batches(self, paths, batch_size=1):
        """:meth:`predict` on ``batch_size`` images at a time; yields each
        image's :class:`Detections`, in order."""
        for i in range(0, len(paths), batch_size):
            yield from self.predict(paths[i:i + batch_size])


class DeployPredictor(_Predictor):
    """Paddle Inference predictor of an exported model folder.

    Args:
        model_dir (str): ``tools/export_model.py``'s output folder.
        device (str): ``'cpu'`` or ``'gpu'``.
        cpu_threads (int or None): CPU math threads.
        onednn (bool): use oneDNN on the CPU (default); a program with an
            interpolation op is refused then (see the module docstring).
        profile (bool): Paddle's profiler on; it prints its op table when
            the predictor is destroyed.

    """

    def __init__(self, model_dir, device='cpu', cpu_threads=None, onednn=True,
                 profile=False):
        import paddle.inference as inference
        program, params = model_files(model_dir)
        super().__init__(model_dir)
        if device == 'cpu' and onednn:
            _check_onednn_can_run(program, model_dir)
        config = inference.Config(program, params)
        if device == 'gpu':
            config.enable_use_gpu(200, 0)
        elif device == 'cpu':
            config.disable_gpu()
            if onednn:
                config.enable_mkldnn()
            else:
                config.disable_mkldnn()
            if cpu_threads:
                config.set_cpu_math_library_num_threads(int(cpu_threads))
        else:
            raise DeployError("--device: expected 'cpu' or 'gpu', got {!r}".format(
                device))
        if profile:
            config.enable_profile()
        config.disable_glog_info()
        self.predictor = inference.create_predictor(config)

    def _run(self, inputs):
        for name in self.predictor.get_input_names():
            if name not in inputs:
                raise DeployError("the model wants an input '{}' that the "
                                  "runner does not make".format(name))
            handle = self.predictor.get_input_handle(name)
            handle.reshape(inputs[name].shape)
            handle.copy_from_cpu(np.ascontiguousarray(inputs[name]))
        self.predictor.run()
        names = self.predictor.get_output_names()
        return [self.predictor.get_output_handle(n).copy_to_cpu() for n in names]


class OnnxPredictor(_Predictor):
    """ONNX Runtime session of ``model_dir/model.onnx`` (written by
    ``tools/export_model.py --onnx``), CPU.

    Args:
        model_dir (str): the export folder (``model.onnx``, ``infer_cfg.yml``).
        cpu_threads (int or None): intra-op threads.
    """

    def __init__(self, model_dir, cpu_threads=None):
        from .onnx_export import ONNX_FILE
        path = os.path.join(model_dir, ONNX_FILE)
        if not os.path.isfile(path):
            raise DeployError("--model_dir: no {} in '{}' (write it with "
                              "tools/export_model.py --onnx)".format(ONNX_FILE,
                                                                     model_dir))
        super().__init__(model_dir)
        self.model_dir = model_dir
        if self.config.nms is None:
            raise DeployError('{}: infer_cfg.yml has no NMS block; the ONNX '
                              'route exports without NMS (tools/export_model.py '
                              '--onnx)'.format(model_dir))
        try:
            import onnxruntime
        except ImportError as err:
            raise DeployError('--backend onnxruntime needs onnxruntime: pip '
                              'install -c constraints.txt -e ".[deploy]" ({})'.format(err)) from err
        options = onnxruntime.SessionOptions()
        if cpu_threads:
            options.intra_op_num_threads = int(cpu_threads)
        options.log_severity_level = 3     # no unused-initializer warnings
        self.session = onnxruntime.InferenceSession(
            path, options, providers=['CPUExecutionProvider'])

    def _run(self, inputs):
        feeds = {}
        for node in self.session.get_inputs():
            if node.name not in inputs:
                raise DeployError("the model wants an input '{}' that the "
                                  "runner does not make".format(node.name))
            array = np.ascontiguousarray(inputs[node.name])
            if len(node.shape) != array.ndim or any(
                    isinstance(want, int) and want != got
                    for want, got in zip(node.shape, array.shape)):
                raise DeployError(
                    "{}: input '{}' has the fixed shape {} of the export, got "
                    "{} (export with TestReader.inputs_def.image_shape "
                    "[3, -1, -1] for any size)".format(
                        self.model_dir, node.name, list(node.shape), array.shape))
            feeds[node.name] = array
        return self.session.run(None, feeds)


def _check_onednn_can_run(program, model_dir):
    """:class:`DeployError` for a PIR program with an interpolation op, which
    Paddle 3.3.1's oneDNN executor cannot run (an old export, or a model with
    PaddleDetection's FPN)."""
    if not program.endswith('.json'):
        return
    with open(program) as f:
        interps = sorted({name for name in pir_json_op_names(json.load(f))
                          if name.endswith('_interp')})
    if interps:
        raise DeployError(
            "--model_dir: '{}' has {} ops, which Paddle 3.3.1's oneDNN cannot "
            "run (PaddleDetection's FPN upsampling): re-export it with this "
            "version (GHMRetinaFPN exports without them) or run without oneDNN "
            "(--disable_onednn)".format(model_dir, ', '.join(interps)))


def create_predictor(model_dir, backend='paddle', device='cpu', cpu_threads=None,
                     onednn=True):
    """A :class:`DeployPredictor` (``backend='paddle'``) or an
    :class:`OnnxPredictor` (``'onnxruntime'``, CPU only)."""
    if backend == 'paddle':
        return DeployPredictor(model_dir, device, cpu_threads, onednn)
    if backend == 'onnxruntime':
        if device != 'cpu':
            raise DeployError("--backend onnxruntime runs on the CPU here; got "
                              "--device {}".format(device))
        return OnnxPredictor(model_dir, cpu_threads)
    raise DeployError('--backend: expected one of {}, got {!r}'.format(
        ', '.join(BACKENDS), backend))
