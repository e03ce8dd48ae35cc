"""attention_bench.py — PyTorch's F.scaled_dot_product_attention(is_causal=True, enable_gqa=True)
on the shapes of attention_bench.c, forward and forward+backward, bf16, for each SDPA backend
PyTorch will run (its default choice, then flash, cuDNN and memory-efficient where they accept
the call). Same timing rule as the C side: mean over ITERS calls after 3 warm-ups, CUDA events
around the queue; TFLOP/s count the causal half (forward 4*B*nh*hd*T*(T+1)/2, backward 2.5x).

    python3 bench/attention_bench.py [ITERS] [B,T,nh,nkv,hd ...]
"""
import sys
import warnings

import torch
import torch.nn.functional as F

try:
    from torch.nn.attention import SDPBackend, sdpa_kernel
except ImportError:  # older torch
    SDPBackend = None

DEFAULTS = [(4, 512, 32, 8, 64), (16, 512, 32, 8, 64), (8, 1024, 32, 8, 64), (4, 2048, 32, 8, 64),
            (4, 4096, 32, 8, 64), (16, 256, 32, 8, 64), (4, 512, 32, 8, 128)]


def timed(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record()
    for _ in range(iters):
        fn()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / iters  # ms


def main():
    warnings.filterwarnings("ignore")
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    shapes = [tuple(int(v) for v in s.split(",")) for s in sys.argv[2:]] or DEFAULTS
    print(f"# torch {torch.__version__}, {torch.cuda.get_device_name(0)}, cuDNN {torch.backends.cudnn.version()}")
    print(f"{'backend':13s} {'B':>3s} {'T':>5s} {'nh':>3s} {'nkv':>3s} {'hd':>4s} {'fwd_ms':>10s} {'fwd_TF/s':>10s} "
          f"{'fwdbwd_ms':>12s} {'fwdbwd_TF/s':>12s}")
    backends = [("default", None)]
    if SDPBackend is not None:
        backends += [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION),
                     ("efficient", SDPBackend.EFFICIENT_ATTENTION)]
    for (B, T, nh, nkv, hd) in shapes:
        g = torch.Generator(device="cuda").manual_seed(0)
        q = torch.randn(B, nh, T, hd, device="cuda", dtype=torch.bfloat16, generator=g, requires_grad=True)
        k = torch.randn(B, nkv, T, hd, device="cuda", dtype=torch.bfloat16, generator=g, requires_grad=True)
        v = torch.randn(B, nkv, T, hd, device="cuda", dtype=torch.bfloat16, generator=g, requires_grad=True)
        do = torch.randn(B, nh, T, hd, device="cuda", dtype=torch.bfloat16, generator=g)
        flop = 4.0 * B * nh * hd * T * (T + 1) / 2
        for name, be in backends:
            def fwd():
                with torch.no_grad():
                    F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

            def fwdbwd():
                o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
                o.backward(do)

            try:
                if be is None:
                    tf, ta = timed(fwd, iters), timed(fwdbwd, iters)
                else:
                    with sdpa_kernel(be):
                        tf, ta = timed(fwd, iters), timed(fwdbwd, iters)
            except Exception as e:  # a backend that does not take this call
                print(f"{name:13s} {B:3d} {T:5d} {nh:3d} {nkv:3d} {hd:4d}  not run: {str(e).splitlines()[0][:90]}")
                continue
            print(f"{name:13s} {B:3d} {T:5d} {nh:3d} {nkv:3d} {hd:4d} {tf:10.3f} {flop / tf * 1e-9:10.1f} "
                  f"{ta:12.3f} {3.5 * flop / ta * 1e-9:12.1f}", flush=True)


if __name__ == "__main__":
    main()
