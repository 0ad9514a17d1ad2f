"""strata.torch: the plan through a DataLoader, resume, and the masked loss
against the library's C InfoNCE."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader, Dataset  # noqa: E402

import strata  # noqa: E402
from strata.torch import (MaskedInfoNCELoss, PlanBatchSampler, masked_infonce,  # noqa: E402
                          masked_infonce_scores)
from conftest import clustered  # noqa: E402


class Pairs(Dataset):
    """Item i: (i, q_i, d_i) — the index lets the test see what was drawn."""

    def __init__(self, q, d):
        self.q, self.d = torch.from_numpy(q), torch.from_numpy(d)

    def __len__(self):
        return self.q.shape[0]

    def __getitem__(self, i):
        return i, self.q[i], self.d[i]


@pytest.fixture(scope="module")
def setup():
    n = 500
    q, _ = clustered(n, 16, 6, 0.5, 1)
    noise = np.random.default_rng(2).standard_normal(q.shape).astype(np.float32)
    d = np.ascontiguousarray(q + 0.4 * noise, dtype=np.float32)
    km = strata.Kmeans(16, 6, seed=1)
    km.train(q)
    # 20 is not a divisor of the per-cluster counts: merged and padded batches
    plan = strata.plan(20, assign=km.assignments, centroids=km.centroids, filter_q=q,
                       filter_d=d, margin=0.05, epochs=3, seed=5)
    assert plan.n_masked > 0
    return q, d, plan


def drawn(loader):
    return [ids.tolist() for ids, _, _ in loader]


@pytest.mark.parametrize("workers", [0, 2])
def test_dataloader_yields_the_plan(setup, workers):
    q, d, plan = setup
    sampler = PlanBatchSampler(plan)
    loader = DataLoader(Pairs(q, d), batch_sampler=sampler, num_workers=workers)
    assert len(loader) == plan.n_batches
    assert drawn(loader) == [plan.batch(b).tolist() for b in range(plan.n_batches)]


def test_resume_continues_at_the_same_batch(setup, tmp_path):
    q, d, plan = setup
    whole = drawn(DataLoader(Pairs(q, d), batch_sampler=PlanBatchSampler(plan)))
    for n in (0, 1, 17, plan.n_batches - 1):
        sampler = PlanBatchSampler(plan)
        it = iter(DataLoader(Pairs(q, d), batch_sampler=sampler))
        first = [next(it)[0].tolist() for _ in range(n)]
        state = sampler.state_dict()
        torch.save(state, tmp_path / "s.pt")  # survives a checkpoint file
        fresh = PlanBatchSampler(plan)
        fresh.load_state_dict(torch.load(tmp_path / "s.pt"))
        rest = drawn(DataLoader(Pairs(q, d), batch_sampler=fresh))
        assert first + rest == whole, n
    other = strata.plan(20, n=q.shape[0], seed=6)
    with pytest.raises(ValueError, match="different plan"):
        PlanBatchSampler(other).load_state_dict(state)


def test_resume_counts_consumed_batches_with_prefetching_workers(setup):
    """With workers the sampler runs ahead of training; the position saved
    is the loss's (batches trained on), not the sampler's."""
    q, d, plan = setup
    sampler = PlanBatchSampler(plan)
    loss_fn = MaskedInfoNCELoss(sampler)
    seen = []
    for i, (ids, qb, db) in enumerate(DataLoader(Pairs(q, d), batch_sampler=sampler,
                                                 num_workers=2, prefetch_factor=4)):
        loss_fn(qb, db)
        seen.append(ids.tolist())
        if i == 9:
            break
    assert sampler.state_dict()["position"] == 10
    fresh = PlanBatchSampler(plan)
    fresh.load_state_dict(sampler.state_dict())
    nxt = next(iter(DataLoader(Pairs(q, d), batch_sampler=fresh)))[0].tolist()
    assert nxt == plan.batch(10).tolist()


@pytest.mark.parametrize("symmetric", [False, True])
def test_masked_loss_equals_the_c_infonce(setup, symmetric):
    q, d, plan = setup
    sampler = PlanBatchSampler(plan)
    loss_fn = MaskedInfoNCELoss(sampler, tau=0.02, symmetric=symmetric)
    checked = 0
    for b, (ids, qb, db) in enumerate(DataLoader(Pairs(q, d), batch_sampler=sampler,
                                                 num_workers=2)):
        qn = torch.nn.functional.normalize(qb.double(), dim=-1)
        dn = torch.nn.functional.normalize(db.double(), dim=-1)
        loss = loss_fn(qb.double(), db.double())  # the mask comes from the sampler
        assert loss_fn.last_batch == b
        mask = plan.dense_mask(b)
        assert torch.equal(loss_fn.last_mask.cpu(), torch.from_numpy(mask))
        qf = np.ascontiguousarray(qn.numpy(), dtype=np.float32)
        df = np.ascontiguousarray(dn.numpy(), dtype=np.float32)
        ref, _, frac, gq, gd = strata.infonce(qf, df, mask, tau=0.02, symmetric=symmetric)
        # the loss on the unit rows the C code sees, in double like the C
        # code: 1e-6 is the bound (measured ~1e-13)
        tq = torch.from_numpy(qf).double().requires_grad_()
        td = torch.from_numpy(df).double().requires_grad_()
        ql = masked_infonce(tq, td, torch.from_numpy(mask), 0.02, symmetric, normalize=False)
        assert abs(ql.item() - ref) < 1e-6
        # through normalize: the C side saw the unit rows rounded to float32
        # (relative 6e-8, times scores up to 1/tau = 50)
        assert abs(loss.item() - ref) < 1e-5
        ql.backward()
        # C gradients are rounded to float32 (relative 6e-8 of up to ~1/tau)
        assert np.allclose(tq.grad.numpy(), gq, atol=1e-5, rtol=1e-5)
        assert np.allclose(td.grad.numpy(), gd, atol=1e-5, rtol=1e-5)
        nv = len(ids)
        assert frac == pytest.approx(mask.sum() / max(nv * (nv - 1), 1))
        checked += mask.any()
        if b == 15:
            break
    assert checked > 0  # some batches had masked negatives


def test_masked_entries_get_zero_gradient():
    rng = np.random.default_rng(0)
    s = torch.tensor(rng.standard_normal((12, 12)) * 5, requires_grad=True)
    mask = torch.from_numpy(rng.random((12, 12)) < 0.3)
    mask.fill_diagonal_(True)  # the positive is never removed
    for symmetric in (False, True):
        s.grad = None
        masked_infonce_scores(s, mask, symmetric).backward()
        off = mask & ~torch.eye(12, dtype=torch.bool)
        assert torch.all(s.grad[off] == 0)  # exactly zero
        assert torch.all(s.grad[~off] != 0)
    # and the masked scores do not change the loss
    s2 = s.detach().clone()
    s2[mask & ~torch.eye(12, dtype=torch.bool)] = 1e6
    assert masked_infonce_scores(s2, mask).item() == pytest.approx(
        masked_infonce_scores(s.detach(), mask).item(), abs=1e-12)


def test_float32_loss_close_to_c():
    q, _ = clustered(64, 32, 4, 0.3, 3)
    d, _ = clustered(64, 32, 4, 0.3, 4)
    mask = np.random.default_rng(5).random((64, 64)) < 0.2
    ref = strata.infonce(q, d, mask)[0]
    got = masked_infonce(torch.from_numpy(q), torch.from_numpy(d), torch.from_numpy(mask))
    # float32 scores up to 1/tau = 50: rounding ~1e-5 (double above: 1e-6)
    assert abs(got.item() - ref) < 1e-4


def test_split_epochs_and_set_epoch(setup):
    q, d, plan = setup
    sampler = PlanBatchSampler(plan, split_epochs=True)
    assert sampler.n_epochs == 3
    got = []
    for e in range(3):
        sampler.set_epoch(e)
        got += drawn(DataLoader(Pairs(q, d), batch_sampler=sampler))
    assert got == [plan.batch(b).tolist() for b in range(plan.n_batches)]
    sampler.set_epoch(1)
    assert len(sampler) == int((plan.batch_epoch == 1).sum())


def test_loss_called_out_of_step_is_an_error(setup):
    q, d, plan = setup
    sampler = PlanBatchSampler(plan)
    loss_fn = MaskedInfoNCELoss(sampler)
    with pytest.raises(RuntimeError, match="once per batch"):
        loss_fn(torch.zeros(3, 4), torch.zeros(3, 4))
    it = iter(sampler)
    ids = next(it)
    with pytest.raises(RuntimeError, match="rows but plan batch 0"):
        loss_fn(torch.ones(len(ids) + 1, 4), torch.ones(len(ids) + 1, 4))
    # by pair ids: the batch is found whatever was drawn before
    b, m = sampler.mask_for_pairs(plan.batch(5))
    assert b == 5 and torch.equal(m, torch.from_numpy(plan.dense_mask(5)))
    with pytest.raises(RuntimeError, match="not a batch"):
        sampler.mask_for_pairs([0, 1, 2])
