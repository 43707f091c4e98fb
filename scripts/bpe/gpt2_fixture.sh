#!/usr/bin/env bash
# Remakes tests/fixtures/bpe/gpt2 (GPT-2's vocab.json and merges.txt, a corpus over 1 MB,
# and js-tiktoken's token ids for it), the reference the BPE tests compare against. Needs
# node and npm (js-tiktoken is installed into a temporary directory) and Debian's fortunes
# packages in English, German, Russian, Czech and Chinese. The tests themselves need none of
# this: they read the files this writes.
set -euo pipefail
cd "$(dirname "$0")/../.."
JS_TIKTOKEN_VERSION=1.0.21
packages=(fortunes fortunes-de fortunes-ru fortunes-cs fortunes-zh)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  echo "gpt2_fixture: needs ${packages[*]} (apt-get install ${packages[*]})" >&2
  exit 2
fi
[ -f data/fortunes.txt ] || python3 scripts/text_corpus.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --silent --no-audit --no-fund "js-tiktoken@$JS_TIKTOKEN_VERSION")
node scripts/bpe/gpt2_fixture.mjs "$work/node_modules/js-tiktoken" tests/fixtures/bpe/gpt2
