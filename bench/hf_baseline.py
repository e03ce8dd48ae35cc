#!/usr/bin/env python3
"""hf_baseline.py — the seed's self-backtracking decoder re-run with transformers: the anchor
that `selfbt-eval` is measured against (issue #7 item 6, docs/benchmarks.md).

It follows SPEC §4.2-§4.4 (the seed's `SelfBackTrackingDecoder.decode`): one problem at a time,
b+1 rounds; each state is expanded with `generate(num_beams=N, do_sample=True,
num_return_sequences=N, temperature=T, top_p=0.9, max_length=50)`; each beam is scored by the
T=1 mean log-prob of everything after the original prompt (EOS padding included); beams with
"Goal Reached!" are candidates; the first K = floor(sqrt(b)) beams with <backtrack> are rolled
back one line (by decoding, cutting the last line, re-tokenizing) and expanded next round
unless already visited; candidates are grouped by answer text with summed scores; with no
candidate, the best beam of the last call is returned.

    python3 bench/hf_baseline.py --ckpt DIR --data val.jsonl --num 20 --b 1 --n 32 \
        [--dtype bfloat16] [--out results.json]

DIR is an HF checkpoint folder with its tokenizer (ours or transformers'). Prints problems/s,
generate calls and tokens, and the accuracy by a plain verifier (the reference verifier is in
C: compare the written outputs with `selfbt-eval` if needed).
"""
import argparse
import json
import math
import sys
import time

import torch
from transformers import AutoTokenizer, LlamaForCausalLM

GOAL = "Goal Reached!"
BACKTRACK = "<backtrack>"


def prompt_of(nums, target):
    return f"###Question: numbers {nums}->target {target}\n###Response:\n"


class SeedDecoder:
    def __init__(self, model, tok, n, b, temperature, max_length, width=None):
        self.model, self.tok = model, tok
        self.n, self.b, self.temperature, self.max_length = n, b, temperature, max_length
        self.k = width if width is not None else int(math.floor(math.sqrt(b)))
        self.eos = tok.eos_token_id
        self.calls = self.generated = 0

    def encode(self, text):
        return self.tok(text, return_tensors="pt").input_ids.to(self.model.device)

    def expand(self, ids):
        out = self.model.generate(
            ids, attention_mask=torch.ones_like(ids), num_beams=self.n, do_sample=True,
            num_return_sequences=self.n, temperature=self.temperature, top_p=0.9,
            max_length=self.max_length, pad_token_id=self.eos, eos_token_id=self.eos)
        self.calls += 1
        self.generated += int((out[:, ids.shape[1]:] != self.eos).sum())
        return out

    @torch.no_grad()
    def score(self, seqs, prompt_len):
        logits = self.model(seqs).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        tok_lp = logp.gather(-1, seqs[:, 1:].unsqueeze(-1)).squeeze(-1)  # (N, L-1)
        return tok_lp[:, prompt_len - 1:].mean(dim=-1).tolist()  # positions t >= len(P0)

    def rollback(self, seq, p0):
        t = self.tok.decode(seq, skip_special_tokens=True)
        last = t.rfind("\n")
        prev = t.rfind("\n", 0, last)
        s2 = self.encode(t[:prev + 1])
        return p0 if s2.shape[1] <= p0.shape[1] else s2

    def decode(self, prompt):
        p0 = self.encode(prompt)
        plain = lambda ids: self.tok.decode(ids[0] if ids.dim() == 2 else ids,
                                            skip_special_tokens=True)
        visited = {plain(p0)}
        frontier, cands, last = [p0], [], None
        for _ in range(self.b + 1):
            new_frontier = []
            for state in frontier:
                ys = self.expand(state)
                last = ys
                scores = self.score(ys, p0.shape[1])
                for i in range(ys.shape[0]):
                    text = self.tok.decode(ys[i], skip_special_tokens=False)
                    if GOAL in text:
                        cands.append((text, scores[i]))
                    if len(new_frontier) < self.k and BACKTRACK in text:
                        s2 = self.rollback(ys[i], p0)
                        key = plain(s2)
                        if key not in visited:
                            new_frontier.append(s2)
                            visited.add(key)
            frontier = new_frontier
        if not cands:
            return self.tok.decode(last[0], skip_special_tokens=False)
        groups = {}
        for text, sc in cands:
            key = text.split("###Response:\n", 1)[-1].split(GOAL, 1)[0]
            if key in groups:
                groups[key][1] += sc
            else:
                groups[key] = [text, sc]
        return max(groups.values(), key=lambda g: g[1])[0]


def solved(nums, target, output):
    """A plain check (the strict verifier's core): the steps use the numbers once each and the
    last result is the target."""
    body = output.split("###Response:\n", 1)[-1].split(GOAL, 1)[0]
    pool = list(nums)
    value = None
    for line in body.strip().split("\n"):
        line = line.strip()
        if not line or BACKTRACK in line or "=" not in line:
            return False
        lhs, rhs = line.split("=", 1)
        for op in "+-*/":
            if op in lhs[1:]:
                i = lhs.index(op, 1)
                a, b = lhs[:i], lhs[i + 1:]
                break
        else:
            return False
        try:
            a, b, r = int(a), int(b), int(rhs)
        except ValueError:
            return False
        if a not in pool:
            return False
        pool.remove(a)
        if b not in pool:
            return False
        pool.remove(b)
        exact = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else None}[op]
        if exact is None or exact != r:
            return False
        pool.append(r)
        value = r
    return value == target and len(pool) == 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--data", required=True, help="JSONL rows with nums and target")
    ap.add_argument("--num", type=int, default=20, help="end row, as the seed")
    ap.add_argument("--offset", type=int, default=0)
    ap.add_argument("--b", type=int, default=1)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=0.7)
    ap.add_argument("--max-length", type=int, default=50)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(args.ckpt)
    model = LlamaForCausalLM.from_pretrained(args.ckpt, dtype=getattr(torch, args.dtype)).to(dev)
    model.eval()
    rows = [json.loads(l) for l in open(args.data) if l.strip()][args.offset:args.num]
    dec = SeedDecoder(model, tok, args.n, args.b, args.temperature, args.max_length)
    # one warm-up problem outside the timing (CUDA context, kernels)
    dec.decode(prompt_of(rows[0]["nums"], rows[0]["target"]))
    dec.calls = dec.generated = 0
    if dev == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    outputs, correct = [], 0
    for r in rows:
        out = dec.decode(prompt_of(r["nums"], r["target"]))
        ok = solved(r["nums"], r["target"], out)
        correct += ok
        outputs.append({"model_output": out, "is_correct": ok})
    if dev == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    summary = {"problems": len(rows), "seconds": secs, "problems_per_s": len(rows) / secs,
               "generate_calls": dec.calls, "generated_tokens": dec.generated,
               "accuracy_plain": correct / len(rows), "device": torch.cuda.get_device_name()
               if dev == "cuda" else "cpu", "torch": torch.__version__, "b": args.b,
               "n": args.n}
    print(json.dumps(summary, indent=2))
    if args.out:
        json.dump({"summary": summary, "results": outputs}, open(args.out, "w"), indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
