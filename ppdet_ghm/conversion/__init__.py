"""mmdetection GHM RetinaNet checkpoints -> PaddleDetection ``.pdparams``.

Three layers, each usable alone:

* :mod:`.torch_checkpoint` reads ``torch.save`` files (zip and legacy)
  without PyTorch;
* :mod:`.mmdet_retinanet` maps an mmdetection RetinaNet state dict onto a
  built ``RetinaNet`` + ``GHMRetinaHead`` model, checking one-to-one cover;
* :mod:`.convert` runs both for a file, writes the ``.pdparams`` and checks
  it strictly against the model (what ``tools/convert_mmdet_weights.py``
  calls).
"""
from .convert import ConversionReport, convert_checkpoint
from .mmdet_retinanet import (ConversionError, ConversionResult,
                              compare_class_names, convert_mmdet_state_dict,
                              mmdet_key_pairs, reference_architecture_problems)
from .torch_checkpoint import TorchCheckpointError, load_state_dict

__all__ = ['ConversionReport', 'convert_checkpoint', 'ConversionError',
           'ConversionResult', 'compare_class_names',
           'convert_mmdet_state_dict', 'mmdet_key_pairs',
           'reference_architecture_problems', 'TorchCheckpointError',
           'load_state_dict']
