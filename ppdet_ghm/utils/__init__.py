from .config import ConfigError, check_module_keys
from .weights import (WeightsError, check_weights_cover_model,
                      resolve_pretrain_weights, resolve_weights_path)

__all__ = ['ConfigError', 'check_module_keys', 'WeightsError',
           'check_weights_cover_model', 'resolve_pretrain_weights',
           'resolve_weights_path']
