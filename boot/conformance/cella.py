"""wasi-testsuite runtime adapter for Cella: turns a test's arguments, environment and
preopened directory into a `./qemu.sh` command line, as the suite's wasmtime adapter does for
`wasmtime run`. Used by boot/conformance/run.sh."""
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

QEMU_SH = os.getenv("CELLA_QEMU_SH", str(Path(__file__).resolve().parents[2] / "qemu.sh"))
# Extra runner options, e.g. CELLA_OPTIONS=--uefi.
OPTIONS = os.getenv("CELLA_OPTIONS", "").split()


def get_name() -> str:
    return "cella"


def get_version() -> str:
    return "0.1.0"


def get_timeout_seconds() -> float:
    # Each test boots an OS under software emulation: about 2 s with BIOS and 5 s with UEFI,
    # against the runner's default of 5 s for a hosted runtime.
    return 120.0


def get_wasi_versions() -> List[str]:
    return ["wasm32-wasip1"]


def get_wasi_worlds() -> List[str]:
    return ["wasi:cli/command"]


def compute_argv(test_path: str,
                 args_env_root: Tuple[List[str], Dict[str, str], Optional[str]],
                 proposals: List[str],
                 wasi_world: str,
                 wasi_version: str) -> List[str]:
    args, env, root = args_env_root
    argv = [QEMU_SH, "--timeout", "120"] + OPTIONS
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    if root:
        argv += ["--dir", f"{root}::/"]
    return argv + [test_path] + args
