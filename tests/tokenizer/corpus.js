#!/usr/bin/env node
// corpus.js — the deterministic test strings of the tokenizer golden test.
//
//   node corpus.js [OUT.tsv]      writes "<kind>\t<hex bytes>" lines (stdout without OUT)
//   require('./corpus.js')        { corpus(seed), countdownRows(rng, n), Rng, hex }
//
// Every string is a byte string (a Buffer), so invalid UTF-8 can be part of the corpus: the C
// side reads exactly these bytes; Hugging Face sees Buffer.toString('utf8') (U+FFFD for each
// maximal invalid subsequence). Same seed, same corpus, on every machine and Node version (no
// Math.random, no locale, no Date).
'use strict';

// ---------------------------------------------------------------------------------------------
// PRNG: splitmix64 on BigInt would be slow; xoshiro128** on 32-bit words is enough here.
class Rng {
  constructor(seed) {
    let s = (seed >>> 0) || 1;
    const next = () => { // splitmix32 to fill the state
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s = [next(), next(), next(), next()];
  }
  u32() {
    const s = this.s;
    const rotl = (x, k) => ((x << k) | (x >>> (32 - k))) >>> 0;
    const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 11);
    for (let k = 0; k < 4; k++) s[k] >>>= 0;
    return r;
  }
  // uniform integer in [lo, hi]
  int(lo, hi) { return lo + (this.u32() % (hi - lo + 1)); }
  pick(a) { return a[this.int(0, a.length - 1)]; }
  chance(p) { return this.u32() / 4294967296 < p; }
}

const hex = (buf) => Buffer.from(buf).toString('hex');
const utf8 = (s) => Buffer.from(s, 'utf8');

// ---------------------------------------------------------------------------------------------
// Countdown rows in SPEC's format, with a Stream-of-Search style exhaustive solver (pairs i<j,
// +, *, larger-minus-smaller, exact division; the result appended at the end of the list).
function solve(nums, target) {
  if (nums.length === 1) return nums[0] === target ? [] : null;
  for (let i = 0; i < nums.length; i++) {
    for (let j = i + 1; j < nums.length; j++) {
      const a = nums[i], b = nums[j];
      const rest = nums.filter((_, k) => k !== i && k !== j);
      const cands = [[a + b, `${a}+${b}`], [a * b, `${a}*${b}`],
        [Math.max(a, b) - Math.min(a, b), `${Math.max(a, b)}-${Math.min(a, b)}`]];
      const lo = Math.min(a, b), hi = Math.max(a, b);
      if (lo !== 0 && hi % lo === 0) cands.push([hi / lo, `${hi}/${lo}`]);
      for (const [r, text] of cands) {
        const sub = solve(rest.concat([r]), target);
        if (sub) return [{ text: `${text}=${r}`, a, b, r }].concat(sub);
      }
    }
  }
  return null;
}

const prompt = (nums, target) =>
  `###Question: numbers [${nums.join(', ')}]->target ${target}\n###Response:\n`;

// n rows: { kind: 'op'|'back', prompt, path }.
function countdownRows(rng, n) {
  const rows = [];
  while (rows.length < n) {
    const nums = [0, 0, 0, 0].map(() => rng.int(1, 99));
    const target = rng.int(10, 100);
    const steps = solve(nums, target);
    if (!steps) continue;
    const p = prompt(nums, target);
    rows.push({ kind: 'op', prompt: p, path: steps.map((s) => s.text).join('\n') + '\nGoal Reached!' });
    // D_back: a correct prefix, one wrong step, then <backtrack> on its own line.
    const k = rng.int(0, steps.length - 1);
    const s = steps[k];
    let wrong;
    if (rng.chance(0.5)) { // computational error
      let r = s.r + (rng.chance(0.5) ? 1 : -1) * rng.int(1, 10);
      if (r < 0 || r === s.r) r = s.r + rng.int(1, 10);
      wrong = s.text.replace(/=\d+$/, `=${r}`);
    } else { // rule violation: an operand that is not available
      const x = rng.int(1, 99);
      wrong = `${x}+${s.b}=${x + s.b}`;
    }
    const prefix = steps.slice(0, k).map((t) => t.text + '\n').join('');
    rows.push({ kind: 'back', prompt: p, path: `${prefix}${wrong}\n<backtrack>` });
  }
  return rows.slice(0, n);
}

// ---------------------------------------------------------------------------------------------
const WORDS = ('the of and to in is was it for on are as with his they at be this from have or ' +
  'by one had not but what all were when we there can an your which their said if do will each ' +
  'about how up out them then she many some so these would other into has more her two like him ' +
  'see time could no make than first been its who now people my made over did down only way find ' +
  'use may water long little very after words called just where most know get through back much ' +
  'before go good new write our used me man too any day same right look think also around another ' +
  'came come work three word must because does part even place well such here take why things ' +
  'help put years different away again off went old number great tell men say small every found ' +
  'still between name should home big give air line set own under read last never us left end ' +
  'along while might next sound below saw something thought both few those always looked show ' +
  'large often together asked house world going want school important until form food keep ' +
  'children feet land side without boy once animals life enough took sometimes four head above ' +
  'kind began almost live page got earth need far hand high year mother light parts country ' +
  'father let night following picture being study second eyes soon times story boys since white ' +
  'days ever paper hard near sentence better best across during today others however sure means ' +
  'knew tokenizer backtracking countdown search model training Llama transformer gradient').split(' ');
const CONTRACTIONS = ["don't", "can't", "won't", "it's", "I'm", "I'M", "they're", "they'RE",
  "THEY'RE", "we've", "WE'VE", "you'll", "YOU'LL", "she'd", "SHE'D", "isn't", "ISN'T", "o'clock",
  "rock'n'roll", "'s", "'S", "'t", "'re", "'ve", "'m", "'ll", "'d", "''", "'", "l'amour",
  "James's", "JAMES'S", "dogs'", "'tis", "y'all", "it’s", "don’t", "Don'T", "DON'T", "we'Ve",
  "I'd've", "'''s", "x'LL", "1's", "'99"];
const PUNCT = ['.', ',', '!', '?', ';', ':', '...', '?!', ' -', ' --', '"', ')', ']', '.\n', '!\n'];

function sentence(rng) {
  const n = rng.int(3, 16);
  const parts = [];
  for (let k = 0; k < n; k++) {
    let w = rng.chance(0.18) ? rng.pick(CONTRACTIONS) : rng.pick(WORDS);
    const c = rng.int(0, 9);
    if (c === 0) w = w.toUpperCase();
    else if (c <= 2) w = w.charAt(0).toUpperCase() + w.slice(1);
    if (rng.chance(0.06)) w = String(rng.int(0, 100000));
    if (rng.chance(0.05)) w = `(${w})`;
    if (rng.chance(0.04)) w = `"${w}"`;
    parts.push(w);
    if (k < n - 1 && rng.chance(0.1)) parts[parts.length - 1] += rng.pick([',', ';', ':', ' -']);
  }
  let s = parts.join(' ');
  s = s.charAt(0).toUpperCase() + s.slice(1) + rng.pick(PUNCT);
  return s;
}

// ---------------------------------------------------------------------------------------------
const CJK = ['你好，世界', '中文分词测试：我们今天去公园。', '日本語のテキストです。カタカナ、ひらがな', '東京都渋谷区',
  '한국어 문장입니다. 안녕하세요!', '漢字かな交じり文', '数字１２３と全角ＡＢＣ', '「引用」『二重』【括弧】',
  '㈱㍻㌔', '𠀀𠀁𪜀 (astral CJK)', '繁體中文與简体中文', '今日は2024年12月31日です', '　全角スペース　',
  '中文，标点！问号？', 'ｈｅｌｌｏ　ｗｏｒｌｄ', '한글ㄱㄴㄷ', 'Ｒｅｖｉｅｗ：５つ星'];
const EMOJI = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷🇩🇪🇯🇵', '🇺🇸', '❤️', '👩🏿‍💻', '🧑‍🤝‍🧑', '🤷‍♀️',
  '✋🏻✋🏼✋🏽✋🏾✋🏿', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', '1️⃣#️⃣*️⃣', '😂😂😂', '🙈 🙉 🙊', '☺︎ vs ☺️', '🦄+🌈=✨', '👁‍🗨',
  '🐕‍🦺', '🫠🫥🫨'];
const COMBINING = ['e\u0301', 'cafe\u0301', 'n\u0303o', 'Z\u0351\u0352\u0353\u0354algo',
  'a\u0308\u0304', '\u0301start', 'ק\u05B8\u05BC', 'नमस्ते', 'हिन्दी भाषा', 'ক্ষ', 'தமிழ்',
  'ไทย ภาษาไทย', 'ຜ່ານ', 'x\u20DD', 'o\u0336v\u0336e\u0336r', 'Å vs A\u030A', 'ﬁ ﬂ ﬀ', 'İstanbul ǅ ǈ'];
const RTL = ['مرحبا بالعالم', 'العربية: ١٢٣٤٥٦٧٨٩٠', 'שלום עולם', 'עברית 123 mixed', 'فارسی ۱۲۳',
  'اردو زبان', '\u202Eright-to-left override\u202C', 'abc \u200Fعربي\u200E def', 'كتاب، قلم؛ ورقة؟',
  'ال\u0651\u064Eه', 'תל־אביב'];
const NUMBERS_UNICODE = ['Ⅻ Ⅳ ⅷ', 'x² + y³ = z⁴', '½ ¼ ¾ ⅓', '①②③', '١٢٣', '१२३४', '１２３４５',
  '𝟏𝟐𝟑', '٣.١٤', '₀₁₂', '〇一二三'];
const SPACES = [' ', '  ', '\t', '\n', '\r\n', '\r', '\n\n', '\n\n\n', ' \n', '\t\t', '\u000B',
  '\u000C', '\u00A0', '\u0085', '\u1680', '\u2000', '\u2003', '\u2009', '\u200A', '\u2028',
  '\u2029', '\u202F', '\u205F', '\u3000', '\u200B', '\uFEFF', ' \t ', '\r\r\n'];
const SPECIALS = ['<|begin_of_text|>', '<|end_of_text|>', '<|eot_id|>', '<|start_header_id|>',
  '<|end_header_id|>', '<|reserved_special_token_0|>', '<|reserved_special_token_250|>',
  '<|finetune_right_pad_id|>', '<|python_tag|>', '<|eom_id|>'];
const NOT_SPECIALS = ['<|begin_of_text', 'begin_of_text|>', '<|BEGIN_OF_TEXT|>', '<| begin_of_text |>',
  '<backtrack>', '<back track>', '<|unknown_token|>', '<<|eot_id|>>', '||'];

function randomValidString(rng, n) {
  const ranges = [[0x20, 0x7e], [0x00, 0x1f], [0xa0, 0x24f], [0x370, 0x3ff], [0x400, 0x4ff],
    [0x590, 0x6ff], [0x900, 0x97f], [0x2000, 0x206f], [0x3040, 0x30ff], [0x4e00, 0x9fff],
    [0xac00, 0xd7a3], [0xe000, 0xf8ff], [0xfe00, 0xfe0f], [0xfff0, 0xfffd], [0x10000, 0x1ffff],
    [0x1f300, 0x1faff], [0x20000, 0x2a6df], [0xe0000, 0xe007f], [0xf0000, 0x10ffff]];
  let s = '';
  for (let k = 0; k < n; k++) {
    const [lo, hi] = rng.pick(ranges);
    s += String.fromCodePoint(rng.int(lo, hi));
  }
  return s;
}

function randomBytes(rng, n, mode) {
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) {
    if (mode === 'any') b[k] = rng.int(0, 255);
    else if (mode === 'high') b[k] = rng.int(0x80, 0xff);
    else b[k] = rng.chance(0.7) ? rng.int(0x20, 0x7e) : rng.int(0x80, 0xff);
  }
  return b;
}

// Byte sequences at the edges of UTF-8 validity (WHATWG "maximal subpart" cases).
const UTF8_EDGES = ['80', 'bf', 'c0', 'c1', 'c0af', 'c2', 'c27f', 'c280', 'dfbf', 'e0', 'e080',
  'e08080', 'e09f80', 'e0a080', 'e0a0', 'ed9fbf', 'eda080', 'edbfbf', 'eda0', 'ef', 'efbf',
  'efbfbd', 'efbfbf', 'f0', 'f08f8080', 'f0908080', 'f090', 'f09080', 'f4908080', 'f48fbfbf',
  'f5', 'f8888080', 'fc84808080', 'fe', 'ff', 'fffe', 'f09f98', 'f09f9880', '41c242', '41e0a042',
  '41f09f9842', 'e2', 'e282', 'e282ac', 'c3a9c3', 'eda0bdedb880', '00', '0041', '410042'];

// ---------------------------------------------------------------------------------------------
// The corpus: [{ kind, bytes }]. The count is above 2,000; every category is covered.
function corpus(seed = 20250212) {
  const rng = new Rng(seed);
  const out = [];
  const add = (kind, s) => out.push({ kind, bytes: Buffer.isBuffer(s) ? s : utf8(s) });

  // Countdown: D_op and D_back rows, prompts alone, with BOS/EOS as in the training text, and
  // the SPEC examples.
  add('countdown_spec', '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n10*6=60\n2+60=62\nGoal Reached!');
  add('countdown_spec', '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n39+6=45\n<backtrack>');
  add('countdown_spec', '###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n');
  add('countdown_spec', '<|begin_of_text|>###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n10*6=60\n2+60=62\nGoal Reached!<|end_of_text|>');
  for (const row of countdownRows(rng, 500)) {
    const text = row.prompt + row.path;
    if (rng.chance(0.15)) add(`countdown_${row.kind}_eos`, text + '<|end_of_text|>');
    else add(`countdown_${row.kind}`, text);
    if (rng.chance(0.1)) add('countdown_prompt', row.prompt);
    if (rng.chance(0.05)) add('countdown_path', row.path);
  }

  // English with contractions and capitalisation.
  for (let k = 0; k < 300; k++) {
    let s = sentence(rng);
    if (rng.chance(0.3)) s += ' ' + sentence(rng);
    add('english', s);
  }
  for (const c of CONTRACTIONS) {
    add('contraction', c);
    add('contraction', `He said ${c} and ${c.toUpperCase()}`);
  }

  // Digit runs of every length 1..20, bare, after a letter, a space and inside text.
  for (let len = 1; len <= 20; len++) {
    for (let k = 0; k < 4; k++) {
      let d = '';
      for (let i = 0; i < len; i++) d += String(rng.int(0, 9));
      add('digits', d);
      add('digits', [` ${d}`, `x${d}`, `${d}x`, `${d}.${d}`, `$${d},`, `-${d}`, `a ${d} b`][rng.int(0, 6)]);
    }
  }
  add('digits', '0'.repeat(1000));
  add('digits', '1234567890'.repeat(30));
  for (const n of NUMBERS_UNICODE) add('digits_unicode', n);

  // Whitespace runs: single kinds, mixed, leading/trailing, around words.
  for (const s of SPACES) {
    add('whitespace', s);
    add('whitespace', `a${s}b`);
    add('whitespace', `${s}${s}word${s}`);
  }
  for (let k = 0; k < 160; k++) {
    let s = '';
    const n = rng.int(1, 12);
    for (let i = 0; i < n; i++) s += rng.chance(0.5) ? rng.pick(SPACES.slice(0, 10)) : rng.pick(SPACES);
    const shape = rng.int(0, 5);
    if (shape === 0) add('whitespace', s);
    else if (shape === 1) add('whitespace', s + 'hello' + s);
    else if (shape === 2) add('whitespace', 'hello' + s + 'world');
    else if (shape === 3) add('whitespace', s + sentence(rng));
    else if (shape === 4) add('whitespace', sentence(rng) + s);
    else add('whitespace', '45-39=6' + s + '10*6=60' + s);
  }
  add('whitespace', ' '.repeat(1000));
  add('whitespace', '\n'.repeat(300));
  add('whitespace', ' \n'.repeat(200));
  add('whitespace', '\t'.repeat(50) + 'x');

  // Scripts: CJK, emoji, combining marks, RTL.
  for (const s of CJK) { add('cjk', s); add('cjk', `The word ${s} means something.`); }
  for (let k = 0; k < 40; k++) add('cjk', randomValidString(new Rng(seed + 1000 + k), rng.int(1, 30)).replace(/[^\u3000-\u9fff\uac00-\ud7a3]/gu, '') + rng.pick(CJK));
  for (const s of EMOJI) { add('emoji', s); add('emoji', `I love it ${s}!`); add('emoji', `${s}${s}`); }
  for (const s of COMBINING) { add('combining', s); add('combining', ` ${s} ${s.toUpperCase()}`); }
  for (const s of RTL) { add('rtl', s); add('rtl', `English then ${s} then English.`); }

  // Special tokens inside text (and things that look like them).
  for (let k = 0; k < 80; k++) {
    const a = rng.pick(SPECIALS), b = rng.pick(SPECIALS), c = rng.pick(NOT_SPECIALS);
    const forms = [`${a}hello${b}`, `${a} hello ${b}`, `x${a}${b}y`, `${a}`, `${a}${a}`,
      `text ${c} more`, `${a}${c}`, `\n${a}\n`, `Question${a}###Response:\n1+2=3${b}`,
      `  ${a}  `, `<${a}>`, `${c}${a}${c}`];
    add('special', forms[k % forms.length]);
  }
  add('special', '<|begin_of_text|>hello<|end_of_text|>');
  add('special', '<|begin_of_text|>');
  add('special', '<|end_of_text|>');

  // Things with <backtrack> (the only tokenizer variant where it is special is the one with
  // addSpecialTokens(['<backtrack>']); in the base vocabulary it is ordinary text).
  for (const s of ['<backtrack>', '\n<backtrack>', 'a<backtrack>b', '<backtrack><backtrack>',
    ' <backtrack> ', '<Backtrack>', '<backtrack', 'backtrack>', '<<backtrack>>']) add('backtrack', s);

  // Random byte strings, invalid UTF-8 among them, and every single byte.
  for (let b = 0; b < 256; b++) add('byte', Buffer.from([b]));
  for (const h of UTF8_EDGES) { add('utf8_edge', Buffer.from(h, 'hex')); add('utf8_edge', Buffer.concat([utf8('x '), Buffer.from(h, 'hex'), utf8(' y')])); }
  for (let k = 0; k < 150; k++) add('random_bytes', randomBytes(rng, rng.int(1, 64), rng.pick(['any', 'high', 'mostly_ascii'])));
  for (let k = 0; k < 100; k++) add('random_unicode', randomValidString(rng, rng.int(1, 40)));
  // Valid text with one byte flipped / truncated in the middle of a character.
  for (let k = 0; k < 60; k++) {
    const s = utf8(rng.pick([rng.pick(CJK), rng.pick(EMOJI), rng.pick(RTL), rng.pick(COMBINING)]) + ' ' + sentence(rng));
    const b = Buffer.from(s);
    const at = rng.int(0, b.length - 1);
    if (k % 2) b[at] ^= 1 << rng.int(0, 7);
    add('corrupt_utf8', k % 3 === 2 ? b.subarray(0, at) : b);
  }

  // Fuzz: random concatenations of atoms at the edges of the Llama-3 split regex (apostrophes
  // and contractions, a non-letter before letters, digit runs, punctuation runs with trailing
  // newlines, whitespace runs before a word or a newline, marks after letters, Unicode spaces).
  const ATOMS = ["'", "'s", "'S", "'t", "'re", "'RE", "'ve", "'m", "'ll", "'d", "'x", '’s', 'a', 'Z',
    'word', 'Word', 'WORD', 'é', 'e\u0301', '\u0301', 'ß', 'Ω', 'ж', 'ا', 'ש', '中', 'の', '한',
    '1', '12', '123', '1234', '٣', '²', '½', 'Ⅻ', ' ', '  ', '   ', '\t', '\n', '\r', '\r\n', '\n\n',
    '\u00a0', '\u2003', '\u3000', '\u000b', '\u000c', '\u0085', '\u2028', '.', ',', '!', '?',
    '...', '-', '--', '_', '$', '@', '#', '###', '"', '(', ')', '[', ']', '{', '}', '<', '>', '->',
    '=', '+', '*', '/', '\\', '|', '~', '`', '^', '%', '&', ';', ':', '«', '»', '¿', '¡', '—', '…',
    '😀', '👍🏽', '🇫🇷', '\u200d', '\ufe0f', '\u200b', '\ufeff', '\u0000', '\u007f', '<|eot_id|>',
    '<|begin_of_text|>', '<backtrack>'];
  for (let k = 0; k < 600; k++) {
    let t = '';
    const n = rng.int(1, 14);
    for (let i = 0; i < n; i++) t += rng.pick(ATOMS);
    add('fuzz_atoms', t);
  }
  // Random printable ASCII with tabs and newlines.
  for (let k = 0; k < 300; k++) {
    const n = rng.int(1, 50);
    let t = '';
    for (let i = 0; i < n; i++) {
      const c = rng.int(0, 99);
      t += c < 4 ? '\n' : c < 6 ? '\t' : c < 7 ? '\r' : c < 25 ? ' ' : String.fromCharCode(rng.int(0x21, 0x7e));
    }
    add('random_ascii', t);
  }

  // Code, URLs, punctuation runs, long words, edge cases.
  const MISC = ['', 'a', 'A', ' a', 'a ', 'I', ' I', "'", "'s", ' \'s', 'Hello, World!',
    'https://huggingface.co/meta-llama/Llama-3.2-1B?x=1&y=2#frag', 'user@example.com',
    'def f(x):\n    return x ** 2\n', 'int main(void) { return 0; }\n', '{"a": [1, 2.5e-3, null]}',
    '!!!???...', '-----', '=====', '#####', '###Question:', '$$$ 100 $$$', '@@@ ### %%%',
    '\\n\\t', '\\\\', '<html><body>x</body></html>', 'C:\\Users\\x\\file.txt', 'x'.repeat(300),
    'ab'.repeat(500), 'supercalifragilisticexpialidocious', 'Donaudampfschifffahrtsgesellschaft',
    'ÀÉÎÕÜ àéîõü', 'Ελληνικά κείμενα', 'Русский текст, ЗАГЛАВНЫЕ', 'Ǆemal', 'ß ẞ', 'ǅ', '\u0000',
    'nul\u0000inside', '\u007f\u0080\u009f', '\uFFFD', '\uFFFD\uFFFD', 'tab\there', 'CR\ronly',
    'a\r\n\r\nb', '  leading', 'trailing  ', '\n\nnewlines first', 'end with newlines\n\n'];
  for (const s of MISC) add('misc', s);
  // Paragraphs of several sentences and a long text.
  for (let k = 0; k < 40; k++) {
    let p = '';
    const n = rng.int(3, 10);
    for (let i = 0; i < n; i++) p += sentence(rng) + (rng.chance(0.2) ? '\n\n' : ' ');
    add('paragraph', p);
  }
  let long = '';
  while (long.length < 20000) long += sentence(rng) + (rng.chance(0.1) ? '\n' : ' ');
  add('long', long);
  return out;
}

module.exports = { corpus, countdownRows, Rng, hex, prompt, solve, sentence };

if (require.main === module) {
  const items = corpus();
  const text = items.map((it) => `${it.kind}\t${hex(it.bytes)}\n`).join('');
  if (process.argv[2]) require('fs').writeFileSync(process.argv[2], text);
  else process.stdout.write(text);
  process.stderr.write(`corpus.js: ${items.length} strings\n`);
}
