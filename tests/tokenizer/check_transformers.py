#!/usr/bin/env python3
"""check_transformers.py DIR — transformers' AutoTokenizer loads the tokenizer folders that
libselfbt saved (DIR/llama3bt: Llama-3 + <backtrack>; DIR/countdown: the compact tokenizer)
and encodes/decodes DIR/strings.json exactly as selfbt-tokenize did (DIR/ours_<name>.txt, one
line of ids per string, made with --null --special). Runs where transformers is installed (the
GPU machine); see docs/tokenizer.md for the commands that make DIR."""
import json
import sys

import transformers
from transformers import AutoTokenizer
D = sys.argv[1] if len(sys.argv) > 1 else ".devcheck"
lines = json.load(open(f"{D}/strings.json"))

print("transformers", transformers.__version__)
for name in ["llama3bt", "countdown"]:
    tok = AutoTokenizer.from_pretrained(f"{D}/{name}")
    ours = [list(map(int, l.split())) for l in open(f"{D}/ours_{name}.txt")]
    bad_enc = bad_dec = 0
    for s, o in zip(lines, ours):
        ids = tok(s, add_special_tokens=True)["input_ids"]
        if ids != o:
            bad_enc += 1
            if bad_enc <= 3: print(name, "ENC MISMATCH", repr(s[:60]), ids[:12], o[:12])
        d = tok.decode(o, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        want = (tok.bos_token or "") + s
        if d != want:
            bad_dec += 1
            if bad_dec <= 3: print(name, "DEC MISMATCH", repr(d[:60]), repr(want[:60]))
    bt = tok.convert_tokens_to_ids("<backtrack>")
    print(f"{name}: {type(tok).__name__}, {len(lines)} strings, encode mismatches {bad_enc}, decode mismatches {bad_dec}, "
          f"len(tok)={len(tok)}, <backtrack>={bt}, bos={tok.bos_token_id}, eos={tok.eos_token_id}, pad={tok.pad_token_id}")
