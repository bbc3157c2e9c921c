"""A generated three-way inference task whose labels follow from lexical relations, negation and word order.

No NLI corpus is available offline, so the ESIM reproduction trains on
pairs generated here.  It is *synthetic*: a small closed vocabulary and a
hand-written logic, not natural language; figures on it say nothing about
SNLI accuracy, only whether alignment helps on a task that needs it.

The world
---------
* 16 nouns in two categories with a hypernym each: people (man, woman, boy,
  girl, doctor, farmer, singer, teacher -> "person") and animals (dog, cat,
  horse, bird, cow, goat, duck, sheep -> "animal").
* 12 transitive verbs in 6 exclusive pairs (loves/hates, helps/hurts,
  follows/leads, pushes/pulls, praises/blames, feeds/starves): in this world
  doing one excludes doing the other to the same object.
* 10 adjectives in 5 exclusive pairs (tall/short, young/old, happy/sad,
  calm/angry, big/small).

A premise states ``n_facts`` facts "the [ADJ] X VERB the Y" about distinct
nouns ("the tall man loves the dog , the girl hates the horse and the old cow
follows the bird .").  A hypothesis makes one claim, active ("the man does
not hate the dog") or passive ("the dog is loved by a person"), with a
definite noun ("the man": that entity of the premise) or an indefinite
hypernym ("a person": some person).  Its label is computed, not templated:

* entailment: some premise fact matches the claim: same (or, for "a
  person"/"an animal", any member of the category) subject and object, the
  adjective if one is given, and the verb; a negated claim "X does not V Y" is
  entailed by a fact "X V' Y" with V' the verb excluded by V;
* contradiction: with definite subject and object that occur in the premise,
  a fact "X V' Y" with the excluded verb (for a positive claim) or "X V Y"
  (for a negated one), or an adjective excluded by the premise's adjective
  of X;
* neutral: anything else (swapped roles, nouns or pairs the premise does not
  relate, a hypernym whose claim is not established, ...).

Hypotheses are proposed by mutating a premise fact (swap the roles, change
the voice, generalise or replace a noun, exchange the verb for its opposite
or another, negate, change the adjective) and kept when their computed
label is the class wanted, so every class is equally frequent and surface
features such as "not" or "a person" occur in every class.  Deciding needs
the hypothesis's words to be aligned with the right premise fact, which is
what ESIM's soft alignment provides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thalweg_lab.nli.data import LABELS, NLIData

__all__ = ["PEOPLE", "ANIMALS", "VERB_PAIRS", "ADJECTIVE_PAIRS", "Fact", "Claim", "label_of", "claim_tokens",
           "premise_tokens", "make_inference_task"]

PEOPLE = ("man", "woman", "boy", "girl", "doctor", "farmer", "singer", "teacher")
ANIMALS = ("dog", "cat", "horse", "bird", "cow", "goat", "duck", "sheep")
HYPERNYM = {**{n: "person" for n in PEOPLE}, **{n: "animal" for n in ANIMALS}}
# (third person singular, base form, past participle), in exclusive pairs
VERB_PAIRS = ((("loves", "love", "loved"), ("hates", "hate", "hated")),
              (("helps", "help", "helped"), ("hurts", "hurt", "hurt")),
              (("follows", "follow", "followed"), ("leads", "lead", "led")),
              (("pushes", "push", "pushed"), ("pulls", "pull", "pulled")),
              (("praises", "praise", "praised"), ("blames", "blame", "blamed")),
              (("feeds", "feed", "fed"), ("starves", "starve", "starved")))
VERBS = tuple(v for pair in VERB_PAIRS for v in pair)
ADJECTIVE_PAIRS = (("tall", "short"), ("young", "old"), ("happy", "sad"), ("calm", "angry"), ("big", "small"))
ADJECTIVES = tuple(a for pair in ADJECTIVE_PAIRS for a in pair)
NOUNS = PEOPLE + ANIMALS


def _opposite_verb(v: int) -> int:
    return v ^ 1  # VERBS holds the pairs side by side


def _opposite_adjective(a: int) -> int:
    return a ^ 1


@dataclass(frozen=True)
class Fact:
    """"the [adjective] subject verb the object"; nouns, verbs, adjectives as indices into NOUNS, VERBS, ADJECTIVES."""

    subject: int
    adjective: int | None
    verb: int
    obj: int


@dataclass(frozen=True)
class Claim:
    """A hypothesis: subject/object are noun indices, ``*_generic`` makes them "a <hypernym>"."""

    subject: int
    subject_generic: bool
    adjective: int | None
    negated: bool
    verb: int
    obj: int
    obj_generic: bool
    passive: bool


def _matches(noun: int, generic: bool, actual: int) -> bool:
    return HYPERNYM[NOUNS[noun]] == HYPERNYM[NOUNS[actual]] if generic else noun == actual


def label_of(facts: list[Fact], claim: Claim) -> int:
    """The label (index into ``LABELS``) of ``claim`` given the premise ``facts`` (module docstring)."""
    wanted_verb = _opposite_verb(claim.verb) if claim.negated else claim.verb
    for f in facts:
        if (_matches(claim.subject, claim.subject_generic, f.subject) and _matches(claim.obj, claim.obj_generic, f.obj)
                and claim.adjective in (None, f.adjective) and f.verb == wanted_verb):
            return LABELS.index("entailment")
    if not claim.subject_generic and not claim.obj_generic:
        if claim.adjective is not None:
            for f in facts:
                if f.subject == claim.subject and f.adjective == _opposite_adjective(claim.adjective):
                    return LABELS.index("contradiction")
        excluded = claim.verb if claim.negated else _opposite_verb(claim.verb)
        for f in facts:
            if f.subject == claim.subject and f.obj == claim.obj and f.verb == excluded:
                return LABELS.index("contradiction")
    return LABELS.index("neutral")


def _noun_phrase(noun: int, generic: bool, adjective: int | None) -> list[str]:
    head = HYPERNYM[NOUNS[noun]] if generic else NOUNS[noun]
    words = ([ADJECTIVES[adjective]] if adjective is not None else []) + [head]
    det = ("an" if words[0][0] in "aeiou" else "a") if generic else "the"
    return [det] + words


def claim_tokens(claim: Claim) -> list[str]:
    """The hypothesis sentence of ``claim`` as tokens."""
    forms = VERBS[claim.verb]
    subject = _noun_phrase(claim.subject, claim.subject_generic, claim.adjective)
    obj = _noun_phrase(claim.obj, claim.obj_generic, None)
    if claim.passive:
        return obj + ["is"] + (["not"] if claim.negated else []) + [forms[2], "by"] + subject + ["."]
    verb = ["does", "not", forms[1]] if claim.negated else [forms[0]]
    return subject + verb + obj + ["."]


def premise_tokens(facts: list[Fact]) -> list[str]:
    """The premise sentence: the facts joined by commas and a final "and"."""
    out: list[str] = []
    for k, f in enumerate(facts):
        if k:
            out.append("and" if k == len(facts) - 1 else ",")
        out += _noun_phrase(f.subject, False, f.adjective) + [VERBS[f.verb][0]] + _noun_phrase(f.obj, False, None)
    return out + ["."]


def _random_facts(rng: np.random.Generator, n_facts: int) -> list[Fact]:
    nouns = rng.choice(len(NOUNS), size=2 * n_facts, replace=False)
    return [Fact(int(nouns[2 * k]), int(rng.integers(len(ADJECTIVES))) if rng.random() < 0.6 else None,
                 int(rng.integers(len(VERBS))), int(nouns[2 * k + 1])) for k in range(n_facts)]


def _other_noun(rng: np.random.Generator, facts: list[Fact], avoid: int) -> int:
    if rng.random() < 0.5:  # another noun of the premise (a wrong binding)
        pool = [n for f in facts for n in (f.subject, f.obj) if n != avoid]
    else:  # a noun the premise does not mention
        used = {n for f in facts for n in (f.subject, f.obj)}
        pool = [n for n in range(len(NOUNS)) if n not in used]
    return int(pool[rng.integers(len(pool))])


def _propose(rng: np.random.Generator, facts: list[Fact]) -> Claim:
    f = facts[rng.integers(len(facts))]
    subj, obj, adj = f.subject, f.obj, f.adjective
    if rng.random() < 0.25:  # swap the roles: word order
        subj, obj, adj = obj, subj, None
    terms = []
    for noun in (subj, obj):
        u = rng.random()
        if u < 0.2:
            terms.append((noun, True))
        elif u < 0.35:
            terms.append((_other_noun(rng, facts, noun), False))
        else:
            terms.append((noun, False))
    u = rng.random()
    verb = _opposite_verb(f.verb) if u < 0.3 else int(rng.integers(len(VERBS))) if u < 0.4 else f.verb
    u = rng.random()
    if u < 0.3:
        adj = None
    elif u < 0.5 and adj is not None:
        adj = _opposite_adjective(adj)
    elif u < 0.6:
        adj = int(rng.integers(len(ADJECTIVES)))
    return Claim(terms[0][0], terms[0][1], adj, bool(rng.random() < 0.35), verb, terms[1][0], terms[1][1],
                 bool(rng.random() < 0.4))


def make_inference_task(n: int, *, n_facts: int = 3, seed: int = 0) -> NLIData:
    """``n`` generated (premise, hypothesis, label) triples, the three labels equally often (in turn, shuffled)."""
    if n < 1 or n_facts < 1 or 2 * n_facts > len(NOUNS):
        raise ValueError(f"make_inference_task: need n >= 1 and 1 <= n_facts <= {len(NOUNS) // 2}, got n={n}, "
                         f"n_facts={n_facts}")
    rng = np.random.default_rng(seed)
    wanted = rng.permutation(np.arange(n) % len(LABELS))
    premises, hypotheses = [], []
    for label in wanted:
        facts = _random_facts(rng, n_facts)
        for _ in range(1000):
            claim = _propose(rng, facts)
            if label_of(facts, claim) == label:
                break
        else:  # pragma: no cover - every class has a proposal probability far above 1/1000
            raise RuntimeError("make_inference_task: could not draw a hypothesis of the wanted class")
        premises.append(premise_tokens(facts))
        hypotheses.append(claim_tokens(claim))
    return NLIData(premises, hypotheses, wanted.astype(np.int64), f"generated (seed {seed}, {n_facts} facts)")
