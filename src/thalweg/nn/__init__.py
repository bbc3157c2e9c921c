"""Neural-network building blocks: modules, layers, initializations, losses.

Each family lives in its own file and lists its public names in ``__all__``.
"""

from . import functional, init  # noqa: F401
from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .basic import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv_transpose import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import Module
from .normalization import *  # noqa: F401,F403
from .parameter import Parameter
from .pixelshuffle import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403
from .upsampling import *  # noqa: F401,F403
from . import utils  # noqa: F401,E402
from .sync_batchnorm import SyncBatchNorm  # noqa: F401,E402 - data-parallel BatchNorm
from . import parallel  # noqa: F401,E402 - DistributedDataParallel


def __getattr__(name: str) -> object:
    """``tw.nn.modules`` (torch's ``torch.nn.modules.<file>`` paths) is imported on first use."""
    if name == "modules":
        import importlib

        return importlib.import_module(f"{__name__}.modules")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
