// Writes tests/fixtures/bpe/gpt2: GPT-2's byte-level BPE as vocab.json + merges.txt (from the
// ranks js-tiktoken publishes), a corpus of real text over 1 MB with non-ASCII scripts, and
// the token ids js-tiktoken gives for it: the reference the C++ and Python tokenizers are
// checked against. Run through scripts/bpe/gpt2_fixture.sh, which installs js-tiktoken.
// Usage: node gpt2_fixture.mjs JS_TIKTOKEN_DIR OUT_DIR
import { createRequire } from "node:module";
import { readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [moduleDir, outDir] = process.argv.slice(2);
const require = createRequire(join(moduleDir, "package.json"));
const { Tiktoken } = require(moduleDir);
const gpt2 = require(join(moduleDir, "dist/ranks/gpt2.cjs"));
const enc = new Tiktoken(gpt2);

// --- GPT-2's byte <-> unicode map (the printable bytes keep their code point) ------------
function bytesToUnicode() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = new Array(256);
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
  return map;
}
const byteChar = bytesToUnicode();
const tokenString = (bytes) => Array.from(bytes, (b) => byteChar[b]).join("");

// --- vocab and merges from the ranks ---------------------------------------------------
// A rank's merge is the pair byte-pair encoding with the lower ranks leaves of its bytes.
function partsBelow(bytes, limit) {
  let parts = Array.from(bytes, (b) => [b]);
  for (;;) {
    let best = null;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = enc.rankMap.get([...parts[i], ...parts[i + 1]].join(","));
      if (r !== undefined && r < limit && (best === null || r < best[0])) best = [r, i];
    }
    if (best === null) return parts;
    const i = best[1];
    parts.splice(i, 2, [...parts[i], ...parts[i + 1]]);
  }
}
const vocab = {};
const merges = [];
const ranks = [...enc.textMap.keys()].sort((a, b) => a - b);
for (const rank of ranks) {
  const bytes = enc.textMap.get(rank);
  vocab[tokenString(bytes)] = rank;
  if (bytes.length === 1) continue;
  const parts = partsBelow(bytes, rank);
  if (parts.length !== 2) throw new Error(`rank ${rank}: ${parts.length} parts, not a merge`);
  merges.push(parts.map(tokenString).join(" "));
}
for (const [text, id] of Object.entries(gpt2.special_tokens)) vocab[text] = id;

// --- the corpus -------------------------------------------------------------------------
const FORTUNES = "/usr/share/games/fortunes";
function fortunesOf(path) {
  return readFileSync(path, "utf8")
    .replace(/\x1b\[[0-9;]*m/g, "")
    .replace(/\r\n/g, "\n")
    .split("\n%\n")
    .map((e) => e.replace(/^%\n|\n%$/g, "").trim())
    .filter((e) => e.length > 0);
}
// Whole fortunes from `files`, in order, until `quota` bytes.
function take(files, quota) {
  const out = [];
  let size = 0;
  for (const f of files) {
    for (const e of fortunesOf(f)) {
      if (size >= quota) return out.join("\n\n");
      out.push(e);
      size += Buffer.byteLength(e) + 2;
    }
  }
  return out.join("\n\n");
}
const dirFiles = (dir) =>
  readdirSync(dir)
    .filter((n) => !n.includes(".") && statSync(join(dir, n)).isFile())
    .sort()
    .map((n) => join(dir, n));
const sections = [];
const english = readFileSync("data/fortunes.txt", "utf8");
sections.push(["English fortunes (data/fortunes.txt)", english.slice(0, english.indexOf("\n\n", 560000))]);
sections.push(["German fortunes (fortunes-de)", take(dirFiles(`${FORTUNES}/de`), 150000)]);
sections.push(["Russian fortunes (fortunes-ru)", take(dirFiles(`${FORTUNES}/ru`), 150000)]);
sections.push(["Czech fortunes (fortunes-cs)", take(dirFiles(`${FORTUNES}/cs`), 80000)]);
sections.push(["Chinese poems (fortunes-zh)", take([`${FORTUNES}/tang300.u8`, `${FORTUNES}/song100.u8`], 60000)]);
for (const lic of ["GPL-3", "Apache-2.0", "MPL-2.0"])
  sections.push([`licence ${lic}`, readFileSync(`/usr/share/common-licenses/${lic}`, "utf8")]);
sections.push(["multilingual lines", readFileSync("tests/fixtures/bpe/multilingual.txt", "utf8")]);
const corpus = sections.map(([, text]) => text).join("\n\n");
// U+FEFF and U+0085: JavaScript's \s and Unicode's White_Space (Hugging Face's) disagree.
if (/[\ufeff\u0085]/u.test(corpus)) throw new Error("corpus holds U+FEFF or U+0085");

const ids = enc.encode(corpus);
if (enc.decode(ids) !== corpus) throw new Error("js-tiktoken does not round-trip the corpus");
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "vocab.json"), JSON.stringify(vocab));
writeFileSync(join(outDir, "merges.txt"), "#version: 0.2\n" + merges.join("\n") + "\n");
writeFileSync(join(outDir, "corpus.txt"), corpus);
const lines = [];
for (let i = 0; i < ids.length; i += 32) lines.push(ids.slice(i, i + 32).join(" "));
writeFileSync(join(outDir, "ids.txt"), lines.join("\n") + "\n");
const bytes = Buffer.byteLength(corpus);
const nonAscii = [...corpus].filter((c) => c.codePointAt(0) > 127).length;
for (const [name, text] of sections) console.log(`${name}: ${Buffer.byteLength(text)} bytes`);
console.log(`corpus ${bytes} bytes (${nonAscii} non-ASCII characters), ${ids.length} ids, ` +
  `${merges.length} merges, vocab ${Object.keys(vocab).length}`);
