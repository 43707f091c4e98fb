#!/usr/bin/env bash
# Copies stars' header-only dependencies and GoogleTest's sources from this machine's
# Debian packages into .deps/ (git-ignored), for machines without package access, such as
# the GPU machine (scripts/device-build.sh builds with -DSTARS_DEPS_DIR=.deps).
#   .deps/include/{CLI,nlohmann,spdlog,fmt,gloo}   headers (spdlog and fmt used header-only)
#   .deps/googletest                               GoogleTest + GoogleMock sources
#   .deps/zlib/{zlib.h,zconf.h}                    for a machine with zlib's library only
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf .deps && mkdir -p .deps/include
for d in CLI nlohmann spdlog fmt gloo; do cp -r "/usr/include/$d" .deps/include/; done
cp -r /usr/src/googletest .deps/googletest
mkdir -p .deps/zlib && cp /usr/include/zlib.h /usr/include/zconf.h .deps/zlib/
du -sh .deps | sed 's/^/vendor-deps: /'
