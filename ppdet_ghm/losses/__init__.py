from .ghm_c_loss import GHMCLoss
from .ghm_r_loss import GHMRLoss

__all__ = ['GHMCLoss', 'GHMRLoss']
