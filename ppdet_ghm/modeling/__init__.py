from .anchor_generator import GHMRetinaAnchorGenerator
from .assigner import GHMRetinaAssigner
from .backbone import FrozenStatsResNet
from .box_coder import DeltaXYWHBoxCoder
from .fpn import GHMRetinaFPN
from .post_process import GHMRetinaPostProcess
from .retina_head import GHMRetinaHead, neck_features

__all__ = ['GHMRetinaAnchorGenerator', 'GHMRetinaAssigner', 'FrozenStatsResNet',
           'DeltaXYWHBoxCoder', 'GHMRetinaFPN', 'GHMRetinaPostProcess', 'GHMRetinaHead',
           'neck_features']
