"""Shared fixtures of the strata Python tests.

The tests run from any directory; they find the repository from this file,
the CLI (for the binding == CLI checks) at $STRATA_CLI or <repo>/build/strata
(`make pytest` builds it first), and skip with a message what they cannot run
(a missing CLI, torch, faiss, sentence-transformers).
"""
import os
import subprocess

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def cli():
    """Runs the `strata` CLI: cli(args...) -> CompletedProcess (checked)."""
    path = os.environ.get("STRATA_CLI") or os.path.join(
        REPO, os.environ.get("STRATA_BUILD", "build"), "strata")
    if not os.access(path, os.X_OK):
        pytest.skip("the strata CLI is not built (%s); run `make` first" % path)

    def run(*args):
        r = subprocess.run([path] + [str(a) for a in args] + ["--quiet"], capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise AssertionError("strata %s failed (%d): %s"
                                 % (" ".join(map(str, args)), r.returncode, r.stderr))
        return r
    return run


def clustered(n, d, centers, noise, seed):
    """float32 [n, d] unit rows around `centers` random unit centers (the
    data of bench/kmeans_gen.py), and the true center of each row."""
    rng = np.random.default_rng(seed)
    cent = rng.standard_normal((centers, d)).astype(np.float32)
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    lab = rng.integers(0, centers, n)
    v = cent[lab] + noise * rng.standard_normal((n, d)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return np.ascontiguousarray(v, dtype=np.float32), lab


@pytest.fixture(scope="session")
def data_small():
    return clustered(6000, 32, 24, 0.3, 7)[0]


def pytest_report_header(config):
    import strata
    return "strata %s from %s" % (strata.__version__, os.path.dirname(strata.__file__))
