#!/usr/bin/env python3
"""roofline.py — the roofline of the self-backtracking decode workload on one GPU: how many
tokens (and so problems) per second the card could push through a Llama model at most, and what
fraction of that a measured run reached (issue #7 item 6, docs/benchmarks.md "Decode at 1B").

    python3 bench/roofline.py --card "NVIDIA H100 80GB HBM3" [--config MODEL/config.json]
        [--ours RESULTS.json [--expansions E]] [--tokens-per-s X --problems-per-s Y]
        [--rows-per-step R] [--context 45] [--prompt-tokens 24] [--max-length 50] [--n 32]
        [--json OUT.json]

Without --config the shapes are Llama-3.2-1B's (vocab 128,257). RESULTS.json is what
`selfbt-eval --out` writes (problems, seconds, forward_tokens).

Work per forward token (one position of one sequence through the model), in FLOPs:

    F_tok = 2 * P_nonemb                      every weight matrix of the layers: a multiply-add
          + 2 * V * C                         the LM head (tied or not: V x C)
          + L * 4 * ctx * nh * hd             attention: Q.K^T and P.V over ctx keys, per layer

    P_nonemb = L * (C*nh*hd + 2*C*nkv*hd + nh*hd*C + 3*C*I)   (norms, RoPE, softmax, SwiGLU and
               the embedding lookup are O(C) per token and left out)

For Llama-3.2-1B (C 2048, L 16, nh 32, nkv 8, hd 64, I 8192, V 128,257): P_nonemb = 973.1 M,
the LM head 262.7 M, F_tok = 1946.2 M + 525.3 M + 5.9 M (ctx 45) = 2.477 GFLOP.

The LM head is counted for every forward token: a decode step needs the logits of each row; a
prompt token but the last may not, so F_tok overstates the work of those (about 24 of the ~824
forward tokens of an expansion at N = 32) and the fraction below is, if anything, flattering by
under one per cent.

Compute bound:      T_compute = peak_flops / F_tok                            tokens/s
Memory bound, at R rows (sequences) per model step, each reading ctx cached positions:
    bytes_step = 2 * (P_nonemb + V*C)                 every bf16 weight, read once per step
               + R * ctx * L * 2 * nkv * hd * 2        the bf16 K and V of each row's context
    T_memory   = R * hbm_bandwidth / bytes_step                                tokens/s
(beams that share their prompt's cache pages read less KV than this; at R = 64 x 32 rows the
decode is compute-bound either way: weights 2.47 GB + 2048 x 1.2 MB of KV a step, against
2048 x 2.48 GFLOP.)
Roofline:           T_roof = min(T_compute, T_memory)
Problems/s:         problems_roof = T_roof / tokens_per_problem

tokens_per_problem is the forward-token count selfbt-eval reports (forward_tokens / problems:
prefill, decode and padding tokens, as our engine runs them), so "achieved" = measured forward
tokens/s / T_roof — how close the engine runs to the card for the tokens it chose to run. A
second line divides by the least work the algorithm needs instead, per expansion: the prompt
once (p tokens; its last position gives the first new token's logits) plus, for each of the N
beams, max_length - p - 1 decode positions (the last sampled token is never run), with the
rescoring pass free (the log-probs are those of the decode, and a random model's beams never
end early, so there is no EOS padding to score): ideal_tokens = E * (p + N * (max_length - p -
1)) for E expansions per problem; achieved_ideal = measured problems/s / (T_roof /
ideal_tokens). (Seen on the CPU backend with the 1B folder, p = 24, N = 2: 74 forward tokens,
exactly this count.)
Both are printed; the issue's goal is "at least half of the compute roofline".

Peaks (--peak-tflops, --hbm-tbs override them). Datasheet, dense bf16 without sparsity: H100
SXM5 989.4 TFLOP/s with 3.35 TB/s HBM3; H200 SXM the same 989.4 TFLOP/s with 4.8 TB/s HBM3e.
Measured on this workplace's machines (/work/.library/device/KINDS.md, 2026-11): an
8192x8192x8192 bf16 matmul through PyTorch ran at 798 TFLOP/s on an H100 80GB HBM3 and 769-798
on an H200; a device-to-device copy moved about 3.0 TB/s (H100) and 4.3 TB/s (H200), counting
bytes read and written. The datasheet numbers are the roofline; the measured ones are printed
beside them as the practical ceiling.
"""
import argparse
import json
import sys

LLAMA_3_2_1B = dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32,
                    num_key_value_heads=8, head_dim=64, intermediate_size=8192,
                    vocab_size=128257)

# name fragment -> (datasheet dense bf16 TFLOP/s, datasheet HBM TB/s, measured matmul TFLOP/s,
# measured copy TB/s); the first fragment found in the card's name wins
CARDS = [
    ("H200 NVL", (835.0, 4.8, None, None)),
    ("H200", (989.4, 4.8, 798.0, 4.3)),
    ("H100 PCIe", (756.0, 2.0, None, None)),
    ("H100 NVL", (835.0, 3.9, None, None)),
    ("H100", (989.4, 3.35, 798.0, 3.0)),
]


def model_shape(path):
    if not path:
        return dict(LLAMA_3_2_1B)
    with open(path) as f:
        c = json.load(f)
    s = {k: c[k] for k in LLAMA_3_2_1B if k in c}
    if "head_dim" not in s:
        s["head_dim"] = c["hidden_size"] // c["num_attention_heads"]
    s.setdefault("num_key_value_heads", c["num_attention_heads"])
    missing = [k for k in LLAMA_3_2_1B if k not in s]
    if missing:
        raise SystemExit(f"roofline.py: {path}: missing {', '.join(missing)}")
    return s


def work(s, ctx):
    C, L, nh, nkv, hd, I, V = (s["hidden_size"], s["num_hidden_layers"],
                               s["num_attention_heads"], s["num_key_value_heads"], s["head_dim"],
                               s["intermediate_size"], s["vocab_size"])
    p_layer = C * nh * hd + 2 * C * nkv * hd + nh * hd * C + 3 * C * I
    p_nonemb = L * p_layer
    f_layers = 2 * p_nonemb
    f_head = 2 * V * C
    f_attn = L * 4 * ctx * nh * hd
    weight_bytes = 2 * (p_nonemb + V * C)
    kv_bytes_per_row = ctx * L * 2 * nkv * hd * 2
    return dict(p_nonemb=p_nonemb, p_embedding=V * C, flops_layers=f_layers, flops_head=f_head,
                flops_attention=f_attn, flops_per_token=f_layers + f_head + f_attn,
                weight_bytes=weight_bytes, kv_bytes_per_row=kv_bytes_per_row)


def card_peaks(name):
    for frag, peaks in CARDS:
        if frag.lower() in (name or "").lower():
            return frag, peaks
    return None, (None, None, None, None)


def roofline(w, peak_tflops, hbm_tbs, rows):
    t_compute = peak_tflops * 1e12 / w["flops_per_token"]
    if rows and hbm_tbs:
        step_bytes = w["weight_bytes"] + rows * w["kv_bytes_per_row"]
        t_memory = rows * hbm_tbs * 1e12 / step_bytes
    else:
        t_memory = float("inf")
    return t_compute, t_memory, min(t_compute, t_memory)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--card", default="", help="GPU name as nvidia-smi prints it")
    ap.add_argument("--config", help="config.json of the model (default: Llama-3.2-1B shapes)")
    ap.add_argument("--peak-tflops", type=float, help="dense bf16 peak (default: the card's)")
    ap.add_argument("--hbm-tbs", type=float, help="HBM bandwidth in TB/s (default: the card's)")
    ap.add_argument("--context", type=float, default=45.0,
                    help="mean attended positions per forward token (default 45; run_1b_bench.sh "
                         "gives (prompt + max_length) / 2, about 37)")
    ap.add_argument("--rows-per-step", type=float, default=0,
                    help="sequences per model step, for the weight-streaming bound (ours: "
                         "--batch x N); 0 leaves the memory bound out")
    ap.add_argument("--ours", help="selfbt-eval's results JSON: problems, seconds, forward_tokens")
    ap.add_argument("--tokens-per-s", type=float, help="measured forward tokens/s")
    ap.add_argument("--problems-per-s", type=float, help="measured problems/s")
    ap.add_argument("--tokens-per-problem", type=float,
                    help="forward tokens per problem (default: from --ours)")
    ap.add_argument("--expansions", type=float,
                    help="generate calls (expansions) per problem, for the least-work line")
    ap.add_argument("--prompt-tokens", type=float, default=24.0,
                    help="prompt tokens with BOS (Llama-3: about 24)")
    ap.add_argument("--max-length", type=float, default=50.0, help="total tokens per expansion")
    ap.add_argument("--n", type=float, default=32.0, help="beams per expansion")
    ap.add_argument("--json", help="write the numbers here too")
    args = ap.parse_args(argv)

    s = model_shape(args.config)
    w = work(s, args.context)
    frag, (ds_tflops, ds_tbs, meas_tflops, meas_tbs) = card_peaks(args.card)
    peak = args.peak_tflops or ds_tflops
    bw = args.hbm_tbs or ds_tbs
    if peak is None:
        raise SystemExit(f"roofline.py: no peaks known for card {args.card!r}: give "
                         "--peak-tflops (and --hbm-tbs)")
    rows = args.rows_per_step
    t_c, t_m, t_roof = roofline(w, peak, bw, rows)
    out = dict(card=args.card, card_match=frag, shape=s, context=args.context, work=w,
               peak_tflops=peak, hbm_tbs=bw, rows_per_step=rows, tokens_per_s_compute=t_c,
               tokens_per_s_memory=t_m if t_m != float("inf") else None,
               tokens_per_s_roofline=t_roof,
               bound="compute" if t_c <= t_m else "memory")
    if meas_tflops and not args.peak_tflops:
        _, _, t_prac = roofline(w, meas_tflops, meas_tbs, rows)
        out.update(measured_matmul_tflops=meas_tflops, measured_copy_tbs=meas_tbs,
                   tokens_per_s_practical=t_prac)

    tps, pps, tpp = args.tokens_per_s, args.problems_per_s, args.tokens_per_problem
    if args.ours:
        with open(args.ours) as f:
            r = json.load(f)
        secs = r["seconds"] if r["seconds"] > 0 else float("nan")
        tps = tps or r["forward_tokens"] / secs
        pps = pps or r["problems"] / secs
        tpp = tpp or r["forward_tokens"] / r["problems"]
        out["ours"] = {k: r.get(k) for k in ("problems", "seconds", "problems_per_s",
                                             "tokens_per_s", "generated_tokens",
                                             "forward_tokens")}
    if tpp is None and tps and pps:
        tpp = tps / pps
    if tpp:
        out["tokens_per_problem"] = tpp
        out["problems_per_s_roofline"] = t_roof / tpp
        if "tokens_per_s_practical" in out:
            out["problems_per_s_practical"] = out["tokens_per_s_practical"] / tpp
    if tps:
        out["tokens_per_s_measured"] = tps
        out["achieved_fraction"] = tps / t_roof
        out["achieved_tflops"] = tps * w["flops_per_token"] / 1e12
    if pps:
        out["problems_per_s_measured"] = pps
    if args.expansions:
        p, L, n = args.prompt_tokens, args.max_length, args.n
        ideal = args.expansions * (p + n * (L - p - 1))
        out["ideal_tokens_per_problem"] = ideal
        out["problems_per_s_roofline_ideal"] = t_roof / ideal
        if pps:
            out["achieved_fraction_ideal"] = pps / (t_roof / ideal)

    g = 1e9
    print(f"roofline: {args.card or 'card ?'} — dense bf16 {peak:.1f} TFLOP/s"
          + (f", HBM {bw:.2f} TB/s" if bw else "")
          + (f" (measured here: matmul {meas_tflops:.0f} TFLOP/s, copy {meas_tbs:.1f} TB/s)"
             if meas_tflops and not args.peak_tflops else ""))
    print(f"  model     C {s['hidden_size']} L {s['num_hidden_layers']} heads "
          f"{s['num_attention_heads']}/{s['num_key_value_heads']} hd {s['head_dim']} I "
          f"{s['intermediate_size']} V {s['vocab_size']}: {w['p_nonemb'] / 1e6:.1f} M non-embedding "
          f"+ {w['p_embedding'] / 1e6:.1f} M embedding parameters")
    print(f"  per token {w['flops_per_token'] / g:.3f} GFLOP = layers {w['flops_layers'] / g:.3f} "
          f"+ LM head {w['flops_head'] / g:.3f} + attention {w['flops_attention'] / g:.4f} "
          f"(context {args.context:g})")
    print(f"  compute   {t_c:,.0f} tokens/s")
    if t_m != float("inf"):
        print(f"  memory    {t_m:,.0f} tokens/s at {rows:g} rows per step (weights "
              f"{w['weight_bytes'] / g:.2f} GB + KV {w['kv_bytes_per_row'] / 1e6:.2f} MB a row)")
    print(f"  roofline  {t_roof:,.0f} tokens/s ({out['bound']}-bound)"
          + (f"; at the measured matmul rate {out['tokens_per_s_practical']:,.0f}"
             if "tokens_per_s_practical" in out else ""))
    if tpp:
        print(f"  problems  {out['problems_per_s_roofline']:.2f} problems/s at {tpp:,.0f} forward "
              "tokens per problem")
    if tps:
        print(f"  measured  {tps:,.0f} forward tokens/s ({out['achieved_tflops']:.1f} TFLOP/s)"
              + (f", {pps:.3f} problems/s" if pps else "")
              + f": {100 * out['achieved_fraction']:.1f} % of the roofline")
    if "ideal_tokens_per_problem" in out:
        print(f"  least work {out['ideal_tokens_per_problem']:,.0f} tokens per problem "
              f"({args.expansions:g} expansions): roofline "
              f"{out['problems_per_s_roofline_ideal']:.2f} problems/s"
              + (f", measured {100 * out['achieved_fraction_ideal']:.1f} % of it"
                 if "achieved_fraction_ideal" in out else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
