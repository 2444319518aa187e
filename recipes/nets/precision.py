"""`precision: auto | fp32 | bf16`: bfloat16 autocast where the hardware runs it natively.

"Natively" is what the hardware reports, not the machine's name: on a CPU, AMX's bf16 tiles
(`amx_bf16` in torch.cpu.get_capabilities(); matrix products about 6x float32's on the
project's Xeons) or AVX512_BF16's bf16 dot products (`avx512_bf16`; on the project's AMD
EPYCs `torch.mm` runs 4x float32's and the conv nets train 1.4-1.7x faster, measured by
benchmarks/bench.py); on a GPU, `torch.cuda.is_bf16_supported()`. A CPU with neither only
emulates bf16, slower than float32: `auto` keeps float32 there and forcing bf16 gets a
one-line warning.
"""

from __future__ import annotations

import sys

import torch


def cpu_bf16() -> str:
    """'amx', 'avx512' (AVX512_BF16 dot products; both native) or 'emulated'."""
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    if caps.get("amx_bf16"):
        return "amx"
    return "avx512" if caps.get("avx512_bf16") else "emulated"


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_bf16() != "emulated"


def resolve(precision: str, device: torch.device) -> str:
    """The precision a run uses: 'fp32' or 'bf16'."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision == "bf16" and device.type == "cpu" and cpu_bf16() == "emulated":
        print("warning: precision bf16 on a CPU without AVX512_BF16 or AMX is emulated, "
              "slower than fp32", file=sys.stderr)
    return precision


def autocast(device: torch.device, precision: str):
    """The autocast context of a resolved precision (a no-op for fp32)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
