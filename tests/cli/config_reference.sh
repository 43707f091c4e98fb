#!/usr/bin/env bash
# docs/config.md is generated from the config field lists; it must match the code.
#   config_reference.sh STARS_TRAIN DOCS_CONFIG_MD
set -euo pipefail
train=$1 doc=$2
if ! diff -u "$doc" <("$train" --config-reference); then
  echo "FAIL: $doc is out of date; regenerate it with: stars-train --config-reference > docs/config.md"
  exit 1
fi
echo "ok: $doc matches stars-train --config-reference"
