"""Running an exported model (``tools/export_model.py``) with Paddle
Inference or ONNX Runtime, from its files alone: ``model.json``/
``model.pdmodel``, ``model.pdiparams`` (or ``model.onnx``) and
``infer_cfg.yml``.

Nothing here imports PaddleDetection or the project's model code:
:mod:`.infer_config` reads ``infer_cfg.yml``, :mod:`.preprocess`
re-implements the few preprocessing operators it lists (numerically as
PaddleDetection's readers compute them), :mod:`.predictor` wraps the Paddle
Inference predictor and the ONNX Runtime session, :mod:`.nms` is the NMS
of a model exported without it, :mod:`.onnx_export` converts with
paddle2onnx (:mod:`.pir_json` reads and rewrites ``model.json`` for it), :mod:`.outputs` writes JSON and drawn images,
:mod:`.ppdet_client` runs PaddleDetection's own deployment client for
comparison.
"""
from .infer_config import DeployError, InferConfig, load_infer_config
from .predictor import (BACKENDS, DeployPredictor, Detections, OnnxPredictor,
                        create_predictor)

__all__ = ['DeployError', 'InferConfig', 'load_infer_config', 'BACKENDS',
           'DeployPredictor', 'OnnxPredictor', 'create_predictor', 'Detections']
