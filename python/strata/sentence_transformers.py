"""strata.sentence_transformers — Strata plans in the sentence-transformers
v3 trainer.

    from strata.torch import PlanBatchSampler
    from strata.sentence_transformers import StrataTrainer, MaskedMultipleNegativesRankingLoss

    sampler = PlanBatchSampler(plan)
    loss = MaskedMultipleNegativesRankingLoss(model, sampler, scale=1 / 0.02)
    trainer = StrataTrainer(model=model, args=args, train_dataset=pairs,
                            loss=loss, batch_sampler=sampler)
    trainer.train()

``StrataTrainer`` is a SentenceTransformerTrainer whose ``get_batch_sampler``
returns the plan's sampler for the training set (other datasets get the
default), and which adds a ``label`` column holding each row's pair index.
The data collator hands that column to the loss as ``labels``, so the loss
finds the plan batch it is computing on, and its mask, from the pair indices
themselves: robust to prefetching, worker processes and the batches a
resumed Trainer skips. Row i of the training set must be pair i of the plan.
"""
import numpy as np
import torch
from sentence_transformers import SentenceTransformerTrainer, util
from sentence_transformers.losses import MultipleNegativesRankingLoss

from .torch import PlanBatchSampler

__all__ = ["MaskedMultipleNegativesRankingLoss", "StrataTrainer", "with_pair_ids"]


class MaskedMultipleNegativesRankingLoss(MultipleNegativesRankingLoss):
    """MultipleNegativesRankingLoss (in-batch negatives, optional hard
    negative columns) with the plan's false-negative mask: an in-batch
    positive j that Strata masked for anchor i leaves anchor i's softmax
    partition (GIST-style filtering, the mask computed once by `strata
    plan`). scale is 1/tau (Strata's default tau 0.02 is scale 50; MNRL's
    default is 20). symmetric adds the positive -> anchor direction (mask
    transposed). After each call ``last_batch``/``last_mask`` hold the plan
    batch and mask that were applied, ``last_lookup`` how the batch was
    found ("pair_ids" from the labels StrataTrainer adds, else "order")."""

    def __init__(self, model, sampler, scale=20.0, similarity_fct=util.cos_sim, symmetric=False):
        super().__init__(model, scale=scale, similarity_fct=similarity_fct)
        if not isinstance(sampler, PlanBatchSampler):
            raise TypeError("sampler: expected a strata.torch.PlanBatchSampler")
        self.sampler = sampler
        self.symmetric = bool(symmetric)
        self.last_batch = None
        self.last_mask = None
        self.last_lookup = None  # "pair_ids" (labels) or "order" (no labels)
        sampler.attach()

    def forward(self, sentence_features, labels=None):
        reps = [self.model(f)["sentence_embedding"] for f in sentence_features]
        anchors, candidates = reps[0], torch.cat(reps[1:])
        n = anchors.shape[0]
        if labels is not None:
            b, mask = self.sampler.mask_for_pairs(labels, anchors.device)
            self.last_lookup = "pair_ids"
        else:
            b, mask = self.sampler.next_mask(n, anchors.device)
            self.last_lookup = "order"
        self.last_batch, self.last_mask = b, mask
        scores = self.similarity_fct(anchors, candidates) * self.scale
        mask = mask & ~torch.eye(n, dtype=torch.bool, device=anchors.device)
        full = torch.zeros(scores.shape, dtype=torch.bool, device=anchors.device)
        full[:, :n] = mask
        target = torch.arange(n, device=anchors.device)
        loss = self.cross_entropy_loss(scores.masked_fill(full, float("-inf")), target)
        if self.symmetric:
            t = scores[:, :n].t().masked_fill(mask.t(), float("-inf"))
            loss = 0.5 * (loss + self.cross_entropy_loss(t, target))
        return loss

    def get_config_dict(self):
        d = super().get_config_dict()
        d["symmetric"] = self.symmetric
        d["strata_plan"] = {"n_batches": self.sampler.plan.n_batches,
                            "batch_size": self.sampler.plan.batch_size,
                            "masked_fraction": self.sampler.plan.masked_fraction}
        return d


def with_pair_ids(dataset):
    """The dataset with a ``label`` column holding each row's index (the
    pair index the plan refers to). A dataset that already has one keeps it
    if it equals the row indices; any other ``label`` column is an error."""
    n = len(dataset)
    if "label" in dataset.column_names:
        if not np.array_equal(np.asarray(dataset["label"]), np.arange(n)):
            raise ValueError("the training set has a 'label' column that is not the row index; "
                             "the Strata losses use that column for pair indices (rename it)")
        return dataset
    return dataset.add_column("label", list(range(n)))


class StrataTrainer(SentenceTransformerTrainer):
    """SentenceTransformerTrainer driven by a Strata plan: batch_sampler (a
    PlanBatchSampler) orders the training set's rows into the plan's batches;
    see the module docstring."""

    def __init__(self, *args, batch_sampler=None, train_dataset=None, **kwargs):
        if not isinstance(batch_sampler, PlanBatchSampler):
            raise TypeError("batch_sampler: a strata.torch.PlanBatchSampler is required")
        plan = batch_sampler.plan
        if train_dataset is None:
            raise ValueError("StrataTrainer needs train_dataset (row i = pair i of the plan)")
        n = len(train_dataset)
        top = int(plan.batches.max())
        if top >= n or (plan.n_pairs and plan.n_pairs != n):
            raise ValueError("the plan was made for %d pairs (largest index %d) but the training "
                             "set has %d rows" % (plan.n_pairs, top, n))
        self.plan_sampler = batch_sampler
        super().__init__(*args, train_dataset=with_pair_ids(train_dataset), **kwargs)

    def get_batch_sampler(self, dataset, *args, **kwargs):
        """The plan's sampler for the training set; the default for any other
        dataset (evaluation). Other arguments (batch size, drop_last, ...)
        are the plan's business and are ignored for the training set."""
        if dataset is self.train_dataset:
            return self.plan_sampler
        return super().get_batch_sampler(dataset, *args, **kwargs)
