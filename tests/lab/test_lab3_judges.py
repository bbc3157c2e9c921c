"""The verdict logic of the issue-11 reproductions on made-up figures: each outcome, only from the numbers."""

from __future__ import annotations

from typing import Any

from thalweg_lab import esim, gru4rec, saliency
from thalweg_lab.result import NOT_REPRODUCED, PARTLY, REPRODUCED


def _saliency(acc: tuple[float, float, float] = (0.70, 0.72, 0.73), rate: float = 0.95) -> dict[str, Any]:
    m: dict[str, Any] = {}
    for kind, a in zip(saliency.KINDS, acc):
        m[f"test_accuracy/{kind}"] = a
        m[f"top_saliency_rate/{kind}"] = rate
    m["lstm_minus_rnn"] = acc[1] - acc[0]
    m["bilstm_minus_lstm"] = acc[2] - acc[1]
    return m


def test_saliency_judge() -> None:
    assert saliency.judge(_saliency()).outcome == REPRODUCED
    # the BiLSTM falls behind the LSTM: one primary check fails
    v = saliency.judge(_saliency(acc=(0.70, 0.72, 0.71)))
    assert v.outcome == PARTLY and "BiLSTM minus LSTM" in v.reason
    # models that learned nothing: a secondary failure alone lowers "reproduced" to "partly"
    assert saliency.judge(_saliency(acc=(0.55, 0.56, 0.57))).outcome == PARTLY
    # neither the ordering nor the saliency check: nothing primary holds
    assert saliency.judge(_saliency(acc=(0.75, 0.70, 0.65), rate=0.3)).outcome == NOT_REPRODUCED
    assert saliency.judge(_saliency(rate=0.89)).outcome == PARTLY


def _gru(top1: float = 0.30, knn: float = 0.25, pop: float = 0.05, others: float = 0.28) -> dict[str, Any]:
    m: dict[str, Any] = {"recall/POP": pop, "mrr/POP": pop / 4, "recall/item-KNN": knn, "mrr/item-KNN": knn / 4,
                         "recall/GRU4Rec (top1)": top1, "mrr/GRU4Rec (top1)": top1 / 4}
    for loss in ("bpr", "cross-entropy"):
        m[f"recall/GRU4Rec ({loss})"] = others
        m[f"mrr/GRU4Rec ({loss})"] = others / 4
    return m


def test_gru4rec_judge() -> None:
    assert gru4rec.judge(_gru()).outcome == REPRODUCED
    assert gru4rec.judge(_gru(others=0.2)).outcome == PARTLY  # only the secondary checks fail
    v = gru4rec.judge(_gru(top1=0.12, knn=0.18, pop=0.07, others=0.1))
    assert v.outcome == PARTLY and "item-KNN minus POP" in v.reason.split("Holds:")[1]
    assert gru4rec.judge(_gru(top1=0.01, knn=0.02, pop=0.03, others=0.0)).outcome == NOT_REPRODUCED
    assert gru4rec.judge(_gru(top1=0.25)).outcome == PARTLY  # a tie is not "above"


def _esim(esim_acc: float = 0.80, encoder: float = 0.70, ablations: tuple[float, ...] = (0.78, 0.76, 0.60)
          ) -> dict[str, Any]:
    m: dict[str, Any] = {"esim_minus_encoder": esim_acc - encoder}
    for name, a in zip(esim.MODELS[1:4], ablations):
        m[f"esim_minus/{name}"] = esim_acc - a
    return m


def test_esim_judge() -> None:
    assert esim.judge(_esim()).outcome == REPRODUCED
    v = esim.judge(_esim(encoder=0.77))
    assert v.outcome == PARTLY and "sentence encoder" in v.reason.split("Holds:")[0]
    assert esim.judge(_esim(ablations=(0.81, 0.76, 0.60))).outcome == PARTLY
    assert esim.judge(_esim(encoder=0.79, ablations=(0.81, 0.82, 0.85))).outcome == NOT_REPRODUCED
    assert esim.judge(_esim(encoder=0.75)).outcome == REPRODUCED  # exactly 5 points is enough
