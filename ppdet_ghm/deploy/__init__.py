"""Running an exported model (``tools/export_model.py``) with Paddle
Inference, from its files alone: ``model.json``/``model.pdmodel``,
``model.pdiparams`` and ``infer_cfg.yml``.

Nothing here imports PaddleDetection or the project's model code:
:mod:`.infer_config` reads ``infer_cfg.yml``, :mod:`.preprocess`
re-implements the few preprocessing operators it lists (numerically as
PaddleDetection's readers compute them), :mod:`.predictor` wraps the Paddle
Inference predictor, :mod:`.outputs` writes JSON and drawn images.
"""
from .infer_config import DeployError, InferConfig, load_infer_config
from .predictor import DeployPredictor, Detections

__all__ = ['DeployError', 'InferConfig', 'load_infer_config',
           'DeployPredictor', 'Detections']
