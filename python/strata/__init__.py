"""strata — Strata's hard-minibatch toolkit from Python.

A binding of libstrata, the C library behind the `strata` command line:

- :class:`Kmeans` — spherical and asymmetric (CDE) k-means shaped like
  ``faiss.Kmeans``, exact and deterministic, every point used by default.
- :func:`plan` / :class:`Plan` / :func:`load_plan` — batch plans (random,
  source, cluster batches, packing, TSP order, curricula) with CDE's
  false-negative masks, built from numpy arrays or read from `strata plan`.
- :func:`evaluate` — nDCG@10, Recall@10/100, MRR@10, MAP@100 of embeddings,
  the numbers `strata eval` reports.
- :func:`infonce` — the library's InfoNCE with the mask (a reference).
- ``strata.torch`` — a DataLoader batch sampler over a plan and a masked
  InfoNCE loss; ``strata.sentence_transformers`` — the same for the
  sentence-transformers v3 trainer.

Arrays cross without copies: float32 (or the documented dtype) C-contiguous
numpy arrays in, numpy arrays over the library's memory out. Long calls drop
the GIL. ``threads`` (0: all cores) and ``seed`` mean what they mean on the
command line. Library errors raise :class:`StrataError` with the library's
message; bad arguments raise ``TypeError``/``ValueError`` before any work.
"""
from . import _core
from ._core import StrataError
from ._checks import get_threads, set_threads
from ._eval import evaluate
from ._kmeans import Kmeans
from ._plan import Plan, hash_texts, load_pairs, load_plan, plan
from ._train import infonce

__version__ = _core.version()

__all__ = [
    "Kmeans", "Plan", "StrataError", "evaluate", "get_threads", "hash_texts", "infonce",
    "load_pairs", "load_plan", "plan", "set_threads", "__version__",
]
