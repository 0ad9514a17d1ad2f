"""Argument checks shared by the package: every array is checked here before
it reaches C, so a mistake gets a message that names the argument and says
how to fix it (the C side checks again and never trusts these)."""
import numpy as np

_default_threads = 0


def set_threads(n):
    """Default thread count of later calls that are not given ``threads``
    (0: all cores, as ``strata --threads 0``). Returns the previous value.
    Strata saves and restores the process's OpenMP and OpenBLAS settings
    around each call, so torch and numpy keep theirs."""
    global _default_threads
    n = int(n)
    if n < 0:
        raise ValueError("threads must be >= 0 (0: all cores), got %d" % n)
    prev, _default_threads = _default_threads, n
    return prev


def get_threads():
    """The default set by :func:`set_threads` (0: all cores)."""
    return _default_threads


def threads_arg(threads):
    if threads is None:
        return _default_threads
    threads = int(threads)
    if threads < 0:
        raise ValueError("threads must be >= 0 (0: all cores), got %d" % threads)
    return threads


def seed_arg(seed):
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
        raise ValueError("seed must lie in [0, 2^64), got %d" % seed)
    return seed


def _dtype_hint(dtype):
    return "numpy.ascontiguousarray(a, dtype=numpy.%s)" % np.dtype(dtype).name


def array(a, name, dtype, ndim, finite=False, allow_none=False):
    """Returns `a` itself when it is a C-contiguous numpy array of `dtype`
    with `ndim` dimensions (no copy is ever made); raises TypeError or
    ValueError otherwise. finite=True also rejects NaN/Inf (naming the row)."""
    if a is None:
        if allow_none:
            return None
        raise TypeError("%s: an array is required" % name)
    if not isinstance(a, np.ndarray):
        raise TypeError("%s: expected a numpy.ndarray, got %s (convert with %s)"
                        % (name, type(a).__name__, _dtype_hint(dtype)))
    if a.dtype != np.dtype(dtype):
        raise TypeError("%s: expected dtype %s, got %s (convert with %s)"
                        % (name, np.dtype(dtype).name, a.dtype, _dtype_hint(dtype)))
    if a.ndim != ndim:
        raise ValueError("%s: expected %d dimension(s), got shape %s" % (name, ndim, a.shape))
    if not a.flags.c_contiguous:
        what = "Fortran-ordered" if a.flags.f_contiguous else "non-contiguous (a strided view)"
        raise ValueError("%s: the array is %s; Strata reads rows in place and needs C order "
                         "(use numpy.ascontiguousarray)" % (name, what))
    if finite and a.dtype.kind == "f":
        step = max(1, (1 << 20) // max(1, a[0].size if a.ndim > 1 and len(a) else 1))
        for i in range(0, a.shape[0], step):  # in slices: a few MB of scratch at most
            ok = np.isfinite(a[i:i + step])
            if not ok.all():
                idx = np.argwhere(~ok)[0]
                row = i + idx[0]
                col = idx[-1] if a.ndim > 1 else 0
                raise ValueError("%s: row %d has a non-finite value (%s at column %d)"
                                 % (name, row, a[row][col] if a.ndim > 1 else a[row], col))
    return a


def source_ids(sources, n, name="sources"):
    """(int32 ids [n], n_sources, names or None) from an int array of ids
    (>= 0) or a sequence of source names (ids in order of first appearance,
    as the pairs reader numbers them)."""
    if sources is None:
        return None, 0, None
    if isinstance(sources, np.ndarray) and sources.dtype.kind in "iu":
        if sources.ndim != 1 or sources.shape[0] != n:
            raise ValueError("%s: expected %d ids, got shape %s" % (name, n, sources.shape))
        if n and (sources.min() < 0 or sources.max() > np.iinfo(np.int32).max - 1):
            raise ValueError("%s: source ids must lie in [0, 2^31-1)" % name)
        ids = np.ascontiguousarray(sources, dtype=np.int32)
        return ids, int(ids.max()) + 1 if n else 1, None
    names = list(sources)
    if len(names) != n:
        raise ValueError("%s: expected %d names, got %d" % (name, n, len(names)))
    table = {}
    ids = np.empty(n, dtype=np.int32)
    for i, s in enumerate(names):
        if not isinstance(s, str):
            raise TypeError("%s[%d]: expected a source name (str) or an integer id array" % (name, i))
        ids[i] = table.setdefault(s, len(table))
    return ids, max(len(table), 1), list(table)
