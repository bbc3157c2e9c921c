"""``torch.nn.modules.loss``'s names, resolved lazily from where thalweg defines them."""

from ._alias import install

install(__name__,
        ("L1Loss", "MSELoss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "HuberLoss",
         "SmoothL1Loss", "KLDivLoss", "MarginRankingLoss", "CosineEmbeddingLoss", "HingeEmbeddingLoss",
         "TripletMarginLoss", "PoissonNLLLoss", "GaussianNLLLoss", "CTCLoss", "MultiMarginLoss",
         "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "SoftMarginLoss", "_Loss", "_WeightedLoss"),
        ("thalweg.nn.loss",))
