"""rift_lite: Robust Informative Fine-Tuning (Dong et al., NeurIPS 2021) and its baselines, small and readable.

Modules, one concept each (imports only point down this list):

* data (no torch): ``tasks`` (Example, TaskInfo, TASKS, DataError), ``normalize`` (the one text normaliser),
  ``data_io`` (readers whose errors name file, line and field), ``loaders`` (the local data folder), ``hub`` (the
  Hugging Face copies), ``user_data`` (your own CSV/TSV/JSONL file), and ``data`` (``load``, the entry point);
  ``profiles`` (the run profiles of training, attacks and reproduction), ``paper`` (the papers' numbers as data),
  ``provenance`` (code version, atomic JSON writes);
* ``devices``, ``tokenizer`` (one token per word), ``prompts`` (a soft prompt before a frozen encoder), ``models``
  (encoders, the classifier, ``build_model``), ``infonce`` (the InfoNCE bounds of Lemma 1), ``mixout``;
* ``substitutions`` (counter-fitted attack space), ``constraints`` (pluggable attack constraints), ``adversary``
  (ASCC, Eq. 8; embedding-space PGD), ``embedding_adversarial`` (PEAFT and FreeLB: adversarial training in embedding
  space), ``distributed``;
* ``methods`` (the training objectives: Standard, Adv-Base, Adv-PTWD, Adv-Mixout, RIFT, RIFT-I(S;T), PEAFT, FreeLB);
  the attacks: ``victim``, ``attack_base``, ``attack_search`` (Genetic, PWWS, TextFooler-style), ``attack_ascc`` and
  ``attacks`` (the registry); the trainer's parts: ``sampler``, ``train_data``, ``selection`` (dev-split model
  selection), ``checkpoints``, ``train_config``, ``seeds``;
* ``train`` (the loop, Algorithm 1), ``evaluate`` (robust evaluation), ``protocols`` and ``report`` (the paper's
  tables: runs and rendering), ``reproduce`` (runs them), and the command line ``python -m rift_lite``
  (``train_cli``, ``attack_cli``, ``reproduce``); beside them, the book's helpers ``notebook``, ``display``, ``probe``
  and ``vendor``.

Importing the package loads no model and no data.
"""

__version__ = "0.1.0"
