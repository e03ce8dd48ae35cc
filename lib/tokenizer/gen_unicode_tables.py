#!/usr/bin/env python3
"""gen_unicode_tables.py — writes lib/tokenizer/unicode_tables.c, the Unicode class tables used by
the Llama-3 pre-tokenizer (lib/tokenizer/unicode.c, pretok_llama3.c).

Classes, as Hugging Face `tokenizers` sees them through Oniguruma:
  letter  \\p{L}  general category Lu Ll Lt Lm Lo
  number  \\p{N}  general category Nd Nl No
  space   \\s     U+0009..U+000D, U+0085, Zs, Zl, Zp (Oniguruma's Unicode \\s, = White_Space)

Source: Python's `unicodedata` (its Unicode version goes into the file's header comment), plus
OVERRIDES below for code points where Hugging Face's Oniguruma was found to disagree.

Output: a partition of 0..0x10FFFF into runs of one class, as a sorted array of run starts
(start << 8 | class) searched by binary search, and a 256-entry table for U+0000..U+00FF.

Usage: python3 lib/tokenizer/gen_unicode_tables.py [-o lib/tokenizer/unicode_tables.c]
"""
import argparse
import os
import sys
import unicodedata

LETTER, NUMBER, SPACE = 1, 2, 4

# Oniguruma's \s with Unicode (doc/RE: "0009-000D, 0085, Line_Separator, Paragraph_Separator,
# Space_Separator"). It equals the White_Space property, checked against this list from
# PropList.txt below.
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
               (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
               (0x3000, 0x3000)]

# Code points whose class in Hugging Face tokenizers differs from Python 3.11's unicodedata
# (Unicode 14.0.0): `tokenizers` 0.23.2 matches with Oniguruma (onig crate), whose tables are Unicode
# 16.0 (every difference is a letter or number assigned in 15.0, 15.1 or 16.0), so the letters and numbers added in Unicode 15.0, 15.1 and 16.0 (all unassigned,
# Cn, in 14.0) are \p{L} / \p{N} there. Found by classifying every code point 0..0x10FFFF through
# HF's own pre-tokenizer (`node tests/tools/make_pretok_golden.js --scan FILE`, then
# `gen_unicode_tables.py --check-scan FILE`); no other code point differs, \s included.
# (first, last, class), by block; all were unassigned in 14.0.
OVERRIDES = [
    (0x01C89, 0x01C8A, LETTER),                                   # Cyrillic Extended-C
    (0x0A7CB, 0x0A7CD, LETTER), (0x0A7DA, 0x0A7DC, LETTER),       # Latin Extended-D
    (0x105C0, 0x105F3, LETTER),                                   # Todhri
    (0x10D40, 0x10D49, NUMBER), (0x10D4A, 0x10D65, LETTER),
    (0x10D6F, 0x10D85, LETTER),                                   # Garay
    (0x10EC2, 0x10EC4, LETTER),                                   # Arabic Extended-C
    (0x1123F, 0x11240, LETTER),                                   # Khojki
    (0x11380, 0x11389, LETTER), (0x1138B, 0x1138B, LETTER), (0x1138E, 0x1138E, LETTER),
    (0x11390, 0x113B5, LETTER), (0x113B7, 0x113B7, LETTER), (0x113D1, 0x113D1, LETTER),
    (0x113D3, 0x113D3, LETTER),                                   # Tulu-Tigalari
    (0x116D0, 0x116E3, NUMBER),                                   # Myanmar Extended-C
    (0x11BC0, 0x11BE0, LETTER), (0x11BF0, 0x11BF9, NUMBER),      # Sunuwar
    (0x11F02, 0x11F02, LETTER), (0x11F04, 0x11F10, LETTER), (0x11F12, 0x11F33, LETTER),  # Kawi
    (0x11F50, 0x11F59, NUMBER),                                   # Kawi digits
    (0x1342F, 0x1342F, LETTER), (0x13441, 0x13446, LETTER),       # Egyptian hieroglyphs
    (0x13460, 0x143FA, LETTER),                                   # Egyptian Hieroglyphs Ext-A
    (0x16100, 0x1611D, LETTER), (0x16130, 0x16139, NUMBER),      # Gurung Khema
    (0x16D40, 0x16D6C, LETTER), (0x16D70, 0x16D79, NUMBER),      # Kirat Rai
    (0x18CFF, 0x18CFF, LETTER),                                   # Khitan small script
    (0x1B132, 0x1B132, LETTER), (0x1B155, 0x1B155, LETTER),       # small kana
    (0x1CCF0, 0x1CCF9, NUMBER),                                   # outlined digits
    (0x1D2C0, 0x1D2D3, NUMBER),                                   # Kaktovik numerals
    (0x1DF25, 0x1DF2A, LETTER),                                   # Latin Extended-G
    (0x1E030, 0x1E06D, LETTER),                                   # Cyrillic Extended-D
    (0x1E4D0, 0x1E4EB, LETTER), (0x1E4F0, 0x1E4F9, NUMBER),      # Nag Mundari
    (0x1E5D0, 0x1E5ED, LETTER), (0x1E5F0, 0x1E5F0, LETTER),
    (0x1E5F1, 0x1E5FA, NUMBER),                                   # Ol Onal
    (0x2B739, 0x2B739, LETTER),                                   # CJK Extension C
    (0x2EBF0, 0x2EE5D, LETTER),                                   # CJK Extension I
    (0x31350, 0x323AF, LETTER),                                   # CJK Extension H
]


def base_class(cp):
    cat = unicodedata.category(chr(cp))
    if cat[0] == 'L':
        return LETTER
    if cat[0] == 'N':
        return NUMBER
    if 0x09 <= cp <= 0x0D or cp == 0x85 or cat in ('Zs', 'Zl', 'Zp'):
        return SPACE
    return 0


def classes():
    cls = bytearray(0x110000)
    for cp in range(0x110000):
        cls[cp] = base_class(cp)
    ws = set()
    for lo, hi in WHITE_SPACE:
        ws.update(range(lo, hi + 1))
    got = {cp for cp in range(0x110000) if cls[cp] == SPACE}
    if got != ws:
        sys.exit("\\s from categories differs from White_Space: %s" % sorted(got ^ ws))
    for lo, hi, c in OVERRIDES:
        for cp in range(lo, hi + 1):
            cls[cp] = c
    return cls


def runs(cls):
    out = []
    prev = None
    for cp in range(0x110000):
        if cls[cp] != prev:
            out.append((cp, cls[cp]))
            prev = cls[cp]
    return out


def check_scan(cls, path):
    with open(path, encoding='ascii') as f:
        scan = f.read()
    if len(scan) != 0x110000:
        sys.exit('%s: %d classes, expected 0x110000' % (path, len(scan)))
    names = {LETTER: 'L', NUMBER: 'N', SPACE: 'S', 0: 'O'}
    bad = 0
    for cp in range(0x110000):
        # The scan cannot tell \r and \n (\s) from other chars: "!\n" is one piece either way.
        if scan[cp] == '-' or cp in (0x0A, 0x0D):
            continue
        if names[cls[cp]] != scan[cp]:
            if bad < 50:
                print('U+%04X: table %s, Hugging Face %s' % (cp, names[cls[cp]], scan[cp]))
            bad += 1
    print('%d code points differ' % bad)
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('-o', '--output',
                    default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         'unicode_tables.c'))
    ap.add_argument('--check-scan', metavar='FILE',
                    help="compare with a class file from make_pretok_golden.js --scan (one char "
                         "L/N/S/O per code point, '-' for surrogates) and exit")
    args = ap.parse_args()
    cls = classes()
    if args.check_scan:
        return check_scan(cls, args.check_scan)
    rs = runs(cls)
    lines = []
    w = lines.append
    w('/* unicode_tables.c — GENERATED by lib/tokenizer/gen_unicode_tables.py, do not edit.')
    w(' * Unicode %s (Python %d.%d unicodedata), plus %d code points overridden to the classes'
      % (unicodedata.unidata_version, sys.version_info[0], sys.version_info[1],
         sum(hi - lo + 1 for lo, hi, _ in OVERRIDES)))
    w(' * Hugging Face tokenizers (Oniguruma, Unicode 16.0) gives them: see OVERRIDES there.')
    w(' * Classes: 1 letter (L*), 2 number (N*), 4 space (\\s = White_Space), 0 other. */')
    w('#include <stddef.h>')
    w('#include <stdint.h>')
    w('')
    w('extern const uint8_t sbti_unicode_latin1[256];')
    w('extern const uint32_t sbti_unicode_runs[];')
    w('extern const size_t sbti_unicode_nruns;')
    w('')
    w('/* Class of U+0000..U+00FF. */')
    w('const uint8_t sbti_unicode_latin1[256] = {')
    for r in range(0, 256, 32):
        w('  ' + ','.join(str(cls[cp]) for cp in range(r, r + 32)) + ',')
    w('};')
    w('')
    w('/* Runs partitioning 0..0x10FFFF: start << 8 | class, sorted; a run ends where the next')
    w(' * starts. %d runs (L %d, N %d, S %d). */' % (
        len(rs), sum(1 for _, c in rs if c == LETTER), sum(1 for _, c in rs if c == NUMBER),
        sum(1 for _, c in rs if c == SPACE)))
    w('const uint32_t sbti_unicode_runs[] = {')
    items = ['0x%x' % (s << 8 | c) for s, c in rs]
    for i in range(0, len(items), 10):
        w('  ' + ','.join(items[i:i + 10]) + ',')
    w('};')
    w('const size_t sbti_unicode_nruns = sizeof sbti_unicode_runs / sizeof sbti_unicode_runs[0];')
    text = '\n'.join(lines) + '\n'
    with open(args.output, 'w') as f:
        f.write(text)
    print('%s: %d runs, %d bytes' % (args.output, len(rs), len(text)))


if __name__ == '__main__':
    sys.exit(main())
