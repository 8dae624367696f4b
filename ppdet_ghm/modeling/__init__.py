from .anchor_generator import GHMRetinaAnchorGenerator
from .assigner import GHMRetinaAssigner
from .post_process import GHMRetinaPostProcess
from .retina_head import GHMRetinaHead

__all__ = ['GHMRetinaAnchorGenerator', 'GHMRetinaAssigner',
           'GHMRetinaPostProcess', 'GHMRetinaHead']
