"""An exported detector under Paddle Inference: images in, detections out.

On a CPU the predictor runs without oneDNN unless asked: in Paddle 3.3.1
the oneDNN executor cannot convert the ``scale`` attribute (an array of
doubles) of ``nearest_interp``, the FPN's upsampling in PaddleDetection, and
``run()`` fails with ``ConvertPirAttribute2RuntimeAttribute not support
[pir::ArrayAttribute<pir::DoubleAttribute>]`` (docs/deployment.md).
"""
import time
from dataclasses import dataclass

import numpy as np

from .infer_config import DeployError, load_infer_config, model_files
from .preprocess import pad_batch, preprocess

__all__ = ['Detections', 'DeployPredictor']


@dataclass
class Detections:
    """One image's detections: ``boxes`` ``(N, 4)`` x1, y1, x2, y2 in the
    original image's pixels, ``scores`` ``(N,)``, ``labels`` ``(N,)`` class
    ids (index into the label list)."""
    image: str
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


class DeployPredictor(object):
    """Paddle Inference predictor of an exported model folder.

    Args:
        model_dir (str): ``tools/export_model.py``'s output folder.
        device (str): ``'cpu'`` or ``'gpu'``.
        cpu_threads (int or None): CPU math threads.
        onednn (bool): use oneDNN on the CPU (fails with PaddleDetection's
            FPN in Paddle 3.3.1; see the module docstring).

    Attributes:
        config (InferConfig), timings (dict of lists of seconds per batch:
        ``preprocess``, ``inference``, ``postprocess``).
    """

    def __init__(self, model_dir, device='cpu', cpu_threads=None, onednn=False):
        import paddle.inference as inference
        program, params = model_files(model_dir)
        self.config = load_infer_config(model_dir)
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
        config.disable_glog_info()
        self.predictor = inference.create_predictor(config)
        self.timings = {'preprocess': [], 'inference': [], 'postprocess': []}

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

    def predict(self, paths):
        """Detections of a batch of image files (any sizes).

        Returns:
            list[Detections], one per path, in order.
        """
        start = time.perf_counter()
        inputs = pad_batch([preprocess(p, self.config.preprocess) for p in paths])
        ready = time.perf_counter()
        bbox, bbox_num = self._run(inputs)[:2]
        ran = time.perf_counter()
        detections, first = [], 0
        for path, count in zip(paths, np.asarray(bbox_num).reshape(-1).tolist()):
            rows = bbox[first:first + int(count)]
            first += int(count)
            detections.append(Detections(
                image=path, boxes=rows[:, 2:6].astype(np.float32),
                scores=rows[:, 1].astype(np.float32),
                labels=rows[:, 0].astype(np.int64)))
        done = time.perf_counter()
        for key, seconds in (('preprocess', ready - start),
                             ('inference', ran - ready),
                             ('postprocess', done - ran)):
            self.timings[key].append(seconds)
        return detections
