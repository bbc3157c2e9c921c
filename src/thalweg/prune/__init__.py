"""``tw.prune``: magnitude pruning with fixed masks, retraining, sensitivity, sparse storage.

Han, Pool, Tran and Dally, "Learning both Weights and Connections for
Efficient Neural Networks" (NIPS 2015, arXiv 1506.02626): train, remove the
small weights, retrain what is left; repeat.  ::

    import thalweg as tw
    from thalweg import optim, prune

    masks = prune.prune_by_std(model, quality=1.0)         # |w| < q * std(W) goes, layer by layer
    opt = masks.wrap(optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4))
    tw.train.fit(model, opt, train, dev, epochs=3)          # pruned weights stay exactly 0

    prune.prune_layers(model, {"0.weight": 0.92, "2.weight": 0.91})   # fixed sparsity per layer
    prune.prune_global(model, 0.9)                                    # one threshold for all layers
    prune.iterative_prune(model, retrain, sparsity=0.92, steps=4)     # prune / retrain rounds
    prune.adjust_dropout(model)                             # D_r = D_o sqrt(C_r / C_o)
    sens = prune.sensitivity_analysis(model, evaluate)      # accuracy vs fraction pruned, per layer
    report = prune.export_sparse(model, "model.npz")        # relative-index CSR; bytes and ratio
    model.load_state_dict(prune.load_sparse("model.npz"))

Pruned weights stay zero through any optimizer: the masks zero each
gradient in ``backward`` (a hook) and ``masks.wrap(optimizer)`` re-applies
them to the weights after every step (see ``prune.optimizer``).  Masks only
shrink; pruning again never revives a connection.
"""

from .dropout import adjust_dropout, retrain_dropout_rate
from .masks import PruningMasks, masks_of, prunable_parameters, remove
from .optimizer import MaskedOptimizer
from .plots import WeightHistograms, plot_weight_histograms, weight_histograms
from .rules import magnitude_mask, prune_by_std, prune_global, prune_layers, prune_with_masks
from .schedule import PruneRound, iterative_prune, sparsity_schedule
from .sensitivity import DEFAULT_FRACTIONS, Sensitivity, sensitivity_analysis
from .stats import LayerRow, LayerTable, layer_table
from .storage import (LayerStorage, SparseTensor, StorageReport, decode_relative, encode_relative, export_sparse,
                      load_sparse, storage_report)

__all__ = ["DEFAULT_FRACTIONS", "LayerRow", "LayerStorage", "LayerTable", "MaskedOptimizer", "PruneRound",
           "PruningMasks", "Sensitivity", "SparseTensor", "StorageReport", "WeightHistograms", "adjust_dropout",
           "decode_relative", "encode_relative", "export_sparse", "iterative_prune", "layer_table", "load_sparse",
           "magnitude_mask", "masks_of", "plot_weight_histograms", "prunable_parameters", "prune_by_std",
           "prune_global", "prune_layers", "prune_with_masks", "remove", "retrain_dropout_rate",
           "sensitivity_analysis", "sparsity_schedule", "storage_report", "weight_histograms"]
