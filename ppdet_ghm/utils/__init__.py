from .config import ConfigError, check_module_keys, check_top_level
from .weights import (WeightsError, check_resume_checkpoint,
                      check_weights_cover_model, load_state_dict,
                      resolve_pretrain_weights, resolve_weights_path)

__all__ = ['ConfigError', 'check_module_keys', 'check_top_level', 'WeightsError',
           'check_resume_checkpoint', 'check_weights_cover_model',
           'load_state_dict', 'resolve_pretrain_weights', 'resolve_weights_path']
