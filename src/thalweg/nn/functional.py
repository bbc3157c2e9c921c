"""``thalweg.nn.functional``: the stateless form of every layer and loss.

The pieces live in ``functional_parts/`` (one file per family); this module
gathers them under PyTorch's familiar name: ``import thalweg.nn.functional as F``.
"""

from ..ops.api import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh  # noqa: F401
from .functional_parts.attention import *  # noqa: F401,F403
from .functional_parts.basic import *  # noqa: F401,F403
from .functional_parts.conv import *  # noqa: F401,F403
from .functional_parts.conv_transpose import *  # noqa: F401,F403
from .functional_parts.group_norm import *  # noqa: F401,F403
from .functional_parts.loss import *  # noqa: F401,F403
from .functional_parts.recurrent import *  # noqa: F401,F403
from .functional_parts.resampling import *  # noqa: F401,F403
