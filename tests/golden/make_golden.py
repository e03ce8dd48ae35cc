#!/usr/bin/env python3
"""Golden outputs of the Llama model core, made with Hugging Face transformers.

Usage:
    python3 tests/golden/make_golden.py [--out tests/golden] [--selftest]

Needs python3 with torch, transformers and safetensors. Everything runs on the
CPU in float32 and is deterministic (fixed seeds, one CPU thread,
torch.use_deterministic_algorithms(True), TF32 off, eager attention).

For each of two variants it writes <out>/<variant>/:

    model/               save_pretrained(..., safe_serialization=True), float32:
                         config.json, generation_config.json, model.safetensors
    inputs.json          the batch, the AdamW settings, per-step losses and grad
                         norms, the loss, the versions used
    golden.safetensors   all F32:
                           logits             (B, T, V) forward with attention_mask
                           loss               shape [] (a 0-d tensor)
                           grad.<name>        d loss / d param, every HF parameter
                           step3.<name>       every parameter after 3 AdamW steps
                           rope.inv_freq      (head_dim/2,) the llama3-scaled
                                              inverse frequencies the model uses

The variants are llama_tiny_tied (tie_word_embeddings=True, seed 1234) and
llama_tiny_untied (seed 4321). tests/golden/README.md states the conventions.

--selftest afterwards exercises check_roundtrip.py on folders made from the
golden model (fp32 and bf16 checkpoints, and cases that must fail). Its
verdicts are printed; they do not change the exit status, which covers the
golden outputs alone.
"""

import argparse
import copy
import json
import math
import os
import shutil
import sys
import tempfile

os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import save_file, load_file  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

TF_MAJOR = int(transformers.__version__.split(".")[0])

VARIANTS = [
    ("llama_tiny_tied", True, 1234),
    ("llama_tiny_untied", False, 4321),
]

# Model shape.
VOCAB = 300
HIDDEN = 64
INTERMEDIATE = 96
LAYERS = 2
HEADS = 4
KV_HEADS = 2
MAX_POS = 64
RMS_EPS = 1e-5
ROPE_THETA = 500000.0
ROPE_LLAMA3 = {
    "rope_type": "llama3",
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}

# Batch.
B, T = 3, 12
LENGTHS = [12, 9, 5]
PROMPT = 3  # first tokens of each row carry label -100
PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
FIRST_RANDOM_ID = 3

# AdamW (HF Trainer style param groups).
LR = 1e-2
BETAS = (0.9, 0.99)
EPS = 1e-6
WEIGHT_DECAY = 0.1
STEPS = 3
CLIP_FACTORS = [0.5, 0.25, 0.1]  # max_grad_norm = round(f * g0, 6), first f that clips every step


def dtype_kw(dt):
    """from_pretrained's dtype argument: `dtype` in transformers 5, `torch_dtype` before."""
    return {"dtype": dt} if TF_MAJOR >= 5 else {"torch_dtype": dt}


def setup_determinism():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_num_threads(1)


# ---------------------------------------------------------------- llama3 rope

def llama3_regimes(head_dim, theta, rs):
    """The llama3 rope scaling as transformers computes it (here in double),
    with the regime of each frequency: 'high' (wavelen < high_freq_wavelen:
    unchanged), 'smooth' (interpolated), 'low' (wavelen > low_freq_wavelen:
    divided by factor)."""
    factor = rs["factor"]
    lf, hf = rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wl, high_wl = old / lf, old / hf
    rows = []
    for i in range(head_dim // 2):
        inv = 1.0 / (theta ** ((2 * i) / head_dim))
        wl = 2 * math.pi / inv
        if wl < high_wl:
            reg, new = "high", inv
        elif wl > low_wl:
            reg, new = "low", inv / factor
        else:
            s = (old / wl - lf) / (hf - lf)
            reg, new = "smooth", (1 - s) * inv / factor + s * inv
        rows.append((i, inv, wl, reg, new))
    return rows, low_wl, high_wl


def pick_rope_scaling(head_dim):
    rs = dict(ROPE_LLAMA3)
    candidates = [rs["original_max_position_embeddings"]] + [2 ** k for k in range(4, 24)]
    for old in candidates:
        rs["original_max_position_embeddings"] = old
        rows, _, _ = llama3_regimes(head_dim, ROPE_THETA, rs)
        if {r[3] for r in rows} == {"high", "smooth", "low"}:
            return rs
    raise SystemExit("no original_max_position_embeddings gives all three llama3 regimes")


def print_regimes(head_dim, rs, model_inv_freq):
    rows, low_wl, high_wl = llama3_regimes(head_dim, ROPE_THETA, rs)
    print(f"  llama3 rope: theta={ROPE_THETA} factor={rs['factor']} low_freq_factor={rs['low_freq_factor']} "
          f"high_freq_factor={rs['high_freq_factor']} original_max_position_embeddings="
          f"{rs['original_max_position_embeddings']} -> high_freq_wavelen={high_wl} low_freq_wavelen={low_wl}")
    print("    i  inv_freq(base)     wavelen          regime  inv_freq(scaled, double)  model's inv_freq (f32)")
    worst = 0.0
    for (i, inv, wl, reg, new) in rows:
        m = float(model_inv_freq[i]) if model_inv_freq is not None else float("nan")
        worst = max(worst, abs(m - new) / new)
        print(f"    {i}  {inv:.9e}  {wl:14.4f}  {reg:6s}  {new:.9e}           {m:.9e}")
    print(f"  max relative difference model inv_freq vs double formula: {worst:.3e}")
    return [r[3] for r in rows], worst


def model_inv_freq(model):
    for path in ("model.rotary_emb", "model.layers.0.self_attn.rotary_emb"):
        obj = model
        try:
            for p in path.split("."):
                obj = obj[int(p)] if p.isdigit() else getattr(obj, p)
            return obj.inv_freq.detach().float().clone()
        except (AttributeError, IndexError, TypeError):
            continue
    return None


# ---------------------------------------------------------------- model

def make_config(tied, rs):
    kw = dict(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
        max_position_embeddings=MAX_POS, rms_norm_eps=RMS_EPS,
        bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID,
        initializer_range=0.02, tie_word_embeddings=tied, hidden_act="silu",
        attention_bias=False, mlp_bias=False, use_cache=True,
    )
    if TF_MAJOR >= 5:
        rp = dict(rs)
        rp["rope_theta"] = ROPE_THETA
        cfg = LlamaConfig(rope_parameters=rp, **kw)
    else:
        cfg = LlamaConfig(rope_theta=ROPE_THETA, rope_scaling=dict(rs), **kw)
    for attr in (("dtype",) if TF_MAJOR >= 5 else ("torch_dtype",)):
        try:
            setattr(cfg, attr, torch.float32)
        except Exception as e:  # pragma: no cover
            print(f"  note: could not set config.{attr}: {e!r}")
    cfg._attn_implementation = "eager"
    return cfg


def build_model(tied, seed, rs):
    cfg = make_config(tied, rs)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    if hasattr(model, "set_attn_implementation"):
        try:
            model.set_attn_implementation("eager")
        except Exception as e:  # pragma: no cover
            print(f"  note: set_attn_implementation: {e!r}")
    model = model.float()
    # RMSNorm weights are 1.0 at init: perturb them so norm weights and their
    # gradients are tested for real.
    g = torch.Generator().manual_seed(seed + 2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float32))
    model.train()  # dropout is 0; train mode as during training
    return model


def make_batch(seed):
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(FIRST_RANDOM_ID, VOCAB, (B, T), generator=g, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(LENGTHS):
        mask[b, :n] = 1
    ids = torch.where(mask.bool(), ids, torch.full_like(ids, PAD_ID))
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[:, :PROMPT] = -100
    return ids, mask, labels


def forward(model, ids, mask, labels=None):
    return model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False)


def manual_loss(logits, labels):
    """HF's ForCausalLMLoss written out: logits[:, t] predicts labels[:, t+1],
    cross entropy in fp32, mean over labels != -100."""
    lg = logits[:, :-1, :].float().reshape(-1, logits.shape[-1])
    lb = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(lg, lb, ignore_index=-100, reduction="mean")


def param_groups(model):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if ("norm" in name or name.endswith(".bias")) else decay).append((name, p))
    return decay, no_decay


def train(model0, ids, mask, labels, max_grad_norm):
    model = copy.deepcopy(model0)
    if model0.config.tie_word_embeddings:
        assert model.lm_head.weight is model.model.embed_tokens.weight
    decay, no_decay = param_groups(model)
    opt = torch.optim.AdamW(
        [{"params": [p for _, p in decay], "weight_decay": WEIGHT_DECAY},
         {"params": [p for _, p in no_decay], "weight_decay": 0.0}],
        lr=LR, betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY, foreach=False)
    params = [p for _, p in model.named_parameters()]
    losses, norms = [], []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        out = forward(model, ids, mask, labels)
        out.loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(params, max_grad_norm, foreach=False)
        opt.step()
        losses.append(float(out.loss.detach()))
        norms.append(float(gn))
    return model, losses, norms, [n for n, _ in no_decay]


# ---------------------------------------------------------------- one variant

def file_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(file_size(os.path.join(path, f)) for f in os.listdir(path))


def make_variant(out, name, tied, seed, rs, versions):
    print(f"\n=== {name}: tie_word_embeddings={tied} seed={seed}")
    vdir = os.path.join(out, name)
    if os.path.isdir(vdir):
        shutil.rmtree(vdir)
    os.makedirs(vdir)
    mdir = os.path.join(vdir, "model")

    model = build_model(tied, seed, rs)
    print(f"  attn_implementation: {model.config._attn_implementation}")
    print(f"  rope config: {getattr(model.config, 'rope_parameters', None) or getattr(model.config, 'rope_scaling', None)}")
    head_dim = getattr(model.config, "head_dim", HIDDEN // HEADS)
    assert head_dim == HIDDEN // HEADS == 16, head_dim
    inv_freq = model_inv_freq(model)
    regimes, inv_err = print_regimes(head_dim, rs, inv_freq)
    assert set(regimes) == {"high", "smooth", "low"}, regimes
    assert inv_err < 1e-5, inv_err
    names = [n for n, _ in model.named_parameters()]
    if tied:
        assert model.lm_head.weight is model.model.embed_tokens.weight
        assert "lm_head.weight" not in names
    else:
        assert "lm_head.weight" in names
    nparams = sum(p.numel() for p in model.parameters())
    print(f"  {len(names)} parameter tensors, {nparams} numbers")
    emb0 = model.model.embed_tokens.weight[PAD_ID].abs().max().item()
    print(f"  embed_tokens row {PAD_ID} (pad, padding_idx) max |w| at init: {emb0}")

    pristine = copy.deepcopy(model)

    # Save the checkpoint.
    try:
        model.save_pretrained(mdir, safe_serialization=True)
    except TypeError:
        model.save_pretrained(mdir)
    assert os.path.isfile(os.path.join(mdir, "model.safetensors")), os.listdir(mdir)
    print(f"  saved {sorted(os.listdir(mdir))}")

    ids, mask, labels = make_batch(seed)

    # Forward + backward on the original parameters.
    model.zero_grad(set_to_none=True)
    out = forward(model, ids, mask, labels)
    logits = out.logits.detach().float().contiguous()
    loss = out.loss
    ml = manual_loss(logits, labels)
    print(f"  loss (HF) {float(loss.detach())!r}   manual shift+mean CE {float(ml)!r}   "
          f"diff {abs(float(loss.detach()) - float(ml)):.3e}")
    assert abs(float(loss.detach()) - float(ml)) <= 1e-6 * max(1.0, abs(float(ml)))
    n_lab = int((labels[:, 1:] != -100).sum())
    print(f"  labelled (shifted) tokens: {n_lab}")
    loss.backward()
    grads = {}
    for n, p in model.named_parameters():
        assert p.grad is not None, n
        grads[n] = p.grad.detach().float().contiguous().clone()
    g0 = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads.values()))
    print(f"  total grad norm at the original parameters g0 = {g0!r}")

    # Logits without labels must be the same forward.
    with torch.no_grad():
        l2 = forward(pristine, ids, mask).logits.float()
    d_nolab = (l2 - logits).abs().max().item()
    print(f"  forward without labels vs with labels: max |diff| = {d_nolab:.3e}")
    assert d_nolab <= 1e-6, d_nolab

    # Round trip through the saved checkpoint, eager and sdpa.
    with torch.no_grad():
        m_e = LlamaForCausalLM.from_pretrained(mdir, attn_implementation="eager", **dtype_kw(torch.float32))
        le = forward(m_e, ids, mask).logits.float()
        m_s = LlamaForCausalLM.from_pretrained(mdir, attn_implementation="sdpa", **dtype_kw(torch.float32))
        ls = forward(m_s, ids, mask).logits.float()
    d_rt = (le - logits).abs().max().item()
    d_sdpa = (ls - logits).abs().max().item()
    valid = mask.bool()
    d_sdpa_valid = (ls - logits)[valid].abs().max().item()
    print(f"  reloaded checkpoint (eager) vs in-memory logits: max |diff| = {d_rt:.3e}")
    print(f"  sdpa vs eager logits: max |diff| = {d_sdpa:.3e} (all positions), {d_sdpa_valid:.3e} (attended positions)"
          f"  [{m_s.config._attn_implementation} vs {m_e.config._attn_implementation}]")
    if d_rt > 1e-6:
        print(f"  WARNING: reloaded checkpoint differs from the in-memory model by {d_rt:.3e}")
    print(f"  sdpa within 1e-5 of eager: {'yes' if d_sdpa <= 1e-5 else 'NO (WARNING)'}")

    # max_grad_norm: clipping must be active on every step.
    chosen = None
    for f in CLIP_FACTORS:
        mgn = round(f * g0, 6)
        trained, losses, norms, no_decay = train(pristine, ids, mask, labels, mgn)
        active = all(n > mgn for n in norms)
        print(f"  try max_grad_norm = round({f} * g0, 6) = {mgn!r}: step grad norms {norms} -> "
              f"clipping {'active on every step' if active else 'NOT always active'}")
        if active:
            chosen = (f, mgn, trained, losses, norms, no_decay)
            break
    assert chosen is not None, "no clip factor keeps clipping active"
    f, mgn, trained, losses, norms, no_decay = chosen
    assert abs(losses[0] - float(loss.detach())) <= 1e-7 * max(1.0, abs(float(loss.detach()))), losses[0]
    assert abs(norms[0] - g0) <= 1e-5 * g0, (norms[0], g0)
    print(f"  step losses {losses}")

    tensors = {"logits": logits, "loss": loss.detach().float().reshape(()).contiguous()}
    for n, g in grads.items():
        tensors["grad." + n] = g
    for n, p in trained.named_parameters():
        tensors["step3." + n] = p.detach().float().contiguous().clone()
    if inv_freq is not None:
        tensors["rope.inv_freq"] = inv_freq.contiguous()
    for k, v in tensors.items():
        assert v.dtype == torch.float32 and v.is_contiguous(), k
    save_file(tensors, os.path.join(vdir, "golden.safetensors"),
              metadata={"format": "pt", "variant": name, "transformers": transformers.__version__,
                        "torch": torch.__version__})
    back = load_file(os.path.join(vdir, "golden.safetensors"))
    assert set(back) == set(tensors) and all(torch.equal(back[k], tensors[k]) for k in tensors)

    doc = {
        "variant": name,
        "tie_word_embeddings": tied,
        "seed": seed,
        "input_ids": ids.tolist(),
        "attention_mask": mask.tolist(),
        "labels": labels.tolist(),
        "lengths": LENGTHS,
        "prompt_tokens_without_labels": PROMPT,
        "loss": float(loss.detach()),
        "grad_norm": g0,
        "adamw": {
            "lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS,
            "weight_decay": WEIGHT_DECAY, "max_grad_norm": mgn,
            "max_grad_norm_rule": f"round({f} * grad_norm, 6)",
            "steps": STEPS, "no_decay": no_decay,
            "decay": [n for n in names if n not in no_decay],
        },
        "step_losses": losses,
        "step_grad_norms": norms,
        "rope_regimes": regimes,
        "sdpa_vs_eager_max_abs": d_sdpa,
        "versions": versions,
    }
    with open(os.path.join(vdir, "inputs.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")

    sizes = {f: file_size(os.path.join(vdir, f)) for f in ("model", "inputs.json", "golden.safetensors")}
    total = sum(sizes.values())
    print(f"  sizes: {sizes} total {total} bytes")
    assert total < 1.5 * 1024 * 1024, total
    return {"name": name, "g0": g0, "max_grad_norm": mgn, "factor": f, "sdpa": d_sdpa,
            "regimes": regimes, "loss": float(loss.detach()), "losses": losses, "norms": norms, "total": total}


# ---------------------------------------------------------------- self-test

def selftest(out):
    """Run check_roundtrip.py on folders made from the golden checkpoints."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import check_roundtrip  # noqa: E402

    results = []

    def case(label, argv, want):
        print(f"\n--- selftest {label}: check_roundtrip {' '.join(argv)} (want rc {want})")
        try:
            rc = check_roundtrip.main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
        except Exception as e:  # pragma: no cover
            import traceback
            traceback.print_exc()
            rc = f"exception {e!r}"
        ok = rc == want
        print(f"--- selftest {label}: rc {rc} -> {'PASS' if ok else 'FAIL'}")
        results.append((label, ok))

    tmp = tempfile.mkdtemp(prefix="golden_selftest_")
    for name, _, _ in VARIANTS:
        vdir = os.path.join(out, name)
        with open(os.path.join(vdir, "inputs.json")) as fh:
            inp = json.load(fh)
        small = {"input_ids": inp["input_ids"], "attention_mask": inp["attention_mask"]}
        gold = load_file(os.path.join(vdir, "golden.safetensors"))

        def mkdir(tag, logits, model_src=None, model_dtype=None, drop=None, extra=None):
            d = os.path.join(tmp, f"{name}_{tag}")
            os.makedirs(d)
            md = os.path.join(d, "model")
            shutil.copytree(os.path.join(vdir, "model"), md)
            if model_dtype is not None or drop or extra:
                sd = load_file(os.path.join(md, "model.safetensors"))
                if model_dtype is not None:
                    sd = {k: v.to(model_dtype).contiguous() for k, v in sd.items()}
                    cj = os.path.join(md, "config.json")
                    with open(cj) as fh:
                        c = json.load(fh)
                    for k in ("dtype", "torch_dtype"):
                        if k in c:
                            c[k] = "bfloat16"
                    with open(cj, "w") as fh:
                        json.dump(c, fh, indent=2)
                if drop:
                    sd.pop(drop)
                if extra:
                    sd[extra] = torch.zeros(4)
                save_file(sd, os.path.join(md, "model.safetensors"), metadata={"format": "pt"})
            with open(os.path.join(d, "inputs.json"), "w") as fh:
                json.dump(small, fh)
            save_file({"logits": logits.contiguous()}, os.path.join(d, "logits.safetensors"))
            return d

        lg = gold["logits"]
        case(f"{name} fp32 exact", [mkdir("fp32", lg)], 0)
        noise = torch.randn(lg.shape, generator=torch.Generator().manual_seed(7)) * lg.norm() / math.sqrt(lg.numel())
        case(f"{name} fp32 noisy 1e-3", [mkdir("noisy", lg + 1e-3 * noise)], 1)
        case(f"{name} fp32 noisy 1e-5", [mkdir("noisy5", lg + 1e-5 * noise)], 0)
        case(f"{name} missing key", [mkdir("missing", lg, drop="model.norm.weight")], 1)
        case(f"{name} unexpected key", [mkdir("unexpected", lg, extra="model.extra_thing.weight")], 1)
        case(f"{name} bf16 checkpoint vs fp32 logits", [mkdir("bf16", lg, model_dtype=torch.bfloat16), "--dtype", "bfloat16"], 0)
        case(f"{name} fp32 checkpoint given --dtype bfloat16", [mkdir("wrongdtype", lg), "--dtype", "bfloat16"], 1)
    shutil.rmtree(tmp, ignore_errors=True)
    print("\nselftest summary:")
    for label, ok in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return all(ok for _, ok in results)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--selftest", action="store_true", help="also exercise check_roundtrip.py")
    args = ap.parse_args()

    setup_determinism()
    import safetensors
    versions = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": getattr(safetensors, "__version__", "?"),
        "python": sys.version.split()[0],
    }
    print(f"versions: {versions}")
    print(f"deterministic={torch.are_deterministic_algorithms_enabled()} threads={torch.get_num_threads()} "
          f"tf32={torch.backends.cuda.matmul.allow_tf32}")

    head_dim = HIDDEN // HEADS
    rs = pick_rope_scaling(head_dim)
    if rs["original_max_position_embeddings"] != ROPE_LLAMA3["original_max_position_embeddings"]:
        print(f"note: original_max_position_embeddings changed to {rs['original_max_position_embeddings']} "
              f"so that all three llama3 regimes occur with head_dim {head_dim}")

    os.makedirs(args.out, exist_ok=True)
    summary = [make_variant(args.out, name, tied, seed, rs, versions) for name, tied, seed in VARIANTS]

    print("\n=== summary")
    for s in summary:
        print(f"  {s['name']}: loss {s['loss']!r} g0 {s['g0']!r} max_grad_norm {s['max_grad_norm']!r} "
              f"(factor {s['factor']}) step grad norms {s['norms']} step losses {s['losses']} "
              f"sdpa-vs-eager {s['sdpa']:.3e} regimes {s['regimes']} size {s['total']} bytes")

    if args.selftest:
        try:
            ok = selftest(args.out)
            print(f"selftest: {'all passed' if ok else 'SOME FAILED'}")
        except Exception:
            import traceback
            traceback.print_exc()
            print("selftest: crashed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
