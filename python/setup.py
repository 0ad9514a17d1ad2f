"""Build of the strata Python package: the C library compiled into one
extension module, strata._core (setuptools; see docs/python.md for why).

The library's sources are the repository's own (../src, ../include); the
package must therefore be built from a checkout: `pip install ./python`.
Dependencies come from pkg-config (libcjson libutf8proc libzstd zlib) plus
OpenBLAS and OpenMP, exactly as the Makefile links them; MPI is off.

Environment:
  STRATA_SANITIZE=1   compile with -fsanitize=address,undefined (make asan)
  STRATA_JOBS=N       parallel compile jobs (default: the cores)
  WERROR=1            add -Werror (as the Makefile does in CI)
"""
import glob
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PKGS = ["libcjson", "libutf8proc", "libzstd", "zlib"]


def library_sources():
    src = sorted(glob.glob(os.path.join(ROOT, "src", "*", "*.c")))
    if not src or not os.path.isfile(os.path.join(ROOT, "include", "strata", "strata.h")):
        sys.exit("strata: the C library's sources (../src, ../include) are not beside this "
                 "folder; build the package from a Strata checkout: pip install ./python")
    return src


def library_headers():
    return sorted(glob.glob(os.path.join(ROOT, "include", "strata", "*.h"))
                  + glob.glob(os.path.join(ROOT, "src", "*", "*.h")))


def pkg_config(flag):
    try:
        out = subprocess.run(["pkg-config", flag] + PKGS, check=True, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit("strata: pkg-config %s %s failed (%s); install the build dependencies with "
                 "scripts/setup.sh" % (flag, " ".join(PKGS), e))
    return shlex.split(out)


class ParallelBuildExt(build_ext):
    """build_ext that compiles the ~40 C files on every core."""

    def build_extensions(self):
        jobs = int(os.environ.get("STRATA_JOBS", "0")) or os.cpu_count() or 1
        cc = self.compiler

        def compile_parallel(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                             extra_preargs=None, extra_postargs=None, depends=None):
            macros, objects, extra_postargs, pp_opts, build = cc._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs)
            cc_args = cc._get_cc_args(pp_opts, debug, extra_preargs)

            def one(obj):
                src, ext = build[obj]
                cc._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

            with ThreadPoolExecutor(jobs) as ex:
                list(ex.map(one, objects))
            return objects

        cc.compile = compile_parallel
        for ext in self.extensions:
            # the library's own sources, absolute (setup() metadata only
            # takes paths inside this folder; objects go under build_temp)
            ext.sources = ext.sources + library_sources()
            ext.depends = ext.depends + library_headers()
        super().build_extensions()


def extension():
    san = os.environ.get("STRATA_SANITIZE") == "1"
    cflags = ["-std=c11", "-O1" if san else "-O2", "-fopenmp", "-D_GNU_SOURCE",
              "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    ldflags = ["-fopenmp"]
    if os.environ.get("WERROR") == "1":  # CI builds everything with -Werror
        cflags.append("-Werror")
    if san:
        sanflags = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer",
                    "-fno-sanitize-recover=undefined"]
        cflags += sanflags
        ldflags += sanflags
    cflags += [f for f in pkg_config("--cflags") if not f.startswith("-I")]
    incs = [os.path.join(ROOT, "include"), os.path.join(ROOT, "src")]
    incs += [f[2:] for f in pkg_config("--cflags") if f.startswith("-I")]
    libs = pkg_config("--libs") + ["-lopenblas", "-lm"]
    binding = sorted(glob.glob(os.path.join(HERE, "csrc", "*.c")))
    library_sources()  # fail early, with a clear message, outside a checkout
    return Extension(
        "strata._core",
        sources=[os.path.relpath(p, HERE) for p in binding],
        include_dirs=incs,
        depends=[os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*.h"))],
        extra_compile_args=cflags,
        extra_link_args=ldflags + libs,
    )


setup(ext_modules=[extension()], cmdclass={"build_ext": ParallelBuildExt})
