from .gradient_norms import *  # noqa: F401,F403
