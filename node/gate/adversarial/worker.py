"""Run registered cases in this process under an address-space limit; one JSON line per case on stdout.

`python -m node.gate.adversarial.worker --address-space BYTES NAME...`. Each case is built in its
own temporary folder, then its attempt is timed and its peak resident memory measured (the kernel's
high-water mark is reset before the attempt through /proc/self/clear_refs). A "start" line precedes
each case, so the parent can name the case that hung if this process never answers.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path


def resident_bytes(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def announce(message: dict) -> None:
    print(json.dumps(message), flush=True)


def run_one(case) -> dict:
    from node.refusal import Refused

    folder = Path(tempfile.mkdtemp(prefix=f"sn29-case-{case.name}-"))
    result = {"name": case.name}
    try:
        attempt = case.build(folder)
        announce({"attempt": case.name})  # the parent's clock for the time bound starts here
        reset_peak()
        baseline = resident_bytes("VmRSS")
        started = time.perf_counter()
        try:
            attempt()
            result["got"] = "accepted"
        except Refused as exc:
            result["got"], result["message"] = exc.kind.value, exc.message[:300]
        except MemoryError as exc:
            result["got"], result["message"] = "MemoryError", str(exc)[:300]
        except BaseException as exc:  # noqa: BLE001 - a generic escape is what this run looks for
            if isinstance(exc, KeyboardInterrupt):
                raise
            result["got"] = type(exc).__name__
            result["message"] = f"{str(exc)[:200]} | {traceback.format_exc(limit=3)[-400:]}"
        result["seconds"] = time.perf_counter() - started
        result["peak_bytes"] = max(0, resident_bytes("VmHWM") - baseline)
    except BaseException as exc:  # noqa: BLE001 - a builder failure is reported, not fatal to the batch
        if isinstance(exc, KeyboardInterrupt):
            raise
        result.update(got="build_error", message=f"{type(exc).__name__}: {str(exc)[:300]}", seconds=0.0,
                      peak_bytes=0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address-space", type=int, required=True, help="RLIMIT_AS for this process, in bytes")
    parser.add_argument("--controls", action="store_true", help="also load the control cases (harness checks)")
    parser.add_argument("names", nargs="+")
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (args.address_space, resource.RLIM_INFINITY))
    from .registry import all_cases

    cases = all_cases(include_controls=args.controls)
    for name in args.names:
        announce({"start": name})
        announce(run_one(cases[name]))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
