"""The verdict logic of the issue-11 reproductions on made-up figures: each outcome, only from the numbers."""

from __future__ import annotations

from typing import Any

from thalweg_lab import esim, gru4rec, saliency
from thalweg_lab.result import NOT_REPRODUCED, PARTLY, REPRODUCED


def _saliency(acc: tuple[float, float, float] = (0.70, 0.75, 0.80), rank: float = 0.9, se: float = 0.01
              ) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for kind, a in zip(saliency.KINDS, acc):
        m[f"test_accuracy/{kind}"] = a
        m[f"polar_rank/gradient/{kind}"] = rank
    m["lstm_minus_rnn"], m["lstm_minus_rnn_se"] = acc[1] - acc[0], se
    m["bilstm_minus_lstm"], m["bilstm_minus_lstm_se"] = acc[2] - acc[1], se
    return m


def test_saliency_judge() -> None:
    assert saliency.judge(_saliency()).outcome == REPRODUCED
    # the BiLSTM falls behind the LSTM: a secondary check fails
    v = saliency.judge(_saliency(acc=(0.70, 0.75, 0.74)))
    assert v.outcome == PARTLY and "BiLSTM minus LSTM" in v.reason.split("Holds:")[0]
    # a 1.75-point gap within one standard error (2.5 points) is not a ranking
    v = saliency.judge(_saliency(acc=(0.70, 0.7175, 0.80), se=0.025))
    assert v.outcome == PARTLY and "LSTM minus RNN" in v.reason.split("Holds:")[0]
    # models that learned nothing: a secondary failure alone lowers "reproduced" to "partly"
    assert saliency.judge(_saliency(acc=(0.55, 0.56, 0.57), se=0.001)).outcome == PARTLY
    # the polar words rank near chance: nothing primary holds
    assert saliency.judge(_saliency(rank=0.55)).outcome == NOT_REPRODUCED
    assert saliency.judge(_saliency(rank=0.74)).outcome == NOT_REPRODUCED



def _gru(ml: float = 0.30, clicks: float = 0.60, knn: float = 0.25, pop: float = 0.05, se: float = 0.005
         ) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for ds, gru in (("movielens", ml), ("clickstream", clicks)):
        for key, scale in (("recall", 1.0), ("mrr", 0.25)):
            m[f"{ds}/{key}/GRU4Rec"], m[f"{ds}/{key}_se/GRU4Rec"] = gru * scale, se * scale
            m[f"{ds}/{key}/item-KNN"], m[f"{ds}/{key}/POP"] = knn * scale, pop * scale
    return m


def test_gru4rec_judge() -> None:
    assert gru4rec.judge(_gru()).outcome == REPRODUCED
    v = gru4rec.judge(_gru(ml=0.255))  # above item-KNN by less than two standard errors: not counted
    assert v.outcome == PARTLY and "movielens: Recall@20" in v.reason.split("Holds:")[0]
    assert gru4rec.judge(_gru(ml=0.2, clicks=0.2)).outcome == NOT_REPRODUCED
    assert gru4rec.judge(_gru(knn=0.01, ml=0.5, clicks=0.7)).outcome == PARTLY  # item-KNN below POP: secondary


def _esim(esim_acc: float = 0.80, encoder: float = 0.70, ablations: tuple[float, ...] = (0.78, 0.76, 0.60),
          bow: float = 0.55, chance: float = 1 / 3) -> dict[str, Any]:
    m: dict[str, Any] = {"esim_minus_encoder": esim_acc - encoder, "esim_minus_bow": esim_acc - bow,
                         "bow_minus_chance": bow - chance}
    for name, a in zip(esim.MODELS[1:4], ablations):
        m[f"esim_minus/{name}"] = esim_acc - a
    return m


def test_esim_judge() -> None:
    assert esim.judge(_esim()).outcome == REPRODUCED
    v = esim.judge(_esim(encoder=0.77))
    assert v.outcome == PARTLY and "sentence encoder" in v.reason.split("Holds:")[0]
    assert esim.judge(_esim(ablations=(0.81, 0.76, 0.60))).outcome == PARTLY  # a secondary check fails
    assert esim.judge(_esim(bow=0.78)).outcome == PARTLY  # lexical overlap nearly solves it
    assert esim.judge(_esim(bow=0.34)).outcome == PARTLY  # a broken baseline is flagged
    assert esim.judge(_esim(encoder=0.79, bow=0.79, ablations=(0.81, 0.82, 0.85))).outcome == NOT_REPRODUCED
    assert esim.judge(_esim(encoder=0.75)).outcome == REPRODUCED  # exactly 5 points is enough
