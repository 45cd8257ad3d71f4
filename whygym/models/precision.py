"""Whether bf16 is worth using on this machine, decided in one place.

On a CPU with native bf16 arithmetic (Intel AMX or AVX512-BF16) bf16 weights or autocast are several times
faster than fp32. On a CPU without it (e.g. AMD EPYC with AVX2 only, ``torch.backends.cpu.get_cpu_capability()
== "AVX2"``) torch emulates bf16 and a 2048x2048 product is over a thousand times slower than in fp32
(measured on such a machine: fp32 ~128 GFLOP/s; bf16 had not finished 12 products in 15 minutes). Every bf16
path of whygym (``--bf16`` of eval and attribute, ``dtype="bfloat16"`` weights, the benches) asks
:func:`use_bf16`, which falls back to fp32 with a one-line warning there. ``WHYGYM_BF16=force`` keeps bf16
anyway (for bf16 numerics on purpose), ``WHYGYM_BF16=off`` never uses it.

>>> use_bf16(False, "eval")
False
"""

from __future__ import annotations

import functools
import os
import warnings

__all__ = ["native_bf16", "use_bf16", "BF16_ENV"]

BF16_ENV = "WHYGYM_BF16"
_WARNED: set[str] = set()


@functools.lru_cache(maxsize=1)
def _cpu_native_bf16() -> tuple[bool, str]:
    """(has native bf16, a short description of the CPU's kernels) for this process."""
    import torch

    cap = torch.backends.cpu.get_cpu_capability()
    checks = [getattr(torch.cpu, n, None) for n in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")]
    if all(c is None for c in checks):  # an older torch: read the CPU flags
        try:
            with open("/proc/cpuinfo") as f:
                flags = f.read()
            return ("amx_bf16" in flags or "avx512_bf16" in flags), cap
        except OSError:
            return False, cap
    return any(bool(c()) for c in checks if c is not None), cap


def native_bf16(device: str = "cpu") -> bool:
    """True when bf16 arithmetic runs natively on ``device`` (a CUDA GPU that supports it, or a CPU with
    AMX or AVX512-BF16)."""
    if str(device).startswith("cuda"):
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return _cpu_native_bf16()[0]


def use_bf16(requested: bool, where: str, device: str = "cpu") -> bool:
    """Whether a path that was asked for bf16 (``requested``) should use it.

    True only when requested and either the device has native bf16 or ``WHYGYM_BF16=force``; a request that
    is turned down warns once per ``where`` (RuntimeWarning) and the caller runs fp32. ``WHYGYM_BF16`` set to
    anything but ``force``, ``off`` or empty is an error.
    """
    mode = os.environ.get(BF16_ENV, "").strip().lower()
    if mode not in ("", "force", "off"):
        raise ValueError(f"{BF16_ENV}={os.environ[BF16_ENV]!r}: use 'force' (keep bf16 even where it is "
                         "emulated), 'off' (never bf16) or leave it unset")
    if not requested or mode == "off":
        return False
    if mode == "force" or native_bf16(device):
        return True
    if where not in _WARNED:
        _WARNED.add(where)
        cap = _cpu_native_bf16()[1]
        warnings.warn(f"{where}: bf16 requested, but this CPU ({cap}) has no native bf16 (AMX or AVX512-BF16) "
                      f"and emulated bf16 is ~1000x slower: running fp32 ({BF16_ENV}=force keeps bf16)",
                      RuntimeWarning, stacklevel=2)
    return False
