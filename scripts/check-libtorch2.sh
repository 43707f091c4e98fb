#!/usr/bin/env bash
# Compiles every translation unit of stars (library, apps, benches, tests) against LibTorch
# 2.x's headers, without building or running anything: the GPU machines run LibTorch 2.x
# from the PyTorch wheel, where the code paths guarded by TORCH_VERSION_MAJOR >= 2 (fused
# AdamW, scaled_dot_product_attention, c10d) and any API LibTorch changed since 1.13 would
# otherwise first be compiled on a rented card. The headers come from Debian's next release
# (package libtorch-dev of trixie, resolved from the archive's index, kept in build/).
#
# Usage: bash scripts/check-libtorch2.sh [JOBS [PATTERN]]   (after scripts/build.sh)
#   JOBS: compilers at a time (default: nproc); PATTERN: check only the units whose path
#   matches this extended regular expression (default: all).
# Exit 0: every unit compiles; 1: some do not (listed); 3: the headers could not be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${1:-$(nproc)}"
pattern="${2:-.}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
suite="${LIBTORCH2_SUITE:-trixie}"
work=build/libtorch2-check
cache="$work/$suite"
[ -f build/compile_commands.json ] || { echo "build/compile_commands.json missing: run scripts/build.sh first" >&2; exit 2; }

# Exit 3 where the headers cannot be fetched (no route to the archive): nothing was checked.
unreachable() { echo "cannot fetch $1 from $mirror: LibTorch 2.x headers unavailable" >&2; exit 3; }
if [ ! -f "$cache/include/torch/csrc/api/include/torch/version.h" ]; then
  mkdir -p "$cache"
  echo "fetching the index of Debian $suite's packages"
  curl -fsS --retry 3 "$mirror/dists/$suite/main/binary-amd64/Packages.xz" -o "$cache/Packages.xz" ||
    unreachable "the $suite index"
  deb=$(xz -dc "$cache/Packages.xz" |
        awk '/^Package: libtorch-dev$/{p=1} p && /^Filename:/ && !found {print $2; found=1}')
  rm -f "$cache/Packages.xz"
  [ -n "$deb" ] || { echo "no libtorch-dev in Debian $suite's index" >&2; exit 1; }
  echo "fetching $deb"
  curl -fsS --retry 3 "$mirror/$deb" -o "$cache/libtorch-dev.deb" || unreachable "$deb"
  rm -rf "$cache/root"; dpkg-deb -x "$cache/libtorch-dev.deb" "$cache/root"
  rm -rf "$cache/include"; mv "$cache/root/usr/include" "$cache/include"
  rm -rf "$cache/root" "$cache/libtorch-dev.deb"
fi
headers="$(pwd)/$cache/include"
version=$(awk '/define TORCH_VERSION_(MAJOR|MINOR|PATCH)/{printf "%s%s", sep, $3; sep="."}' \
          "$headers/torch/csrc/api/include/torch/version.h")

# One set of flags for every unit (the union of the targets' definitions), so that one
# precompiled header of torch/torch.h serves them all.
flags=(-std=c++17 -fopenmp -Wall -Wextra -D_GLIBCXX_USE_CXX11_ABI=1
       -DFMT_SHARED -DSPDLOG_COMPILED_LIB -DSPDLOG_FMT_EXTERNAL -DSPDLOG_SHARED_LIB
       -DUSE_DISTRIBUTED -DUSE_C10D_GLOO -DSTARS_WITH_C10D "-DSTARS_SOURCE_DIR=\"$(pwd)\""
       -Iinclude -Ibuild/src/generated -Isrc -Itests -Ibench
       -isystem "$headers" -isystem "$headers/torch/csrc/api/include")
printf '#include <torch/torch.h>\n#include <nlohmann/json.hpp>\n' > "$work/pch.hpp"
echo "LibTorch $version headers: precompiling torch/torch.h"
g++ "${flags[@]}" -x c++-header "$work/pch.hpp" -o "$work/pch.hpp.gch"

"${PYTHON:-python3}" - > "$work/units.txt" <<'EOF'
import json, os
root = os.getcwd()
units = {e["file"] for e in json.load(open("build/compile_commands.json"))}
for f in sorted(units):
    rel = os.path.relpath(f, root)
    if not rel.startswith("build/") and rel.endswith(".cpp"):
        print(rel)
EOF
grep -E "$pattern" "$work/units.txt" > "$work/selected.txt" || true
mv "$work/selected.txt" "$work/units.txt"
check_one() {
  local unit="$1" log="$work/$(echo "$1" | tr / _).log"
  if g++ "${flags[@]}" -Winvalid-pch -include "$work/pch.hpp" -fsyntax-only "$unit" > "$log" 2>&1; then
    rm -f "$log"
  else
    echo "FAILED $unit"; grep -m 6 "error" "$log" || true
  fi
}
export -f check_one; export work
# Bash cannot export arrays: pass the flags through a file that each worker reads.
printf '%s\n' "${flags[@]}" > "$work/flags.txt"
check_unit() { mapfile -t flags < "$work/flags.txt"; check_one "$1"; }
export -f check_unit
n=$(wc -l < "$work/units.txt")
echo "checking $n translation units against LibTorch $version, $jobs at a time"
xargs -a "$work/units.txt" -P "$jobs" -I{} bash -c 'check_unit "$1"' _ {} > "$work/failures.txt"
cat "$work/failures.txt"
failed=$(grep -c "^FAILED" "$work/failures.txt" || true)
if [ "$failed" -gt 0 ]; then
  echo "$failed of $n translation units do not compile against LibTorch $version (logs: $work/)"
  exit 1
fi
echo "all $n translation units compile against LibTorch $version"
