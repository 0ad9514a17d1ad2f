"""strata.infonce — the library's InfoNCE with the false-negative mask
(strata_infonce, include/strata/train.h): the reference the PyTorch losses of
strata.torch are tested against."""
import numpy as np

from . import _core
from ._checks import array, threads_arg


def pack_mask(dense):
    """bool [N, N] -> uint8 [N, ceil(N/8)] bit-packed little-endian (the
    plan's mask layout)."""
    dense = np.asarray(dense, dtype=bool)
    if dense.ndim != 2 or dense.shape[0] != dense.shape[1]:
        raise ValueError("mask: expected a square [N, N] matrix, got shape %s" % (dense.shape,))
    return np.ascontiguousarray(np.packbits(dense, axis=-1, bitorder="little"))


def infonce(q, d, mask=None, tau=0.02, symmetric=False, threads=None):
    """InfoNCE over in-batch negatives, computed in double by libstrata:
    s_ij = q_i . d_j / tau, loss_i = logsumexp over the unmasked j (the
    positive j = i always kept) of s_ij - s_ii, averaged (and over the
    document -> query direction too when symmetric, mask transposed).

    q, d  float32 [N, C] unit rows (not normalized here)
    mask  bool [N, N] (True: document j excluded for query i) or the packed
          uint8 [N, ceil(N/8)] plan layout, or None
    Returns (loss, acc, masked_frac, dq, dd) with dq, dd float32 [N, C] the
    gradients of the loss with respect to q and d.
    """
    q = array(q, "q", np.float32, 2, finite=True)
    d = array(d, "d", np.float32, 2, finite=True)
    if q.shape != d.shape:
        raise ValueError("q has shape %s but d has %s" % (q.shape, d.shape))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype == bool:
            if mask.shape != (q.shape[0], q.shape[0]):
                raise ValueError("mask: expected shape %s, got %s" % ((q.shape[0],) * 2, mask.shape))
            mask = pack_mask(mask)
        else:
            mask = array(mask, "mask", np.uint8, 2)
    loss, acc, frac, dq, dd = _core.infonce(q, d, mask, tau=float(tau), symmetric=bool(symmetric),
                                            threads=threads_arg(threads))
    return loss, acc, frac, np.asarray(dq), np.asarray(dd)
