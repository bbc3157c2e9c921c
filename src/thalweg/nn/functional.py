"""``thalweg.nn.functional``: the stateless form of every layer and loss.

The pieces live in ``functional_parts/`` (one file per family); this module
gathers them under PyTorch's familiar name: ``import thalweg.nn.functional as F``.  Each name is imported
explicitly, so a reader finds where ``F.x`` lives with one search.
"""

from ..ops.api import gelu, log_softmax, sigmoid, softmax, softplus, tanh
from .functional_parts.activation import (bilinear, celu, glu, hardshrink, hardsigmoid, hardswish, hardtanh,
                                          logsigmoid, mish, pairwise_distance, prelu, relu6, rrelu, selu, silu,
                                          softmin, softshrink, softsign, tanhshrink, threshold, unfold, fold)
from .functional_parts.attention import scaled_dot_product_attention
from .functional_parts.basic import (batch_norm, dropout, dropout1d, dropout2d, dropout3d, elu, flatten, layer_norm,
                                     leaky_relu, linear, normalize, one_hot, pad, relu, unflatten)
from .functional_parts.conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d,
                                    max_pool1d, max_pool2d)
from .functional_parts.conv_transpose import conv_transpose1d, conv_transpose2d, transposed_output_padding
from .functional_parts.group_norm import group_norm
from .functional_parts.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cosine_similarity,
                                    cross_entropy, huber_loss, kl_div, l1_loss, margin_ranking_loss, mse_loss,
                                    nll_loss, smooth_l1_loss)
from .functional_parts.recurrent import embedding
from .functional_parts.resampling import (interpolate, pixel_shuffle, pixel_unshuffle, upsample, upsample_bilinear,
                                          upsample_nearest)

__all__ = ["adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "batch_norm",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv1d", "conv2d",
           "conv_transpose1d", "conv_transpose2d", "cosine_similarity", "cross_entropy", "dropout",
           "dropout1d", "dropout2d", "dropout3d", "elu", "embedding", "flatten", "gelu", "group_norm",
           "huber_loss", "interpolate", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear",
           "log_softmax", "margin_ranking_loss", "max_pool1d", "max_pool2d", "mse_loss", "nll_loss",
           "normalize", "one_hot", "pad", "pixel_shuffle", "pixel_unshuffle", "relu",
           "scaled_dot_product_attention", "sigmoid", "smooth_l1_loss", "softmax", "softplus", "tanh",
           "transposed_output_padding", "unflatten", "upsample", "upsample_bilinear", "upsample_nearest",
           "bilinear", "celu", "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "logsigmoid", "mish",
           "pairwise_distance", "prelu", "relu6", "rrelu", "selu", "silu", "softmin", "softshrink", "softsign",
           "tanhshrink", "threshold", "unfold", "fold"]
