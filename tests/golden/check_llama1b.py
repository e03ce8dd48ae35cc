#!/usr/bin/env python3
"""check_llama1b.py — libselfbt's CUDA backend against transformers on a random model with the
Llama-3.2-1B configuration (vocab 128,257: Llama-3 plus <backtrack>), on the GPU machine.

    python3 tests/golden/check_llama1b.py --model-check BUILD/tests/model_check --out DIR

1. Builds LlamaForCausalLM(Llama-3.2-1B config) with seed 0 and saves it in bfloat16
   (DIR/model): both sides start from exactly these bf16 weights.
2. Writes DIR/batches.json: STEPS batches of B x T random ids, right-padded rows, the first
   PROMPT tokens of each row and the padding not trained (-100).
3. Runs `model_check DIR/model DIR/batches.json DIR/ours cuda`: our logits of batch 0, then one
   AdamW step per batch.
4. transformers on the same GPU: logits of batch 0 with the bf16 weights computed in fp32 (the
   reference), and the same training steps as HF Trainer does with bf16=True (fp32 master
   weights, bf16 autocast, the same AdamW groups and clipping).
5. Prints logits ‖ours − ref‖/‖ref‖ and the two loss curves side by side; exits 1 when the
   logits error exceeds --logits-tol (bf16 activations: 3e-2) or any loss differs by more than
   --loss-tol (relative, 3e-2), and writes DIR/summary.json.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM

LLAMA_3_2_1B = dict(
    vocab_size=128257, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
    rms_norm_eps=1e-5, rope_theta=500000.0,
    rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                  "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    tie_word_embeddings=True, bos_token_id=128000, eos_token_id=128001, pad_token_id=128001,
    initializer_range=0.02, hidden_act="silu")


def make_batches(steps, B, T, prompt, vocab, gen):
    batches = []
    for _ in range(steps):
        ids = torch.randint(0, vocab - 1, (B, T), generator=gen)
        lens = [T - (b * T) // (2 * B) for b in range(B)]  # T, then shorter rows
        mask = torch.zeros(B, T, dtype=torch.long)
        labels = ids.clone()
        for b, n in enumerate(lens):
            mask[b, :n] = 1
            ids[b, n:] = LLAMA_3_2_1B["pad_token_id"]
            labels[b, n:] = -100
            labels[b, :prompt] = -100
        batches.append({"input_ids": ids.tolist(), "labels": labels.tolist(),
                        "attention_mask": mask.tolist()})
    return batches


def hf_train(model, batches, hp):
    decay = [p for n, p in model.named_parameters() if "norm" not in n]
    no_decay = [p for n, p in model.named_parameters() if "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=hp["lr"], betas=(hp["beta1"], hp["beta2"]), eps=hp["eps"],
                            foreach=False)
    losses, norms, times = [], [], []
    for batch in batches:
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(input_ids=torch.tensor(batch["input_ids"], device="cuda"),
                        attention_mask=torch.tensor(batch["attention_mask"], device="cuda"),
                        labels=torch.tensor(batch["labels"], device="cuda"))
        out.loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), hp["max_grad_norm"])
        opt.step()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
        losses.append(out.loss.item())
        norms.append(gn.item())
    return losses, norms, times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-check", required=True, help="path of the model_check binary")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--prompt", type=int, default=8)
    ap.add_argument("--logits-tol", type=float, default=3e-2)
    ap.add_argument("--loss-tol", type=float, default=3e-2)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    cfg = LlamaConfig(**LLAMA_3_2_1B)
    model = LlamaForCausalLM(cfg)  # fp32 on the CPU, transformers' init
    model_dir = os.path.join(args.out, "model")
    model.to(torch.bfloat16).save_pretrained(model_dir, safe_serialization=True)
    gen = torch.Generator().manual_seed(1)
    hp = {"lr": 3e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01,
          "max_grad_norm": 1.0}
    batches = make_batches(args.steps, args.batch, args.seq, args.prompt, cfg.vocab_size, gen)
    with open(os.path.join(args.out, "batches.json"), "w") as f:
        json.dump({"batches": batches, "adamw": hp}, f)

    ours_dir = os.path.join(args.out, "ours")
    t0 = time.perf_counter()
    subprocess.run([args.model_check, model_dir, os.path.join(args.out, "batches.json"), ours_dir,
                    "cuda"], check=True)
    ours_wall = time.perf_counter() - t0
    ours = json.load(open(os.path.join(ours_dir, "results.json")))
    our_logits = load_file(os.path.join(ours_dir, "logits.safetensors"))["logits"].double()

    # transformers: the bf16 weights in fp32 (master weights, as HF Trainer keeps them)
    ref = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                           attn_implementation="sdpa").cuda()
    b0 = batches[0]
    with torch.no_grad():
        ref_logits = ref(input_ids=torch.tensor(b0["input_ids"], device="cuda"),
                         attention_mask=torch.tensor(b0["attention_mask"], device="cuda")
                         ).logits.double().cpu()
    mask = torch.tensor(b0["attention_mask"]).bool()
    diff = (our_logits - ref_logits)[mask]
    logits_err = (diff.norm() / ref_logits[mask].norm()).item()
    hf_losses, hf_norms, hf_ms = hf_train(ref, batches, hp)

    print(f"\nLlama-3.2-1B configuration (vocab {cfg.vocab_size}), random weights, "
          f"{args.steps} steps of {args.batch}x{args.seq}; {ours['device']}")
    print(f"logits of batch 0, attended positions: ‖ours − transformers(fp32)‖/‖·‖ = {logits_err:.3e}")
    print(f"{'step':>4} {'ours loss':>10} {'hf loss':>10} {'rel diff':>9} "
          f"{'ours |g|':>9} {'hf |g|':>9} {'ours ms':>8} {'hf ms':>8}")
    worst = 0.0
    for i, (a, b) in enumerate(zip(ours["losses"], hf_losses)):
        d = abs(a - b) / abs(b)
        worst = max(worst, d)
        print(f"{i + 1:4d} {a:10.5f} {b:10.5f} {d:9.2e} {ours['grad_norms'][i]:9.4f} "
              f"{hf_norms[i]:9.4f} {ours['step_ms'][i]:8.1f} {hf_ms[i]:8.1f}")
    ok = logits_err <= args.logits_tol and worst <= args.loss_tol and all(
        math.isfinite(x) for x in ours["losses"])
    summary = {"logits_rel_err": logits_err, "worst_loss_rel_diff": worst,
               "ours_losses": ours["losses"], "hf_losses": hf_losses,
               "ours_step_ms": ours["step_ms"], "hf_step_ms": hf_ms, "device": ours["device"],
               "ours_wall_s": ours_wall, "torch": torch.__version__, "ok": ok}
    json.dump(summary, open(os.path.join(args.out, "summary.json"), "w"), indent=2)
    print(f"{'OK' if ok else 'FAIL'}: logits {logits_err:.2e} (limit {args.logits_tol}), "
          f"worst loss difference {worst:.2e} (limit {args.loss_tol})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
