"""PaddleDetection's own deployment client, ``deploy/python/infer.py`` of
its repository, on an exported model: the detections a PaddleDetection
user gets, to compare with :class:`.predictor.DeployPredictor`'s.

The client is not part of the ``paddledet`` wheel: pass the folder of a
PaddleDetection checkout (``docs/deployment.md`` names the commit checked).
It runs in a child process -- its modules have top-level names such as
``preprocess``, ``utils`` and ``visualize`` -- with two things its
repository's requirements or Paddle 3.3.1 make necessary:

* ``paddle.inference.Config.enable_memory_optim`` becomes a no-op: under
  Paddle 3.3.1 on the CPU it fails for every model (Paddle's, not the
  model's), and the client calls it unconditionally;
* ``imgaug`` must be installed (``deploy/python/preprocess.py`` imports it;
  ``pip install -c constraints.txt -e .[ppdet-client]``).

Its ``--save_results`` cannot be used: ``save_coco_results`` annotates
``bbox`` instead of assigning it, so every detection model ends in a
``NameError``; the child calls ``Detector.predict_image`` and keeps the
rows it returns (``[class, score, x1, y1, x2, y2]``).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from .infer_config import DeployError
from .predictor import Detections

__all__ = ['PaddleDetectionClient', 'client_script']


def client_script(ppdet_dir):
    """``deploy/python/infer.py`` of the checkout ``ppdet_dir``;
    :class:`DeployError` naming the path when it is not one."""
    script = os.path.join(ppdet_dir, 'deploy', 'python', 'infer.py')
    if not os.path.isfile(script):
        raise DeployError("--paddledetection_dir: '{}' has no deploy/python/"
                          "infer.py (expected a PaddleDetection checkout)".format(
                              ppdet_dir))
    return script


class PaddleDetectionClient:
    """PaddleDetection's ``Detector`` on an exported model folder, one image
    per call of its ``predict_image`` (its default batch of 1).

    Args:
        model_dir (str): ``tools/export_model.py``'s output folder.
        ppdet_dir (str): a PaddleDetection checkout.
        cpu_threads (int): the client's ``--cpu_threads``.
        onednn (bool): the client's ``--enable_mkldnn``.
    """

    def __init__(self, model_dir, ppdet_dir, cpu_threads=1, onednn=True):
        self.script = client_script(ppdet_dir)
        self.model_dir = model_dir
        self.cpu_threads = int(cpu_threads)
        self.onednn = bool(onednn)

    def predict(self, paths):
        """Detections of the image files ``paths``, in order (one child
        process for all of them).

        Returns:
            list[Detections]
        """
        with tempfile.TemporaryDirectory() as tmp:
            job = {'script': self.script, 'model_dir': self.model_dir,
                   'images': [os.path.abspath(p) for p in paths],
                   'cpu_threads': self.cpu_threads, 'onednn': self.onednn,
                   'output': os.path.join(tmp, 'rows.npz')}
            proc = subprocess.run(
                [sys.executable, '-m', 'ppdet_ghm.deploy.ppdet_client',
                 json.dumps(job)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise DeployError("PaddleDetection's client ({}) failed on '{}': "
                                  "{}".format(self.script, self.model_dir,
                                              _last_line(proc.stderr)))
            with np.load(job['output']) as saved:
                rows = [saved['image{}'.format(i)] for i in range(len(paths))]
        return [Detections.from_rows(path, r) for path, r in zip(paths, rows)]

    def predict_batches(self, paths, batch_size=1):
        """:meth:`predict` (the client reads one image at a time whatever
        ``batch_size``, as its users run it)."""
        return self.predict(paths)


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else '(no message)'


def _run_client(job):
    """In the child: import the client from its folder and keep each
    image's ``(N, 6)`` rows."""
    import paddle.inference

    # the workaround: Paddle 3.3.1 cannot enable memory optimisation on the
    # CPU, and the client's load_predictor always asks for it
    paddle.inference.Config.enable_memory_optim = lambda self, *a, **k: None
    sys.path.insert(0, os.path.dirname(job['script']))
    try:
        import infer
    except ImportError as err:
        sys.exit("cannot import {}: {} (pip install -c constraints.txt -e "
                 ".[ppdet-client])".format(job['script'], err))
    detector = infer.Detector(job['model_dir'], device='CPU',
                              cpu_threads=job['cpu_threads'],
                              enable_mkldnn=job['onednn'])
    rows = {}
    for i, path in enumerate(job['images']):
        result = detector.predict_image([path], visual=False)
        number = int(np.asarray(result['boxes_num']).reshape(-1)[0])
        rows['image{}'.format(i)] = np.asarray(result['boxes'])[:number].reshape(-1, 6)
    np.savez(job['output'], **rows)


if __name__ == '__main__':
    _run_client(json.loads(sys.argv[1]))
