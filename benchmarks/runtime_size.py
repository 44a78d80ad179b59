"""Disk size of a fresh runtime venv: ``pip install -e ".[onnx,video,dicom]"`` (the README's line).

Builds the venv in a temporary folder, installs the repo with the extras, and reports its size as
``du`` counts it (allocated blocks), per installed distribution (files from its RECORD, compiled
``.pyc`` included), and without the venv's own tooling (pip, setuptools). The folder is deleted
afterwards unless ``--keep``. Needs only the package index (pip's cache makes it quick).

    python benchmarks/runtime_size.py                    # this checkout, onnx,video,dicom
    python benchmarks/runtime_size.py --repo ../old-checkout --json before.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLING = ("pip", "setuptools")
_RECORDS = """
import json, sys
from importlib.metadata import distributions
json.dump({d.metadata["Name"]: [str(d.locate_file(f)) for f in d.files or []] for d in distributions()}, sys.stdout)
"""


def disk_bytes(path: Path) -> int:
    """Allocated bytes of a file, or of everything under a folder (as ``du -s``)."""
    if path.is_symlink() or path.is_file():
        return path.lstat().st_blocks * 512
    total = path.lstat().st_blocks * 512
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            total += Path(root, name).lstat().st_blocks * 512
    return total


def measure(venv: Path) -> dict:
    """Sizes (MB) of ``venv``: the total, each distribution, the tooling and the compiled bytecode."""
    py = venv / "bin" / "python"
    records = json.loads(
        subprocess.run([str(py), "-c", _RECORDS], check=True, capture_output=True, text=True).stdout
    )
    seen: set[Path] = set()
    per: dict[str, int] = {}
    for name, files in records.items():
        paths = {Path(f) for f in files} - seen
        seen |= paths
        per[name] = sum(p.lstat().st_blocks * 512 for p in paths if p.is_file() and not p.is_symlink())
    pyc = sum(p.lstat().st_blocks * 512 for p in venv.rglob("*.pyc"))
    total = disk_bytes(venv)
    mb = 1024 * 1024
    tooling = sum(v for k, v in per.items() if k.lower() in TOOLING)
    return {
        "total_mb": round(total / mb, 1),
        "without_tooling_mb": round((total - tooling) / mb, 1),
        "pyc_mb": round(pyc / mb, 1),
        "packages_mb": {k: round(v / mb, 1) for k, v in sorted(per.items(), key=lambda kv: -kv[1])},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=REPO, help="checkout to install (default: this one)")
    ap.add_argument("--extras", default="onnx,video,dicom")
    ap.add_argument("--python", default=sys.executable, help="interpreter that makes the venv")
    ap.add_argument("--keep", type=Path, help="build the venv here and keep it")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args(argv)
    venv = args.keep or Path(tempfile.mkdtemp(prefix="rtecho-size-")) / "venv"
    try:
        subprocess.run([args.python, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-e", f"{args.repo.resolve()}[{args.extras}]"], check=True)
        figures = {"repo": str(args.repo), "extras": args.extras, **measure(venv)}
    finally:
        if args.keep is None:
            shutil.rmtree(venv.parent, ignore_errors=True)
    print(
        f"fresh venv [{args.extras}]: {figures['total_mb']} MB ({figures['without_tooling_mb']} MB without pip/setuptools; "
        f"{figures['pyc_mb']} MB of it compiled bytecode)"
    )
    for name, size in figures["packages_mb"].items():
        if size >= 0.5:
            print(f"  {size:7.1f} MB  {name}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
