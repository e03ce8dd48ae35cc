#!/usr/bin/env node
// make_pretok_golden.js — golden pieces of the Llama-3 pre-tokenizer, from Hugging Face itself.
//
// Runs Hugging Face `tokenizers` (the node binding, 0.23.2: Rust + Oniguruma) on a deterministic
// list of test strings with a tokenizer.json whose pre_tokenizer is Llama-3's Split alone (the
// pattern below is copied from Meta-Llama-3's tokenizer.json) and writes, one string a line,
//   <string, escaped>\t<end byte offset of each piece, space-separated>
// Escaping: bytes 00-1F, 7F, '\' and a leading '#' are written \xHH; all else is raw UTF-8.
// Lines starting with '#' are comments.
// Pieces are contiguous: each starts where the one before ends, the first at 0.
//
//   npm install --prefix /tmp/npmt tokenizers@0.23.2
//   NODE_PATH=/tmp/npmt/node_modules node tests/tools/make_pretok_golden.js \
//       [tests/golden/pretok_llama3.txt] [--strings FILE] [--random N SEED] [--tricky N SEED]
//       [--scan FILE]
//
// --strings FILE  use the strings of FILE (one JSON string a line) instead of the built-in list
// --random N SEED only N random strings (seeded), for large one-off cross-checks
// --tricky N SEED only N short strings over a small alphabet of regex-relevant chars
// --scan FILE     classify every code point 0..0x10FFFF through HF (L letter, N number, S \s,
//                 O other, '-' surrogate; \r \n read as O) for gen_unicode_tables.py --check-scan
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function makePreTokenizer() {
  const tj = {
    version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
    post_processor: null, decoder: null,
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: { a: 0 }, merges: [],
    },
  };
  return Tokenizer.fromString(JSON.stringify(tj)).getPreTokenizer();
}

// ---- deterministic random numbers (mulberry32) ----
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (arr) => arr[int(arr.length)];
  return { next, int, pick };
}

const cp = (c) => String.fromCodePoint(c);

// ---- the test strings ----
const HAND = [
  '', ' ', '  ', 'a', "'", "''", "'s", "'S", "'ſ", "x'ſ", "x'ſa", "'ſt", "I'M here", "they'RE", "they'Re",
  "We'VE", "you'Ll", "she'D", "it's", "It'S", "DON'T", "don't", "I'll've", "y'all", "rock'n'roll",
  "'''s", "'s's", "''t", "' s", "x' s", "x'x", "x'", "x'1", "1's", "3'rd", "'re'", "'ll'", "'ve'",
  "O'Neil's", "l'homme", "ma'am", "'\u212a", "x'\u212aa", "x\u2019s", "x\u2019S", "'\u0130", "'\u0131",
  'Hello world', 'Hello, world!', 'Hello  world', 'Hello   world  ', 'end with spaces   ',
  'new\nline', 'new\n\nlines\n', 'crlf\r\nline\r\n', '\r\n', '\n', '\r', '\r\r\n\n', ' \n ',
  '  \n  x', '\t\tx', '\tx', '\t\n\tx', 'x \t', 'x\u00a0y', 'x\u00a0\u00a0y', 'x\u3000y',
  'x \u3000y', 'x\u2003\u2003!', 'x\u0085y', 'x\u0085\u0085!', 'x\u1680!', 'x\u200b!', 'x\u200b\u200b!',
  'x\u2028y', 'x\u2029\u2029', 'x\u202f\u205f!', 'x\u000b\u000c!', 'x\u001c\u001d!', 'x\u180e!',
  '123', '1234', '1234567', '123456789012', 'abc123def', 'abc 123 def', 'v1.2.3', '3.14159',
  '1,000,000', '$100', '-42', '+7', '\u0661\u0662\u0663\u0664', '\uff11\uff12\uff13\uff14',
  '\u00b2\u00b3\u00b9', '\u00bd\u00bc', '\u2160\u2161\u216b', 'x\u00b2+y\u00b2', '\u2460\u2461\u2462\u2463',
  '!!!', '...\n', '?!\n\n', ' ...', '  ...', ' (x)', '--\r\n', 'a.b', ':)', '<|eot_id|>',
  '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n10*6=60\n2+60=62\nGoal Reached!',
  'caf\u00e9', 'cafe\u0301', 'e\u0301', '\u0301', '\u0301\u0301x', 'x\u0301\u0301', 'n\u0303o\u0308',
  '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e', '\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35',
  '\u4f60\u597d\uff0c\u4e16\u754c\uff01', '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002',
  '\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8', '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645',
  '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd', '\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd',
  '\u{1f600}', ' \u{1f600}', 'x\u{1f600}y', '\u{1f44d}\u{1f3fd}', '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}\u200d\u{1f466}',
  '\u{1f1fa}\u{1f1f8}\u{1f1eb}\u{1f1f7}', '1\ufe0f\u20e3', '\u2764\ufe0f', ' \u{1f3f3}\ufe0f\u200d\u{1f308} x',
  '\u{1d400}\u{1d401}', '\u{10400}\u{10401}', '\u{20000}\u{20001}', '\u{31350}\u{31351}', '\u{13460}x',
  '\u{11f04}\u{11f50}', '\u{10d40}\u{10d4a}', '\u{1e5f1}\u{1e5f2}\u{1e5f3}\u{1e5f4}', '\u{e0041}',
  '\u{f0000}', '\u{10ffff}', '\ufeffBOM', '\ufffd', '\u0000', 'a\u0000b', '\u0000\u0000\n',
  'def f(x):\n    return x + 1\n\n\nclass A:\n\tpass\n',
  '<html>\n  <body>\n    <p>Hi</p>\n  </body>\n</html>\n',
];

const CONTRACTIONS = ['s', 't', 're', 've', 'm', 'll', 'd'];

function caseVariants(w) {
  const out = [];
  for (let m = 0; m < 1 << w.length; m++) {
    let s = '';
    for (let i = 0; i < w.length; i++) s += (m >> i) & 1 ? w[i].toUpperCase() : w[i];
    out.push(s);
  }
  if (w.includes('s')) out.push(w.replace('s', '\u017f'));
  return out;
}

function contractionStrings() {
  const out = [];
  const pre = ['', 'x', 'I', 'they', ' ', '1', '!', "'", '\n', '\u00e9', '\u4e2d'];
  const post = ['', 'x', ' x', '1', '!', "'", '\n', 'e', 'l', '\u00e9'];
  let k = 0;
  for (const c of CONTRACTIONS) {
    for (const v of caseVariants(c)) {
      for (const p of pre) {
        out.push(p + "'" + v + post[k++ % post.length]);
      }
    }
  }
  return out;
}

function digitStrings(r) {
  const out = [];
  const digs = ['0123456789', '\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669',
    '\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19', '\u00b2\u00b3\u00b9\u00bc\u00bd\u2160\u2461'];
  for (let n = 1; n <= 12; n++) {
    for (const d of digs) {
      let s = '';
      for (let i = 0; i < n; i++) s += r.pick([...d]);
      out.push(s, 'abc' + s + 'def', ' ' + s, s + ' ', 'x ' + s + '.', '$' + s, s + 'th', '(' + s + ')');
    }
  }
  return out;
}

const WS = [' ', ' ', ' ', '\t', '\r', '\n', '\r\n', '\u000b', '\u000c', '\u00a0', '\u2003', '\u3000',
  '\u0085', '\u1680', '\u200b', '\u2028', '\u2029', '\u202f', '\u205f', '\u2009'];
const AFTER = ['', 'word', ' word', '!', '...', ' !', '1', '123', '\u{1f600}', '\u4e2d', '\u0301', '\n',
  "'s", '\u00e9t\u00e9', '\u0661'];
const BEFORE = ['', 'x', '!', '1', '\u4e2d', '\n', ' '];

function whitespaceStrings(r) {
  const out = [];
  for (let i = 0; i < 450; i++) {
    const n = 1 + r.int(6);
    let s = '';
    for (let j = 0; j < n; j++) s += r.pick(WS);
    out.push(r.pick(BEFORE) + s + r.pick(AFTER));
  }
  return out;
}

const PUNCT = [...'!?.,;:-_()[]{}<>/\\|@#$%^&*+=~`"\''].concat(
  ['\u2014', '\u2026', '\u00ab', '\u00bb', '\u00bf', '\u00a1', '\u201c', '\u201d', '\u2018', '\u2019',
    '\u3002', '\u3001', '\uff01', '\u00a7', '\u20ac', '\u2192', '\u2211', '\u2500', '\u{1f525}']);

function punctStrings(r) {
  const out = [];
  for (let i = 0; i < 200; i++) {
    let s = r.int(3) === 0 ? ' ' : '';
    const n = 1 + r.int(5);
    for (let j = 0; j < n; j++) s += r.pick(PUNCT);
    const nl = r.int(4);
    for (let j = 0; j < nl; j++) s += r.pick(['\n', '\r', '\r\n', ' ', '\t']);
    out.push(r.pick(['', 'x', 'x ', '1', ' ', '\n']) + s + r.pick(['', 'y', ' y', '2', '!', '\n', '  ']));
  }
  return out;
}

function countdownStrings(r) {
  const out = [];
  for (let i = 0; i < 120; i++) {
    const k = 3 + r.int(2);
    const nums = [];
    for (let j = 0; j < k; j++) nums.push(1 + r.int(99));
    const target = 1 + r.int(999);
    let s = `###Question: numbers [${nums.join(', ')}]->target ${target}\n###Response:\n`;
    const steps = 1 + r.int(3);
    for (let j = 0; j < steps; j++) {
      const a = r.pick(nums), b = r.pick(nums), op = r.pick(['+', '-', '*', '/']);
      s += `${a}${op}${b}=${r.int(10000)}\n`;
    }
    s += r.pick(['Goal Reached!', '<backtrack>', 'Exploring Operation: 45-39=6, Resulting Numbers: [2, 10, 6]\n',
      'Generated Node #0,1,2: 62:[2, 10, 6] Operation: 45-39=6', '']);
    out.push(s);
  }
  return out;
}

const TEXTS = [
  'The quick brown fox jumps over the lazy dog. It\'s 3:45pm; we\'ve got 12345 items (approx.)!\n',
  'Ce n\'est pas l\u00e0 qu\'il l\'a vu \u2014 \u00ab\u00a0Bonjour\u00a0\u00bb, dit-il.\n',
  'Stra\u00dfe, Gr\u00f6\u00dfe, \u00c4rger \u2014 \u00fcber 100\u00a0km/h.',
  '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u042d\u0442\u043e \u0442\u0435\u0441\u0442 \u2116 42.',
  '\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5; 2024',
  '\u6211\u7231\u5317\u4eac\u5929\u5b89\u95e8\uff0c\u5929\u5b89\u95e8\u4e0a\u592a\u9633\u5347\u3002 2024\u5e7412\u670831\u65e5',
  '\u3053\u3093\u306b\u3061\u306f\u3001\u4e16\u754c\uff01\u30ab\u30bf\u30ab\u30ca\u3068\u6f22\u5b57\u3002\uff11\uff12\uff13',
  '\ud504\ub85c\uadf8\ub798\ubc0d \uc5b8\uc5b4 C11\uc740 2011\ub144\uc5d0...',
  '\u0627\u0644\u0639\u0631\u0628\u064a\u0629: \u0661\u0662\u0663 \u0648 123 \u2014 \u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627!',
  '\u05e2\u05d1\u05e8\u05d9\u05ea (\u05d2\u05e8\u05e1\u05d4 2.0): \u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd!\n',
  '\u0939\u093f\u0928\u094d\u0926\u0940 \u092e\u0947\u0902 \u0967\u0968\u0969 \u0914\u0930 123\u0964',
  '\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22 \u0e51\u0e52\u0e53 \u0e04\u0e23\u0e31\u0e1a',
  'Ti\u00ea\u0301ng Vi\u00ea\u0323t co\u0301 da\u0302\u0301u.',
  'emoji: \u{1f600}\u{1f603}\u{1f604} \u{1f468}\u200d\u{1f4bb} \u{1f44b}\u{1f3ff} \u{1f1ef}\u{1f1f5} #\ufe0f\u20e3 done\u{1f389}\n',
  'int main(void) {\n\treturn 0;\r\n}\n\n\n    // comment\n',
  '    indented\n        more\n\n  \n\t\n',
  'x = [1, 2, 3]  # list\ny = {"a": 1}\n',
  'URL: https://example.com/path?q=1&r=22#frag; mail: a.b@c.de',
  'Math: \u2200x\u2208\u211d, x\u00b2 \u2265 0; \u222b\u2080\u00b9 f(x)dx \u2248 \u03c0/4',
];

// Blocks to draw random code points from: [first, last].
const BLOCKS = [
  [0x20, 0x7e], [0x20, 0x7e], [0x00, 0x1f], [0x80, 0xff], [0x100, 0x24f], [0x250, 0x2ff], [0x300, 0x36f],
  [0x370, 0x3ff], [0x400, 0x4ff], [0x530, 0x58f], [0x590, 0x5ff], [0x600, 0x6ff], [0x700, 0x74f],
  [0x900, 0x97f], [0x980, 0x9ff], [0xe00, 0xe7f], [0x10a0, 0x10ff], [0x1100, 0x11ff], [0x1680, 0x169f],
  [0x1800, 0x18af], [0x1c80, 0x1c8f], [0x1e00, 0x1eff], [0x1f00, 0x1fff], [0x2000, 0x206f], [0x2070, 0x209f],
  [0x20a0, 0x20cf], [0x2100, 0x214f], [0x2150, 0x218f], [0x2190, 0x21ff], [0x2200, 0x22ff],
  [0x2460, 0x24ff], [0x2500, 0x257f], [0x2600, 0x26ff], [0x2700, 0x27bf], [0x2c00, 0x2c5f], [0x2e80, 0x2eff],
  [0x3000, 0x303f], [0x3040, 0x309f], [0x30a0, 0x30ff], [0x3100, 0x312f], [0x4e00, 0x9fff], [0xa000, 0xa48f],
  [0xa700, 0xa7ff], [0xac00, 0xd7a3], [0xe000, 0xf8ff], [0xf900, 0xfaff], [0xfb00, 0xfb4f], [0xfe00, 0xfe0f],
  [0xfe70, 0xfeff], [0xff00, 0xffef], [0xfff0, 0xffff], [0x10000, 0x1007f], [0x10330, 0x1034f],
  [0x10400, 0x1044f], [0x105c0, 0x105ff], [0x10d40, 0x10d8f], [0x10ec0, 0x10eff], [0x11000, 0x1107f],
  [0x11200, 0x1124f], [0x11380, 0x113ff], [0x116d0, 0x116ef], [0x11bc0, 0x11bff], [0x11f00, 0x11f5f],
  [0x12000, 0x123ff], [0x13000, 0x1345f], [0x13460, 0x143ff], [0x16100, 0x1613f], [0x16d40, 0x16d7f],
  [0x18b00, 0x18cff], [0x1b000, 0x1b16f], [0x1ccf0, 0x1ccff], [0x1d2c0, 0x1d2df], [0x1d400, 0x1d7ff],
  [0x1df00, 0x1dfff], [0x1e030, 0x1e08f], [0x1e4d0, 0x1e4ff], [0x1e5d0, 0x1e5ff], [0x1e800, 0x1e8df],
  [0x1f000, 0x1f0ff], [0x1f100, 0x1f1ff], [0x1f300, 0x1f5ff], [0x1f600, 0x1f64f], [0x1f900, 0x1faff],
  [0x20000, 0x2a6df], [0x2a700, 0x2b73f], [0x2ebf0, 0x2ee5f], [0x30000, 0x3134f], [0x31350, 0x323af],
  [0x323b0, 0x3ffff], [0xe0000, 0xe007f], [0xe0100, 0xe01ef], [0xf0000, 0xffffd], [0x100000, 0x10ffff],
];
const STRUCT = [' ', ' ', ' ', '\n', '\r\n', '\t', "'", "'s", "'LL", '1', '22', '.', '!', 'a', 'Z', '\u00a0',
  '\u3000', '  ', '\n\n', '\u200d', '\ufe0f', '\u0301'];

function randomChar(r) {
  const b = r.pick(BLOCKS);
  for (;;) {
    const c = b[0] + r.int(b[1] - b[0] + 1);
    if (c < 0xd800 || c > 0xdfff) return cp(c);
  }
}

function randomStrings(r, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + r.int(r.int(4) === 0 ? 120 : 30);
    const structural = r.next() * 0.6;
    let s = '';
    for (let j = 0; j < n; j++) s += r.next() < structural ? r.pick(STRUCT) : randomChar(r);
    out.push(s);
  }
  return out;
}

// Short strings over a small alphabet of the chars the regex cares about, to hit every
// interaction of the alternatives (contractions, optional prefixes, backtracking white space).
const TRICKY = [' ', ' ', '\t', '\n', '\r', '\u00a0', '\u3000', '\u0085', '\u000b', "'", "'", 's', 'S',
  '\u017f', 'l', 'L', 'e', 'r', 'v', 'd', 'm', 't', 'x', '1', '\u0663', '\u00b2', '!', '.', '\u0301',
  '\u200b', '\u{1f600}', '\u4e2d'];

function trickyStrings(r, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const n = 1 + r.int(12);
    let s = '';
    for (let j = 0; j < n; j++) s += r.pick(TRICKY);
    out.push(s);
  }
  return out;
}

function builtinStrings() {
  const r = rng(20240613);
  return [].concat(HAND, contractionStrings(), digitStrings(r), whitespaceStrings(r), punctStrings(r),
    countdownStrings(r), TEXTS, randomStrings(r, 700), trickyStrings(r, 400));
}

// ---- output ----
function escape(s) {
  let o = '';
  let first = true;
  for (const b of Buffer.from(s, 'utf8')) {
    // A leading '#' is escaped too: lines starting with '#' are comments.
    if (b < 0x20 || b === 0x7f || b === 0x5c || (first && b === 0x23)) o += '\\x' + b.toString(16).padStart(2, '0');
    else o += String.fromCharCode(b);
    first = false;
  }
  // The bytes >= 0x80 were appended as Latin-1 chars: turn them back into the UTF-8 bytes.
  return Buffer.from(o, 'latin1');
}

function goldenLine(pre, s) {
  if ([...s].some((c) => c.codePointAt(0) >= 0xd800 && c.codePointAt(0) <= 0xdfff))
    throw new Error('lone surrogate in test string ' + JSON.stringify(s));
  const cps = [...s];
  const pieces = pre.preTokenizeString(s);
  const ends = [];
  let at = 0, bytes = 0;
  for (const [text, [a, b]] of pieces) {
    // Offsets are in code points; check that, and that the pieces tile the string.
    if (a !== at || cps.slice(a, b).join('') !== text)
      throw new Error(`unexpected piece ${JSON.stringify(text)} [${a},${b}) in ${JSON.stringify(s)}`);
    bytes += Buffer.byteLength(text, 'utf8');
    ends.push(bytes);
    at = b;
  }
  if (at !== cps.length) throw new Error('pieces do not cover ' + JSON.stringify(s));
  return Buffer.concat([escape(s), Buffer.from('\t' + ends.join(' ') + '\n')]);
}

function scan(pre, file) {
  const n = (s) => pre.preTokenizeString(s).length;
  const out = Buffer.alloc(0x110000);
  for (let c = 0; c <= 0x10ffff; c++) {
    let k;
    if (c >= 0xd800 && c <= 0xdfff) k = '-';
    else {
      const x = cp(c);
      // L: "aX" is one piece; N: "1X" is one; S: "!X" is two (O: "!X" is one).
      if (n('a' + x) === 1) k = 'L';
      else if (n('1' + x) === 1) k = 'N';
      else if (n('!' + x) === 2) k = 'S';
      else k = 'O';
    }
    out[c] = k.charCodeAt(0);
  }
  fs.writeFileSync(file, out);
}

function main() {
  const args = process.argv.slice(2);
  let outFile = path.join(__dirname, '..', 'golden', 'pretok_llama3.txt');
  let strings = null;
  const pre = makePreTokenizer();
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--scan') return scan(pre, args[++i]);
    if (args[i] === '--strings')
      strings = fs.readFileSync(args[++i], 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
    else if (args[i] === '--random') {
      const count = +args[++i];
      strings = randomStrings(rng(+args[++i]), count);
    } else if (args[i] === '--tricky') {
      const count = +args[++i];
      strings = trickyStrings(rng(+args[++i]), count);
    } else outFile = args[i];
  }
  if (!strings) strings = builtinStrings();
  const head = `# Llama-3 pre-tokenizer pieces from Hugging Face tokenizers ${require('tokenizers/package.json').version}` +
    ` (node), made by tests/tools/make_pretok_golden.js: ${strings.length} strings.\n` +
    '# <string with bytes 00-1F 7F 5C (and a leading 23) as \\xHH>\\t<end byte offsets of the pieces>\n';
  const parts = [Buffer.from(head)];
  for (const s of strings) parts.push(goldenLine(pre, s));
  fs.writeFileSync(outFile, Buffer.concat(parts));
  console.log(`${outFile}: ${strings.length} strings`);
}

main();
