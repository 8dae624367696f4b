from .gradient_norms import *  # noqa: F401,F403
from .learning_probe import *  # noqa: F401,F403
from .level_gradients import *  # noqa: F401,F403
from .detection_errors import *  # noqa: F401,F403
