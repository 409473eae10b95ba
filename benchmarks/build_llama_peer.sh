#!/usr/bin/env bash
# Build the native llama.cpp peer for benchmarks/bench_engine.py: llama-bench and llama-quantize from the
# llama.cpp copy vendored in the llama-cpp-python sdist on PyPI, GGML_NATIVE=ON (-march=native).
#
#   benchmarks/build_llama_peer.sh [DIR]      # DIR default: $LLAMA_PEER_DIR or ~/.cache/reviewbot/llama-peer
#
# Steps: download the sdist (pip download), check its sha256 against the pinned one, unpack, configure with
# cmake + ninja, build with -j2 under nice. Idempotent: every step is skipped when its output exists.
# AMX is compiled out by default (-mno-amx-*; AVX-512, VNNI, BF16 stay on): a plain native build of this
# llama.cpp dies on these machines. Where the kernel does not enable AMX tile data (XTILEDATA), llama-bench
# gets SIGILL; on a machine whose kernel does enable it (and where tile instructions run: a probe passed),
# llama-bench still crashed with SIGSEGV in ggml::cpu::amx::tensor_traits::compute_forward on
# Qwen2.5-Coder-0.5B Q4_K_M (December 2026). $LLAMA_PEER_AMX=on builds with AMX anyway (in build-native,
# the default build-native-noamx); $PYTHON picks the python that runs pip.
# Shared libraries, so the sdist's own Python binding (llama_cpp, pure ctypes) runs on the same build.
# Last lines printed: where the sdist's Python package and the two binaries are (bench_engine.py --llama-peer DIR).
set -euo pipefail

VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e  # PyPI simple index, 0.3.36 sdist
DIR=${1:-${LLAMA_PEER_DIR:-$HOME/.cache/reviewbot/llama-peer}}
PYTHON=${PYTHON:-python3}
AMX=${LLAMA_PEER_AMX:-off}

for tool in cmake ninja cc c++; do
  command -v "$tool" >/dev/null || { echo "build_llama_peer: $tool not found (pip install cmake ninja, or apt-get install cmake ninja-build g++)" >&2; exit 2; }
done

mkdir -p "$DIR/sdist" "$DIR/src"
SDIST="$DIR/sdist/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
  "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation "llama-cpp-python==$VERSION" -d "$DIR/sdist" \
    || "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$DIR/sdist"
fi
echo "$SHA256  $SDIST" | sha256sum --check --quiet - || { echo "build_llama_peer: sha256 mismatch for $SDIST" >&2; exit 1; }

SRC="$DIR/src/llama_cpp_python-$VERSION"
if [ ! -f "$SRC/vendor/llama.cpp/CMakeLists.txt" ]; then
  tar -xzf "$SDIST" -C "$DIR/src"
fi
LLAMA="$SRC/vendor/llama.cpp"

# Say what this machine offers (the CPU flag, and whether the kernel enables the tile data state).
cpu_amx=no
grep -qw amx_tile /proc/cpuinfo 2>/dev/null && cpu_amx=yes
kernel_amx=$("$PYTHON" - <<'EOF'
import ctypes, platform
if platform.machine() != 'x86_64':
    print('no'); raise SystemExit
libc = ctypes.CDLL(None, use_errno=True)
SYS_arch_prctl, ARCH_GET_XCOMP_SUPP, XFEATURE_XTILEDATA = 158, 0x1021, 18
mask = ctypes.c_uint64(0)
ok = libc.syscall(SYS_arch_prctl, ARCH_GET_XCOMP_SUPP, ctypes.byref(mask)) == 0
print('yes' if ok and mask.value & (1 << XFEATURE_XTILEDATA) else 'no')
EOF
)
case "$AMX" in
  on|off) ;;
  *) echo "build_llama_peer: LLAMA_PEER_AMX must be on or off" >&2; exit 2 ;;
esac
echo "build_llama_peer: CPU advertises AMX: $cpu_amx; kernel enables AMX tile data: $kernel_amx; building with AMX $AMX"

BUILD="$DIR/build-native"
FLAGS=""
if [ "$AMX" = off ]; then
  BUILD="$DIR/build-native-noamx"
  FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S "$LLAMA" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_C_FLAGS="$FLAGS" -DCMAKE_CXX_FLAGS="$FLAGS" >"$DIR/configure-$(basename "$BUILD").log"
fi
nice ninja -C "$BUILD" -j2 llama llama-bench llama-quantize

# The sdist's Python binding (pure ctypes) loads libllama/libggml from llama_cpp/lib: point it at this build,
# so the llama-cpp-python row runs the very same library (PYTHONPATH=$SRC, see bench_engine.py).
ln -sfn "$BUILD/bin" "$SRC/llama_cpp/lib"
# ...and imports diskcache at load time: give it one beside the build, not in the project's environment.
if [ ! -d "$DIR/pydeps/diskcache" ]; then
  "$PYTHON" -m pip install --quiet --no-deps --target "$DIR/pydeps" diskcache
fi
echo "$AMX" >"$BUILD/reviewbot-amx"
echo "LLAMA_CPP_PYTHON=$SRC:$DIR/pydeps  # PYTHONPATH for the binding"
echo "LLAMA_BENCH=$BUILD/bin/llama-bench"
echo "LLAMA_QUANTIZE=$BUILD/bin/llama-quantize"
