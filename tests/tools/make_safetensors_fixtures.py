#!/usr/bin/env python3
"""make_safetensors_fixtures.py — writes the small .safetensors fixtures of tests/golden/safetensors.

Pure python3 (struct + json, no torch or numpy). Files are laid out as the reference library
(huggingface/safetensors `serialize`) lays them out: tensors sorted by dtype alignment, widest
first (F32, then BF16, then F16), then by name; compact header JSON with "__metadata__" first;
header padded with spaces to a multiple of 8 bytes; data back to back. The index of the
sharded checkpoint is written as transformers writes it (indent 2, sorted keys).

Usage: python3 tests/tools/make_safetensors_fixtures.py [OUT_DIR]   (default: tests/golden/safetensors)
"""
import json
import os
import struct
import sys

ORDER = {"F32": 0, "BF16": 1, "F16": 2}  # descending alignment, as the reference's Dtype order
SIZE = {"F32": 4, "BF16": 2, "F16": 2}


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def u16(*bits):
    return struct.pack("<%dH" % len(bits), *bits)


def serialize(tensors, metadata=None):
    """tensors: {name: (dtype, shape, raw little-endian bytes)} -> the file's bytes."""
    header, data, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors, key=lambda n: (ORDER[tensors[n][0]], n.encode())):
        dtype, shape, raw = tensors[name]
        numel = 1
        for d in shape:
            numel *= d
        assert len(raw) == numel * SIZE[dtype], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        data.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(data)


# The values tests/unit/test_safetensors.c checks: exact fp32 values and raw 16-bit patterns
# covering ±0, subnormals, the largest finite, ±inf and NaN payloads.
SMALL = {
    "a.f32": ("F32", [2, 3], f32(0.0, 1.0, -2.5, 3.25, 1e-40, 65504.0)),
    "b.bf16": ("BF16", [5], u16(0x3F80, 0xC020, 0x7F80, 0x0001, 0x7FC1)),
    "c.f16": ("F16", [3, 3], u16(0x3C00, 0x0001, 0x03FF, 0x7BFF, 0x7C00, 0xFC00, 0x8000, 0x7E01, 0xC100)),
    "scalar": ("F32", [], f32(42.0)),
    "empty": ("F32", [0, 4], b""),
}

# A two-shard checkpoint named as transformers names shards.
SHARDS = {
    "model-00001-of-00002.safetensors": {
        "model.embed_tokens.weight": ("BF16", [4, 2], u16(*range(0x3F80, 0x3F88))),
        "model.norm.weight": ("F32", [2], f32(1.0, 0.5)),
    },
    "model-00002-of-00002.safetensors": {
        "lm_head.weight": ("F16", [4, 2], u16(*range(0x3C00, 0x3C08))),
    },
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "golden", "safetensors")
    os.makedirs(os.path.join(out, "sharded"), exist_ok=True)
    with open(os.path.join(out, "small.safetensors"), "wb") as f:
        f.write(serialize(SMALL, {"format": "pt"}))
    weight_map, total = {}, 0
    for shard, tensors in SHARDS.items():
        with open(os.path.join(out, "sharded", shard), "wb") as f:
            f.write(serialize(tensors, {"format": "pt"}))
        for name, (_, _, raw) in tensors.items():
            weight_map[name] = shard
            total += len(raw)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(out, "sharded", "model.safetensors.index.json"), "w") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
