from .weights import (WeightsError, check_weights_cover_model,
                      resolve_pretrain_weights, resolve_weights_path)

__all__ = ['WeightsError', 'check_weights_cover_model',
           'resolve_pretrain_weights', 'resolve_weights_path']
