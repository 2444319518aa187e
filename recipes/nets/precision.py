"""`precision: auto | fp32 | bf16`: bfloat16 autocast where the hardware runs it natively.

"Natively" is what the hardware reports, not the machine's name: on a CPU, AMX's bf16 tiles
(`amx_bf16` in torch.cpu.get_capabilities(); matrix products about 6x float32's on the
project's Xeons); on a GPU, `torch.cuda.is_bf16_supported()`. AVX512_BF16 without AMX
(AMD EPYC Zen 4) only converts and dots pairs of bf16 values, so `auto` keeps float32 there
until a measurement says otherwise; forcing bf16 on a CPU with neither is emulated and
slower than float32, which gets a one-line warning.
"""

from __future__ import annotations

import sys

import torch


def cpu_bf16() -> str:
    """'amx' (fast), 'avx512' (converted in hardware, not faster) or 'emulated'."""
    caps = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    if caps.get("amx_bf16"):
        return "amx"
    return "avx512" if caps.get("avx512_bf16") else "emulated"


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_bf16() == "amx"


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
