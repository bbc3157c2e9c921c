"""Probability distributions for policies and variational models (``tw.distributions``).

    from thalweg.distributions import Categorical, Normal, kl_divergence
    pi = Categorical(logits=policy(obs))
    action = pi.sample()                       # no gradient, the run's seeded generator
    loss = -(pi.log_prob(action) * advantage).mean() - 0.01 * pi.entropy().mean()

``Normal.rsample`` is reparameterised (gradients flow through the draw);
``kl_divergence(p, q)`` has closed forms for two members of the same family.
Values, entropies, KLs and their gradients match ``torch.distributions``.
"""

from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .normal import Normal

__all__ = ["Bernoulli", "Categorical", "Distribution", "Normal", "kl_divergence", "register_kl"]
