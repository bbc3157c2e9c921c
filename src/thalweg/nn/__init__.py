"""Neural-network building blocks: modules, layers, initializations, losses.

Each family lives in its own file and lists its public names in ``__all__``.
"""

from . import functional, init  # noqa: F401
from .activation import *  # noqa: F401,F403
from .activation_extra import *  # noqa: F401,F403
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
from .._lazy import lazy_names  # noqa: E402

# Imported on first use (PEP 562): ``nn.utils`` (clipping, vectors, pruning masks), the data-parallel pieces
# (``nn.parallel.DistributedDataParallel``, ``nn.SyncBatchNorm``, which need ``thalweg.distributed``) and
# ``nn.modules`` (torch's ``torch.nn.modules.<file>`` paths).
__getattr__, __dir__ = lazy_names(__name__, {"utils": ".", "parallel": ".", "modules": ".",
                                             "SyncBatchNorm": ".sync_batchnorm"})
