"""``thalweg_lab.recsys``: session-based recommendation (GRU4Rec, Hidasi et al. 2016, arXiv:1511.06939).

* ``GRU4Rec``, ``train_epoch``, ``GRU4RecRecommender``: the model and its session-parallel training
* ``bpr_loss``, ``top1_loss``, ``sampled_cross_entropy``: ranking losses over in-batch negatives
* ``Popularity``, ``SessionPopularity``, ``ItemKNN``: the paper's baselines (POP, S-POP, item-KNN)
* ``evaluate_sessions``, ``target_ranks``, ``recall_at_k``, ``mrr_at_k``: Recall@K and MRR@K

The sessions themselves (loading MovieLens, cutting sessions at time gaps,
the time split, session-parallel batches) live in ``thalweg_lab.sessions``.
"""

from thalweg_lab.recsys.baselines import ItemKNN, Popularity, SessionPopularity, SessionRecommender, evaluate_sessions, item_counts
from thalweg_lab.recsys.gru4rec import GRU4Rec, GRU4RecRecommender, train_epoch
from thalweg_lab.recsys.losses import RANKING_LOSSES, bpr_loss, sampled_cross_entropy, top1_loss
from thalweg_lab.recsys.metrics import RankingMetrics, mrr_at_k, recall_at_k, target_ranks

__all__ = ["GRU4Rec", "GRU4RecRecommender", "ItemKNN", "Popularity", "RANKING_LOSSES", "RankingMetrics",
           "SessionPopularity", "SessionRecommender", "bpr_loss", "evaluate_sessions", "item_counts", "mrr_at_k",
           "recall_at_k", "sampled_cross_entropy", "target_ranks", "top1_loss", "train_epoch"]
