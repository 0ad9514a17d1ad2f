"""strata.torch — a Strata plan as a PyTorch batch sampler, and InfoNCE with
the plan's false-negative mask.

    plan = strata.load_plan("plan")              # or strata.plan(...)
    sampler = PlanBatchSampler(plan)
    loader = DataLoader(pairs_dataset, batch_sampler=sampler, collate_fn=...)
    loss_fn = MaskedInfoNCELoss(sampler, tau=0.02)
    for q_batch, d_batch in loader:
        loss = loss_fn(encoder(q_batch), encoder(d_batch))   # mask applied

How the mask reaches the loss: the sampler remembers every batch it yields
(in order) once a loss is attached to it; each call of the loss takes the
oldest batch not yet consumed and its mask. A DataLoader returns batches in
the order its sampler yields them, also with worker processes and
prefetching, so the loss always gets the mask of the batch it is computing
on, as long as it is called once per batch drawn. When the pair indices of
the batch are at hand (the sentence-transformers integration passes them as
labels), ``loss(q, d, pair_ids=ids)`` looks the batch up instead, which is
immune even to batches drawn and skipped.

Resuming: ``state_dict()`` records the epoch and the position (batches
consumed by the attached loss, or yielded when no loss is attached) plus a
fingerprint of the plan; ``load_state_dict`` on a sampler over the same plan
makes the next iteration start at that position, so a resumed run trains on
exactly the batches n, n+1, ... it had not trained on yet.
"""
import collections
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Sampler

from ._plan import Plan, load_plan

__all__ = ["PlanBatchSampler", "MaskedInfoNCELoss", "masked_infonce", "masked_infonce_scores"]


class PlanBatchSampler(Sampler):
    """Yields the plan's batches (lists of pair indices, pads removed) in
    plan order, for ``DataLoader(dataset, batch_sampler=sampler)``; the
    dataset's item i must be pair i of the data the plan was made for.

    plan          a :class:`strata.Plan` or the path of a plan directory
    split_epochs  False (default): every DataLoader epoch yields the whole
                  plan (which holds its own passes, as ``strata train``
                  consumes it); True: epoch e yields the plan's pass e
                  (``batch_epoch == e``), for a trainer that runs the plan's
                  number of epochs (one-stage plans only)
    """

    def __init__(self, plan, split_epochs=False):
        if isinstance(plan, (str, os.PathLike)):
            plan = load_plan(plan)
        if not isinstance(plan, Plan):
            raise TypeError("plan: expected a strata.Plan or a plan directory, got %s"
                            % type(plan).__name__)
        self.plan = plan
        self.split_epochs = bool(split_epochs)
        if self.split_epochs:
            if plan.batch_epoch is None:
                raise ValueError("split_epochs needs the plan's batch_epoch (plan.json)")
            if plan.batch_stage is not None and np.any(plan.batch_stage != 0):
                raise ValueError("split_epochs applies to one-stage plans; a curriculum is one "
                                 "schedule: iterate it whole (split_epochs=False)")
            self.n_epochs = int(plan.batch_epoch.max()) + 1
        else:
            self.n_epochs = 1
        self._rows = [plan.batch(b).tolist() for b in range(plan.n_batches)]
        if any(len(r) == 0 for r in self._rows):
            raise ValueError("the plan has an empty batch (only pads)")
        self.epoch = 0
        self._start = 0       # position the next iteration starts at
        self._yielded = 0     # position after the last batch yielded
        self._consumed = None  # position after the last batch consumed (loss attached)
        self._tracking = False
        self._pending = collections.deque()  # (position, batch) yielded, not consumed
        self._lookup = None

    # ------------------------------------------------------------------ order
    def _ids(self, epoch):
        if not self.split_epochs:
            return np.arange(self.plan.n_batches)
        return np.flatnonzero(self.plan.batch_epoch == epoch % self.n_epochs)

    def batch_ids(self):
        """Plan batch indices of the current epoch, in order."""
        return self._ids(self.epoch)

    def __len__(self):
        return len(self._ids(self.epoch))

    def __iter__(self):
        ids = self._ids(self.epoch)
        start, self._start = self._start, 0
        self._pending.clear()
        self._yielded = start
        self._consumed = start if self._tracking else None
        for pos in range(start, len(ids)):
            b = int(ids[pos])
            self._yielded = pos + 1
            if self._tracking:
                self._pending.append((pos, b))
            yield list(self._rows[b])

    def set_epoch(self, epoch):
        """Selects the epoch (DDP / Hugging Face convention). A new epoch
        starts at its first batch; setting the epoch a loaded state is in
        keeps the loaded position."""
        epoch = int(epoch)
        if epoch != self.epoch:
            self.epoch = epoch
            self._start = 0

    # ------------------------------------------------------------------ state
    def state_dict(self):
        pos = self._consumed if self._tracking and self._consumed is not None else self._yielded
        if pos >= len(self):
            return {"epoch": self.epoch + 1, "position": 0, "fingerprint": self.plan.fingerprint()}
        return {"epoch": self.epoch, "position": int(pos), "fingerprint": self.plan.fingerprint()}

    def load_state_dict(self, state):
        if state.get("fingerprint") != self.plan.fingerprint():
            raise ValueError("load_state_dict: the state was saved with a different plan "
                             "(fingerprints differ); resuming would train on other batches")
        pos = int(state["position"])
        self.epoch = int(state["epoch"])
        if not 0 <= pos <= len(self):
            raise ValueError("load_state_dict: position %d outside [0, %d]" % (pos, len(self)))
        self._start = pos
        self._yielded = pos
        self._consumed = pos if self._tracking else None
        self._pending.clear()

    # ------------------------------------------------------------------ masks
    def attach(self):
        """Starts remembering yielded batches for a loss (MaskedInfoNCELoss
        and the sentence-transformers loss call this)."""
        self._tracking = True

    def _mask_tensor(self, b, device):
        return torch.from_numpy(self.plan.dense_mask(b)).to(device)

    def next_mask(self, n, device=None):
        """(batch index, bool mask [n, n]) of the oldest batch yielded and not
        yet consumed; marks it consumed. n must be its number of pairs."""
        if not self._pending:
            raise RuntimeError("the loss was called without a batch from this sampler pending: "
                               "call it once per batch drawn from the DataLoader that uses this "
                               "sampler (or pass pair_ids=)")
        pos, b = self._pending.popleft()
        if len(self._rows[b]) != n:
            raise RuntimeError("the loss got %d rows but plan batch %d has %d pairs: call the "
                               "loss once per batch, in the order the DataLoader returns them"
                               % (n, b, len(self._rows[b])))
        self._consumed = pos + 1
        return b, self._mask_tensor(b, device)

    def mask_for_pairs(self, pair_ids, device=None):
        """(batch index, bool mask [n, n]) of the batch made of exactly these
        pair indices in this order; marks it (and any batch yielded before
        it, e.g. skipped on resume) consumed."""
        ids = [int(i) for i in (pair_ids.tolist() if hasattr(pair_ids, "tolist") else pair_ids)]
        for k, (pos, b) in enumerate(self._pending):
            if self._rows[b] == ids:
                for _ in range(k + 1):
                    self._pending.popleft()
                self._consumed = pos + 1
                return b, self._mask_tensor(b, device)
        if self._lookup is None:
            self._lookup = {}
            for b, r in enumerate(self._rows):
                self._lookup.setdefault(tuple(r), b)
        b = self._lookup.get(tuple(ids))
        if b is None:
            raise RuntimeError("pair_ids %s... are not a batch of this plan" % ids[:8])
        return b, self._mask_tensor(b, device)


# ---------------------------------------------------------------------- loss
def masked_infonce_scores(scores, mask=None, symmetric=False):
    """InfoNCE from a score matrix (already divided by tau): row i's
    positive is column i, columns whose mask entry is True leave row i's
    partition (never the diagonal). symmetric adds the column direction with
    the mask transposed and averages. Masked entries get exactly zero
    gradient (they are -inf before the softmax)."""
    n = scores.shape[0]
    if scores.ndim != 2 or scores.shape[1] < n:
        raise ValueError("scores: expected [N, M >= N], got %s" % (tuple(scores.shape),))
    labels = torch.arange(n, device=scores.device)
    if mask is not None:
        mask = torch.as_tensor(mask, device=scores.device, dtype=torch.bool)
        if mask.shape != (n, n):
            raise ValueError("mask: expected [%d, %d], got %s" % (n, n, tuple(mask.shape)))
        mask = mask & ~torch.eye(n, dtype=torch.bool, device=scores.device)
        full = torch.zeros(scores.shape, dtype=torch.bool, device=scores.device)
        full[:, :n] = mask
        s = scores.masked_fill(full, float("-inf"))
    else:
        s = scores
    loss = F.cross_entropy(s, labels)
    if symmetric:
        t = scores[:, :n].t()
        if mask is not None:
            t = t.masked_fill(mask.t(), float("-inf"))
        loss = 0.5 * (loss + F.cross_entropy(t, labels))
    return loss


def masked_infonce(q, d, mask=None, tau=0.02, symmetric=False, normalize=True):
    """InfoNCE over in-batch negatives with the false-negative mask, the
    loss ``strata train`` minimizes (strata_infonce): s_ij = q_i . d_j / tau
    on unit rows (normalize=True normalizes q and d first)."""
    if q.shape != d.shape or q.ndim != 2:
        raise ValueError("q and d must both be [N, C], got %s and %s"
                         % (tuple(q.shape), tuple(d.shape)))
    if normalize:
        q = F.normalize(q, dim=-1)
        d = F.normalize(d, dim=-1)
    return masked_infonce_scores(q @ d.t() / tau, mask, symmetric)


class MaskedInfoNCELoss(torch.nn.Module):
    """``loss(q, d)``: InfoNCE of the batch with the plan's false-negative
    mask for that batch, which it gets from the sampler (see the module
    docstring); ``mask=`` overrides, ``pair_ids=`` looks the batch up.
    After a call, ``last_batch`` is the plan batch index used and
    ``last_mask`` its mask."""

    def __init__(self, sampler=None, tau=0.02, symmetric=False, normalize=True):
        super().__init__()
        if not tau > 0:
            raise ValueError("tau must be > 0")
        self.sampler = sampler
        self.tau = float(tau)
        self.symmetric = bool(symmetric)
        self.normalize = bool(normalize)
        self.last_batch = None
        self.last_mask = None
        if sampler is not None:
            sampler.attach()

    def forward(self, q, d, mask=None, pair_ids=None):
        b = None
        if mask is None and self.sampler is not None:
            if pair_ids is not None:
                b, mask = self.sampler.mask_for_pairs(pair_ids, q.device)
            else:
                b, mask = self.sampler.next_mask(q.shape[0], q.device)
        self.last_batch, self.last_mask = b, mask
        return masked_infonce(q, d, mask, self.tau, self.symmetric, self.normalize)
