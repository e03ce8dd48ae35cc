#!/usr/bin/env python3
"""Check a checkpoint and logits written by libselfbt against Hugging Face transformers.

Usage:
    python3 tests/golden/check_roundtrip.py DIR [--dtype float32|bfloat16] [--tol REL]
                                             [--all-positions] [--logits FILE]

Needs python3 with torch, transformers and safetensors; runs on the CPU.

The contract for DIR (written by libselfbt's C code):

    DIR/model/              a Hugging Face checkpoint folder: config.json
                            (model_type "llama", architectures ["LlamaForCausalLM"]),
                            model.safetensors (or model.safetensors.index.json and
                            its shards), optionally generation_config.json. Tensor
                            names as in transformers (model.embed_tokens.weight,
                            model.layers.N.self_attn.q_proj.weight, ...,
                            model.norm.weight, lm_head.weight only when
                            tie_word_embeddings is false). Every tensor F32 (the
                            default) or every tensor BF16 (--dtype bfloat16).
    DIR/inputs.json         {"input_ids": [[int, ...], ...],          B rows of T ids
                             "attention_mask": [[1, ..., 0], ...]}    optional; 1 = token,
                                                                      0 = padding; all ones
                                                                      when absent
    DIR/logits.safetensors  one tensor "logits", F32, shape (B, T, vocab_size): our
                            forward pass over input_ids with that attention_mask and
                            position ids 0..T-1 in every row.

What it does: loads DIR/model with LlamaForCausalLM.from_pretrained (eager
attention, on the CPU, dtype float32; with --dtype bfloat16 it loads with
dtype bfloat16 and then calls .float(), so the reference uses the bf16 weights
and computes in fp32), with output_loading_info=True. Any missing, unexpected
or mismatched key, any loading error, or a loading warning about such keys
fails the check, and so does a checkpoint tensor whose stored dtype is not the
one asked for. It then runs the forward pass and prints the max abs error and
the relative error ||ours - hf|| / ||hf|| (Frobenius) of the logits.

By default the logits are compared where attention_mask is 1 (at padding
positions transformers' eager mask lets a padding query attend to the earlier
real tokens, which is a convention, not a result); --all-positions compares
the whole tensor. Both figures are printed either way.

Exit status: 0 when the relative error is at most the tolerance (1e-4 for
float32, 2e-2 for bfloat16, or --tol), 1 otherwise or on any loading problem,
2 on a malformed DIR.
"""

import argparse
import json
import logging
import math
import os
import re
import struct
import sys
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import LlamaForCausalLM  # noqa: E402

TF_MAJOR = int(transformers.__version__.split(".")[0])
KEY_WORDS = re.compile(r"missing|unexpected|not initiali[sz]ed|newly initiali[sz]ed|not used|mismatch", re.I)
ST_DTYPE = {"float32": "F32", "bfloat16": "BF16"}
DEFAULT_TOL = {"float32": 1e-4, "bfloat16": 2e-2}


def safetensors_dtypes(model_dir):
    """{tensor name: stored dtype string} read from the safetensors headers."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.isfile(index):
        with open(index) as fh:
            files = sorted(set(json.load(fh)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for f in files:
        with open(os.path.join(model_dir, f), "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        for k, v in header.items():
            if k != "__metadata__":
                out[k] = v["dtype"]
    return out


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


def load_reference(model_dir, dtype_name):
    dt = torch.bfloat16 if dtype_name == "bfloat16" else torch.float32
    kw = {"dtype": dt} if TF_MAJOR >= 5 else {"torch_dtype": dt}
    handler = _Collect()
    tf_logger = logging.getLogger("transformers")
    tf_logger.addHandler(handler)
    problems = []
    try:
        with warnings.catch_warnings(record=True) as wlist:
            warnings.simplefilter("always")
            model, info = LlamaForCausalLM.from_pretrained(
                model_dir, attn_implementation="eager", output_loading_info=True,
                local_files_only=True, **kw)
    finally:
        tf_logger.removeHandler(handler)
    if not isinstance(info, dict):
        import dataclasses
        info = dataclasses.asdict(info) if dataclasses.is_dataclass(info) else dict(vars(info))
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        val = info.get(key)
        if val:
            problems.append(f"{key}: {sorted(map(str, val))}")
    for key, val in info.items():
        if key not in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs") and val:
            print(f"note: loading info {key}: {val}")
    msgs = handler.records + [str(w.message) for w in wlist]
    for m in msgs:
        flag = bool(KEY_WORDS.search(m))
        print(f"{'loading warning (fails the check)' if flag else 'note: loading message'}: {m.strip()[:2000]}")
        if flag:
            problems.append(f"warning: {m.strip()[:300]}")
    got = {p.dtype for p in model.parameters()}
    if got != {dt}:
        problems.append(f"parameters loaded as {got}, wanted {dt}")
    model = model.float().eval()
    return model, problems


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--dtype", choices=sorted(ST_DTYPE), default="float32",
                    help="dtype every checkpoint tensor must be stored in (default float32)")
    ap.add_argument("--tol", type=float, default=None, help="relative error limit (default 1e-4, bf16 2e-2)")
    ap.add_argument("--all-positions", action="store_true", help="compare padding positions too")
    ap.add_argument("--logits", default=None, help="logits file (default DIR/logits.safetensors)")
    args = ap.parse_args(argv)
    tol = args.tol if args.tol is not None else DEFAULT_TOL[args.dtype]

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.set_num_threads(min(4, torch.get_num_threads()))

    model_dir = os.path.join(args.dir, "model")
    logits_path = args.logits or os.path.join(args.dir, "logits.safetensors")
    for p in (os.path.join(model_dir, "config.json"), os.path.join(args.dir, "inputs.json"), logits_path):
        if not os.path.isfile(p):
            print(f"FAIL: {p} is missing")
            return 2
    with open(os.path.join(args.dir, "inputs.json")) as fh:
        inp = json.load(fh)
    ids = torch.tensor(inp["input_ids"], dtype=torch.int64)
    if ids.dim() != 2:
        print(f"FAIL: input_ids must be a list of rows, got shape {tuple(ids.shape)}")
        return 2
    mask = torch.tensor(inp["attention_mask"], dtype=torch.int64) if inp.get("attention_mask") is not None \
        else torch.ones_like(ids)
    if mask.shape != ids.shape:
        print(f"FAIL: attention_mask shape {tuple(mask.shape)} != input_ids shape {tuple(ids.shape)}")
        return 2
    ours_all = load_file(logits_path)
    if "logits" not in ours_all:
        print(f"FAIL: {logits_path} has no tensor 'logits' (has {sorted(ours_all)})")
        return 2
    ours = ours_all["logits"]
    if ours.dtype != torch.float32:
        print(f"FAIL: logits are {ours.dtype}, must be F32")
        return 1

    failed = False
    stored = safetensors_dtypes(model_dir)
    bad = {k: v for k, v in stored.items() if v != ST_DTYPE[args.dtype]}
    print(f"checkpoint: {len(stored)} tensors, stored dtypes {sorted(set(stored.values()))}")
    if bad:
        print(f"FAIL: tensors not stored as {ST_DTYPE[args.dtype]}: {sorted(bad.items())[:10]}")
        failed = True

    model, problems = load_reference(model_dir, args.dtype)
    for p in problems:
        print(f"FAIL: loading: {p}")
    failed |= bool(problems)

    with torch.no_grad():
        hf = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.float()
    if ours.shape != hf.shape:
        print(f"FAIL: logits shape {tuple(ours.shape)} != transformers' {tuple(hf.shape)}")
        return 1
    if not torch.isfinite(ours).all():
        print("FAIL: our logits hold NaN or Inf")
        return 1

    def errs(sel):
        o, h = ours[sel].double(), hf[sel].double()
        d = o - h
        return d.abs().max().item(), (d.norm() / h.norm()).item()

    valid = mask.bool()
    everywhere = torch.ones_like(valid)
    mx_v, rel_v = errs(valid)
    mx_a, rel_a = errs(everywhere)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}; dtype {args.dtype}; "
          f"logits {tuple(hf.shape)}, {int(valid.sum())} attended positions of {valid.numel()}")
    print(f"attended positions: max abs error {mx_v:.6e}  relative error {rel_v:.6e}")
    print(f"all positions:      max abs error {mx_a:.6e}  relative error {rel_a:.6e}")
    rel = rel_a if args.all_positions else rel_v
    if not (rel <= tol) or math.isnan(rel):
        print(f"FAIL: relative error {rel:.6e} > {tol:g}")
        failed = True
    print("FAIL" if failed else f"OK: relative error {rel:.6e} <= {tol:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
