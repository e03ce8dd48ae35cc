#!/usr/bin/env node
// make_golden.js — golden ids and decodes from Hugging Face's own `tokenizers` (the Rust library
// through its Node binding) for the corpus of corpus.js.
//
//   node make_golden.js --modules NODE_MODULES --tokenizer tokenizer.json --out golden.tsv
//                       [--add-special TOKEN]... [--token-id TOKEN]... [--kinds REGEX] [--contains TEXT]
//                       [--corpus corpus.tsv] [--label NAME]
//
// --modules      the folder holding node_modules/tokenizers (fetch_reference.sh fills one)
// --add-special  Tokenizer.addSpecialTokens([TOKEN, ...]) before encoding (as transformers'
//                add_special_tokens({"additional_special_tokens": [...]}) does)
// --token-id     record TOKEN's id (a special token already in the tokenizer) for the C side
// --kinds/--contains  keep only the strings whose kind matches REGEX / whose text contains TEXT
//                (both given: either one keeps a string)
// --corpus       a corpus file ("kind\thex" lines); default: corpus.js's own corpus
//
// Output (tab-separated, one string a line; '#' lines are comments, '#!' lines directives):
//   #!tokenizer <path>          #!add_special <token>          #!n_vocab <getVocabSize(true)>
//   #!token_id <token> <id>     (for each added special token)
//   <kind> \t <hex bytes> \t <ids> \t <ids with special tokens> \t <hex decode(ids_special, false)>
//          \t <hex decode(ids_special, true)> \t <hex decode(ids, false)>
// ids are space-separated decimals. The bytes are what the C side encodes; HF encodes
// Buffer.from(bytes).toString('utf8') (U+FFFD for invalid UTF-8).
'use strict';
const fs = require('fs');
const path = require('path');
const { corpus, hex } = require('./corpus.js');

function usage(msg) {
  process.stderr.write(`make_golden.js: ${msg}\n` +
    'usage: node make_golden.js --modules DIR --tokenizer tokenizer.json --out FILE ' +
    '[--add-special TOKEN]... [--token-id TOKEN]... [--kinds REGEX] [--contains TEXT] [--corpus FILE] [--label NAME]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { addSpecial: [], tokenIds: [], kinds: null, contains: null, corpus: null, label: null };
  for (let k = 0; k < argv.length; k++) {
    const f = argv[k];
    const v = () => { if (k + 1 >= argv.length) usage(`${f} needs a value`); return argv[++k]; };
    if (f === '--modules') a.modules = v();
    else if (f === '--tokenizer') a.tokenizer = v();
    else if (f === '--out') a.out = v();
    else if (f === '--add-special') a.addSpecial.push(v());
    else if (f === '--token-id') a.tokenIds.push(v());
    else if (f === '--kinds') a.kinds = new RegExp(v());
    else if (f === '--contains') a.contains = v();
    else if (f === '--corpus') a.corpus = v();
    else if (f === '--label') a.label = v();
    else usage(`unknown argument ${f}`);
  }
  if (!a.modules || !a.tokenizer || !a.out) usage('--modules, --tokenizer and --out are required');
  return a;
}

function loadCorpus(file) {
  if (!file) return corpus();
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l && l[0] !== '#').map((l) => {
    const [kind, h] = l.split('\t');
    return { kind, bytes: Buffer.from(h || '', 'hex') };
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const tk = require(path.resolve(a.modules, 'tokenizers'));
  const version = require(path.resolve(a.modules, 'tokenizers', 'package.json')).version;
  const tok = tk.Tokenizer.fromFile(path.resolve(a.tokenizer));
  if (a.addSpecial.length) tok.addSpecialTokens(a.addSpecial);

  let items = loadCorpus(a.corpus);
  if (a.kinds || a.contains) {
    items = items.filter((it) => (a.kinds && a.kinds.test(it.kind)) ||
      (a.contains !== null && it.bytes.includes(Buffer.from(a.contains, 'utf8'))));
  }

  const lines = [];
  lines.push(`# Golden ids from Hugging Face tokenizers@${version} (Node binding) — made by tests/tokenizer/make_golden.js`);
  lines.push('# kind\thex bytes\tids\tids with special tokens\thex decode(ids_special)\thex decode(ids_special, skip special)\thex decode(ids)');
  lines.push(`#!tokenizer\t${a.label || path.resolve(a.tokenizer)}`);
  for (const t of a.addSpecial) lines.push(`#!add_special\t${t}`);
  lines.push(`#!n_vocab\t${tok.getVocabSize(true)}`);
  for (const t of a.addSpecial.concat(a.tokenIds)) lines.push(`#!token_id\t${t}\t${tok.tokenToId(t)}`);

  const enc = async (s, special) => (await tok.encode(s, null, { addSpecialTokens: special })).getIds();
  const dec = async (ids, skip) => hex(Buffer.from(await tok.decode(ids, skip), 'utf8'));
  for (const it of items) {
    const s = it.bytes.toString('utf8');
    const ids = await enc(s, false);
    const idsS = await enc(s, true);
    lines.push([it.kind, hex(it.bytes), ids.join(' '), idsS.join(' '), await dec(idsS, false),
      await dec(idsS, true), await dec(ids, false)].join('\t'));
  }
  const tmp = `${a.out}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, lines.join('\n') + '\n');
  fs.renameSync(tmp, a.out);
  process.stdout.write(`make_golden.js: ${items.length} strings -> ${a.out}\n`);
}

main().catch((e) => { process.stderr.write(`make_golden.js: ${e && e.stack || e}\n`); process.exit(1); });
