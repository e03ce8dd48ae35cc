#!/usr/bin/env node
// make_corpus.js — the tokenizer benchmark's corpus: ~10 MB of documents separated by blank
// lines ("\n\n"), half Countdown rows, half English-like prose with some other scripts mixed in.
// No downloads: the prose comes from the generator of tests/tokenizer/corpus.js.
//
//   node bench/make_corpus.js OUT [--countdown train.jsonl] [--mb 10] [--seed 7]
//
// --countdown  rows from selfbt-data (prompt + search_path each, in SPEC's format); without it
//              the rows come from corpus.js's own Countdown generator.
// Every document is free of "\n\n", so splitting OUT on "\n\n" gives the documents back.
'use strict';
const fs = require('fs');
const path = require('path');
const { Rng, countdownRows, sentence } = require(path.join(__dirname, '..', 'tests', 'tokenizer', 'corpus.js'));

const args = process.argv.slice(2);
let out = null, cdFile = null, mb = 10, seed = 7;
for (let k = 0; k < args.length; k++) {
  if (args[k] === '--countdown') cdFile = args[++k];
  else if (args[k] === '--mb') mb = Number(args[++k]);
  else if (args[k] === '--seed') seed = Number(args[++k]);
  else if (!out && !args[k].startsWith('--')) out = args[k];
  else { process.stderr.write(`make_corpus.js: unknown argument ${args[k]}\n`); process.exit(2); }
}
if (!out || !(mb > 0)) {
  process.stderr.write('usage: node bench/make_corpus.js OUT [--countdown train.jsonl] [--mb 10] [--seed 7]\n');
  process.exit(2);
}

const rng = new Rng(seed);
const target = Math.round(mb * 1e6);
const half = target / 2;

// Countdown documents.
const cd = [];
let cdBytes = 0;
if (cdFile) {
  for (const line of fs.readFileSync(cdFile, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    const doc = `###Question: numbers [${r.nums.join(', ')}]->target ${r.target}\n###Response:\n${r.search_path}`;
    cd.push(doc);
    cdBytes += Buffer.byteLength(doc) + 2;
    if (cdBytes >= half) break;
  }
}
while (cdBytes < half) { // not enough rows given (or none): generate the rest
  for (const r of countdownRows(rng, 1000)) {
    const doc = r.prompt + r.path;
    cd.push(doc);
    cdBytes += Buffer.byteLength(doc) + 2;
  }
}

// Prose documents: paragraphs of sentences, a few with other scripts, numbers and code.
const OTHER = ['日本語のテキストです。', '中文分词测试：我们今天去公园。', 'Привет, мир!', 'مرحبا بالعالم',
  'Ελληνικά', 'नमस्ते दुनिया', '😀 👍🏽 🇫🇷', 'café naïve résumé', '¿Qué tal? ¡Bien!', '한국어 문장입니다.'];
const prose = [];
let proseBytes = 0;
while (proseBytes < target - cdBytes) {
  const n = rng.int(2, 12);
  let p = '';
  for (let i = 0; i < n; i++) {
    let s = sentence(rng);
    if (rng.chance(0.05)) s += ' ' + rng.pick(OTHER);
    if (rng.chance(0.03)) s += ` (${rng.int(0, 1e6)}, ${rng.int(0, 1e3)}.${rng.int(0, 99)}%)`;
    p += (i ? (rng.chance(0.15) ? '\n' : ' ') : '') + s.replace(/\n+/g, ' ').trim();
  }
  prose.push(p);
  proseBytes += Buffer.byteLength(p) + 2;
}

// Interleave deterministically, as a data file would mix them.
const docs = [];
let i = 0, j = 0;
while (i < cd.length || j < prose.length) {
  if (j >= prose.length || (i < cd.length && rng.chance(cd.length / (cd.length + prose.length)))) docs.push(cd[i++]);
  else docs.push(prose[j++]);
}
const text = docs.join('\n\n') + '\n';
fs.writeFileSync(out, text);
process.stdout.write(`make_corpus.js: ${out}: ${docs.length} documents (${cd.length} Countdown, ` +
  `${prose.length} prose), ${Buffer.byteLength(text)} bytes\n`);
