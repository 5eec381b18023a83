"""rift_lite: Robust Informative Fine-Tuning (Dong et al., NeurIPS 2021) and its baselines, small and readable.

Modules (imports only point down this list):

* ``data``, ``prompts``, ``models``, ``infonce``, ``paper`` -- datasets, a soft prompt before a frozen encoder,
  encoders and the one-token-per-word tokenisation, the InfoNCE bounds of Lemma 1, and the papers' numbers as data;
* ``substitutions`` (counter-fitted attack space), ``adversary`` (ASCC, Eq. 8; embedding-space PGD);
* ``embedding_adversarial`` (PEAFT and FreeLB: adversarial training in embedding space);
* ``methods`` (the training objectives: Standard, Adv-Base, Adv-PTWD, Adv-Mixout, RIFT, RIFT-I(S;T), PEAFT, FreeLB) and
  ``attacks`` (Genetic, PWWS, TextFooler-style);
* ``evaluate``, ``train`` and the command line ``python -m rift_lite``.

Importing the package loads no model and no data.
"""

__version__ = "0.1.0"
