#!/usr/bin/env python3
"""make_seeds.py — writes the seed corpora tests/fuzz/corpus/<target>/ (small valid and
near-valid inputs) from the fixtures in tests/golden and the cases below. Run from anywhere:
    python3 tests/fuzz/make_seeds.py
It replaces the files it writes (named by content kind and index) and leaves others alone, so
inputs added by hand (e.g. fixed crashes, named crash-*) stay."""
import json
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "..", "golden")
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def golden(*parts):
    with open(os.path.join(GOLDEN, *parts), "rb") as f:
        return f.read()


# ---- verify: prompt + response --------------------------------------------------------------

def output(nums, target, response):
    return "###Question: numbers [%s]->target %s\n###Response:\n%s" % (nums, target, response)


def verify_seeds():
    seeds = []
    # solved problems from the solver's golden file, as the model would write them
    n = 0
    for line in golden("countdown_sos.txt").decode().splitlines():
        if not line.startswith("P ") or n >= 12:
            continue
        head, sol = line.split(" | ")[:2]
        p = head.split()
        target, count, nums = p[1], int(p[2]), p[3:]
        if sol == "-":
            continue
        steps = sol.split(";")
        seeds.append(output(", ".join(nums), target, "\n".join(steps) + "\nGoal Reached!"))
        if n % 3 == 0:  # a backtracking variant: a wrong first step, then the marker
            seeds.append(output(", ".join(nums), target, steps[0] + "\n<backtrack>"))
        n += 1
    seeds += [
        output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\n2+60=62\nGoal Reached!"),
        output("2, 39, 45, 10", "62", "45-39=6\n39+6=45\n<backtrack>"),
        output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\n2+60=62\nGoal Reached!\n<backtrack>x"),
        output("7, 2", "3", "7/2=3\nGoal Reached!"),                 # floor division
        output("7, 7", "14", "7+7=14\nGoal Reached!"),
        output("5, 5, 2", "12", "5+5=10\n10+2=12\n5+2=7\nGoal Reached!"),  # extra step
        output("5, 3", "2", "3-5=-2\nGoal Reached!"),                # negative
        output("5, 0", "5", "5/0=5\nGoal Reached!"),                 # division by zero
        output("45, 39", "6", "45-39=7\nGoal Reached!"),             # wrong result
        output("45, 39", "6", "45-38=7\nGoal Reached!"),             # unknown number
        output("45, 39", "6", "45 - 39 = 6\nGoal Reached!"),         # spaces
        output("45, 39", "6", "45-39=6 and more\r\nGoal Reached!"),
        output("45, 39", "6", " \u3000\n\t<backtrack>"),
        output("+2, 39, -7", "34", "2+39=41\n41-7=34\nGoal Reached!"),
        output("2, 39, 00", "41", "2+39=41\nGoal Reached!"),
        output("99999999999999999999, 1", "100000000000000000000",
               "99999999999999999999+1=100000000000000000000\nGoal Reached!"),
        output("170141183460469231731687303715884105727, 2", "1",
               "170141183460469231731687303715884105727*2=340282366920938463463374607431768211454"
               "\nGoal Reached!"),
        output("45, 39", "6", "\xc2" "45-39=6\nGoal Reached!").encode("latin-1"),  # raw bytes
        output("45, 39", "6", "45-39=6\xa0\nGoal Reached!").encode("latin-1"),
        output("45, 39", "6", "45-39=6\x00\nGoal Reached!"),
        "###Response:\n2+39=41\nGoal Reached! numbers [2, 39] target 41",
        "numbers [9 numbers [2, 39] target 5 target 41\n###Response:\n2+39=41\nGoal Reached!",
        "###Question: numbers [2, 39]->target 41\n###Response: 2+39=41\nGoal Reached!",
        "###Question: numbers [2,\n 39]->target 41\n###Response:\n2+39=41\nGoal Reached!",
        output("2, 39", "41", "Goal Reached!"),
        output("1, 2, 3, 4, 5, 6", "720", "1*2=2\n2*3=6\n6*4=24\n24*5=120\n120*6=720\nGoal Reached!"),
        "",
    ]
    for i, s in enumerate(seeds):
        write("verify", "seed-%02d" % i, s)


# ---- text: the sanitizer and the pre-tokenizer -----------------------------------------------

def unescape_golden(s):
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), s)


def text_seeds():
    seeds = []
    lines = golden("pretok_llama3.txt").split(b"\n")
    picked = [l for l in lines if l and not l.startswith(b"#")]
    for l in picked[:: max(1, len(picked) // 48)][:48]:
        seeds.append(unescape_golden(l.split(b"\t")[0]))
    seeds += [
        b"\xff\xfe\xfd", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
        b"\xf0\x9f\x98", b"a\xe2\x82b\xe2\x82\xac", b"\xf0\x9f\x98\x80 \xf0\x9f\x98\x80!",
        "Ünïcödé ṫëẍṫ 日本語 ١٢٣ ½ x\u3000y\u200bz".encode(), b"I'M here\r\n\r\n  x'll 1234567",
    ]
    for i, s in enumerate(seeds):
        write("text", "seed-%02d" % i, s)


# ---- encode / decode with the tiny tokenizer ---------------------------------------------------

def encode_seeds():
    seeds = [
        "hello world", "Hello world! the 123 12345 abc xyz", "<s>hello</s> <mask> [R] x <both> y",
        "é! cat sw swim a sw b", "  hello\n\n\nworld  ", "it's we'VE I'll 'd",
        "\xff\xfe hello \xe2\x82", "日本語 ١٢٣ \U0001F600 x\u3000y", "a" * 40, "\t\r\n \x0b\x0c",
        "<s><s></s></s>", "<mas<mask>k> [R][R]", "",
    ]
    for i, s in enumerate(seeds):
        write("encode", "seed-%02d" % i, s)


def decode_seeds():
    def ids(mode, xs):
        if mode & 2:
            return bytes([mode]) + b"".join(struct.pack("<i", x) for x in xs)
        return bytes([mode]) + b"".join(struct.pack("<H", (x + 8) % 300) for x in xs)
    seeds = [
        ids(0, [259, 262, 264]), ids(1, [277, 259, 278]), ids(0, [277, 279, 280, 283, 284]),
        ids(0, [195, 169]), ids(0, [195]), ids(0, [0, 1, 2, 255, 256, 276]),
        ids(1, list(range(270, 285))), ids(2, [259, -1]), ids(2, [285]), ids(3, [2 ** 31 - 1, 277]),
        ids(0, []), ids(0, [-8, 291]),
    ]
    for i, s in enumerate(seeds):
        write("decode", "seed-%02d" % i, s)


# ---- tokenizer.json and tokenizer_config.json --------------------------------------------------

def mini_tokenizer(**over):
    # a byte-level vocabulary of the printable ASCII bytes only, and two merges
    vocab = {chr(c): i for i, c in enumerate(range(ord("!"), ord("~") + 1))}
    vocab["Ġ"] = len(vocab)
    vocab["he"] = len(vocab)
    vocab["Ġhe"] = len(vocab)
    t = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": len(vocab), "content": "<|eot|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": ["h e", "Ġ he"]},
    }
    t.update(over)
    return json.dumps(t, ensure_ascii=False).encode()


def tokenizer_json_seeds():
    tiny = golden("tiny_tokenizer.json")
    seeds = [tiny, tiny[: len(tiny) // 2], tiny[: len(tiny) - 3], tiny.replace(b'"BPE"', b'"WordPiece"'),
             tiny.replace(b'"ignore_merges": true', b'"ignore_merges": false'),
             tiny.replace(b'"decoder": {', b'"decoder": null, "x": {'),
             tiny.replace(b'"id": 279', b'"id": 100000'),
             tiny.replace(b'"Regex"', b'"String"'),
             mini_tokenizer(), mini_tokenizer(decoder=None, post_processor=None),
             mini_tokenizer(pre_tokenizer={"type": "Sequence", "pretokenizers": []}),
             mini_tokenizer(added_tokens=[]),
             mini_tokenizer(normalizer={"type": "NFC"}),
             b"{}", b'{"model": {"type": "BPE", "vocab": {}, "merges": []}}',
             b'{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}}',
             b'{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1000000}, "merges": []}}']
    for i, s in enumerate(seeds):
        write("tokenizer_json", "seed-%02d" % i, s)


def tokenizer_config_seeds():
    cfg = golden("tiny_tokenizer_config.json")
    seeds = [
        cfg, cfg[:40], b"{}", b"[]", b"null",
        b'{"bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>"}',
        b'{"bos_token": {"content": "<mask>"}, "eos_token": "nope", "pad_token": 5}',
        b'{"bos_token": null, "model_max_length": 1e400, "n": 123456789012345678901234567890}',
        b'{"eos_token": {"content": 7}}',
        b'{"added_tokens_decoder": {"277": {"content": "<s>", "special": true}}, "bos_token": "<s>"}',
        b'{"bos_token": "\\u00e9!", "eos_token": "hello", "pad_token": "<both>"}',
    ]
    for i, s in enumerate(seeds):
        write("tokenizer_config", "seed-%02d" % i, s)


# ---- safetensors ------------------------------------------------------------------------------

def st_file(entries, meta=None, pad=True, extra=b""):
    """entries: (name, dtype, shape, bytes) in data order."""
    header, data = {}, b""
    if meta is not None:
        header["__metadata__"] = meta
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data + extra


def safetensors_seeds():
    f32 = struct.pack("<4f", 1.0, -2.5, float("inf"), 3e-39)
    f16 = struct.pack("<4H", 0x3C00, 0x8001, 0x7C00, 0x7E01)
    bf16 = struct.pack("<4H", 0x3F80, 0xFF80, 0x0001, 0x7FC1)
    seeds = [
        golden("safetensors", "small.safetensors"),
        golden("safetensors", "sharded", "model-00001-of-00002.safetensors"),
        golden("safetensors", "sharded", "model-00002-of-00002.safetensors"),
        st_file([("w", "F32", [2, 2], f32), ("h", "F16", [4], f16), ("b", "BF16", [2, 1, 2], bf16)],
                meta={"format": "pt"}),
        st_file([("s", "F32", [], f32[:4])]),
        st_file([("z", "F16", [0, 1099511627776], b""), ("x", "BF16", [1], bf16[:2])]),
        st_file([]), st_file([], meta={"a": "b", "c": "d"}, pad=False),
        st_file([("u8", "U8", [4], b"abcd")]),
        st_file([("w", "F32", [1], f32[:4])], extra=b"\x00\x00"),  # trailing bytes
        st_file([("w", "F32", [2], f32[:8])])[:-3],                # truncated
        st_file([("w", "F32", [1, 1, 1, 1, 1, 1, 1, 1, 1], f32[:4])]),  # rank 9
        b"\x02\x00\x00\x00\x00\x00\x00\x00{}",
        b"\xff\xff\xff\xff\xff\xff\xff\x7f{}",
        b"\x00\x00\x00\x00\x00\x00\x00\x00",
    ]
    for i, s in enumerate(seeds):
        write("safetensors", "seed-%02d" % i, s)


def st_index_seeds():
    idx = golden("safetensors", "sharded", "model.safetensors.index.json")
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    seeds = [
        idx,
        json.dumps({"metadata": None, "weight_map": {"a.f32": "model.safetensors", "lm_head.weight": s2}}),
        json.dumps({"weight_map": {"model.norm.weight": s1}}),
        json.dumps({"weight_map": {"model.norm.weight": s2}}),          # not in that shard
        json.dumps({"weight_map": {"x": "missing.safetensors"}}),
        json.dumps({"weight_map": {"x": "../model.safetensors"}}),
        json.dumps({"weight_map": {"x": "model.safetensors.index.json"}}),
        json.dumps({"weight_map": {}}), json.dumps({"weight_map": []}), json.dumps({"metadata": 3}),
        json.dumps({"weight_map": {"x": 5}}), "[]",
    ]
    for i, s in enumerate(seeds):
        write("st_index", "seed-%02d" % i, s)


# ---- config.json ------------------------------------------------------------------------------

def config_seeds():
    seeds = [golden("config", f) for f in sorted(os.listdir(os.path.join(GOLDEN, "config")))]
    base = json.loads(golden("config", "llama-3.2-1b.json"))
    def variant(**kw):
        c = dict(base)
        for k, v in kw.items():
            if v is Ellipsis:
                c.pop(k, None)
            else:
                c[k] = v
        return json.dumps(c, indent=2)
    seeds += [
        variant(rope_scaling=None, eos_token_id=[1, 2, 3], pad_token_id=None, bos_token_id=None),
        variant(rope_scaling={"type": "default"}, head_dim=Ellipsis, num_key_value_heads=Ellipsis),
        variant(rope_scaling={"rope_type": "yarn", "factor": 4.0}),
        variant(rms_norm_eps=1e-300, rope_theta=1e12, initializer_range=0.1 + 0.2),
        variant(rope_scaling={"rope_type": "llama3", "factor": 1.0, "low_freq_factor": 1e-3,
                              "high_freq_factor": 1e6, "original_max_position_embeddings": 16777216}),
        variant(torch_dtype="float16", tie_word_embeddings=False, eos_token_id=None),
        variant(hidden_act="gelu", attention_bias=True),
        variant(vocab_size=0), variant(num_attention_heads=3), variant(head_dim=7),
        variant(eos_token_id=list(range(17))), variant(hidden_size=1.5e3),
        variant(architectures=["LlamaForCausalLM", 3]),
        '{"model_type": "llama", "vocab_size": 10, "hidden_size": 8, "intermediate_size": 16, '
        '"num_hidden_layers": 1, "num_attention_heads": 2}',
        "[]", "{",
    ]
    for i, s in enumerate(seeds):
        write("config", "seed-%02d" % i, s)


verify_seeds()
text_seeds()
encode_seeds()
decode_seeds()
tokenizer_json_seeds()
tokenizer_config_seeds()
safetensors_seeds()
st_index_seeds()
config_seeds()
