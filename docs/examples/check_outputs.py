"""Check that the outputs shown in README.md and docs/*.md are what the code prints today.

    python docs/examples/check_outputs.py                  # every page
    python docs/examples/check_outputs.py docs/tutorial.md  # some pages

Every ```console block whose first command is `python -m verification ...` or
`python -m reference ...` is run again, from a scratch folder that holds this folder's example
files (my_backprop.py, my_network.py, kinds.py, hostile.py, zoo.py) beside links to the
repository's examples/, reference/ and verification/. Each line the page shows must then appear
in the real output, in the same order; `...` in a page stands for lines left out. Timings
(`in 4.7 s (42.3 cases/s)`) and the folders of absolute paths are not compared. A block is
skipped when the line before it is `<!-- output not checked: REASON -->` (a cluster, files made
by an earlier command, a changed copy of a file).

It prints one line per block and, for a block that differs, the first line not found. Exit
status: 0 when every block checked matches, 1 otherwise. Each block runs one command at a time,
serially: the whole site takes a few minutes on one core.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CHECKED = ("python -m verification", "python -m reference")
SKIP = re.compile(r"<!-- output not checked: .+ -->")
TIMEOUT = 600  # seconds per command: the slowest shown (JAX adapters) take about 40

_NORMALISE = [
    (re.compile(r" in [0-9.]+ s \([0-9.e+]+ cases/s\)"), " in <time>"),
    (re.compile(r"[0-9]+ cases/s"), "<rate> cases/s"),
    (re.compile(r"/\S*/([\w.-]+\.py)"), r"<folder>/\1"),  # absolute paths, as in tracebacks
]


@dataclass
class Block:
    page: Path
    line: int  # where the block starts in the page, 1-based
    command: str
    shown: list[str]


def _normalised(line: str) -> str:
    for pattern, replacement in _NORMALISE:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def blocks_of(page: Path) -> tuple[list[Block], int]:
    """The checked console blocks of a page, and how many were skipped by their marker."""
    lines = page.read_text().splitlines()
    found, skipped = [], 0
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        start = i
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        body = lines[i + 1 : end]
        i = end + 1
        if not body or not body[0].startswith("$ "):
            continue
        command = body[0][2:]
        if not command.startswith(CHECKED):
            continue
        if start > 0 and SKIP.fullmatch(lines[start - 1].strip()):
            skipped += 1
            continue
        if any(line.startswith("$ ") for line in body[1:]):
            raise ValueError(f"{page}:{start + 1}: one command per checked block")
        found.append(Block(page, start + 1, command, body[1:]))
    return found, skipped


def _scratch() -> Path:
    """A folder with the example files, and links to the repository's packages and examples."""
    folder = Path(tempfile.mkdtemp(prefix="check-outputs-"))
    for name in ("examples", "reference", "verification"):
        (folder / name).symlink_to(ROOT / name)
    for example in HERE.glob("*.py"):
        if example.name != Path(__file__).name:
            shutil.copy(example, folder / example.name)
    return folder


def run(block: Block, folder: Path) -> list[str]:
    """The block's command, run in the scratch folder; stdout and stderr together."""
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    command = block.command.replace("python ", f"{sys.executable} ", 1)
    result = subprocess.run(
        command,
        shell=True,
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
    )
    return result.stdout.splitlines()


def first_missing(shown: list[str], got: list[str]) -> str | None:
    """The first shown line (other than `...`) not found in `got` after the one before it."""
    position = 0
    real = [_normalised(line) for line in got]
    for line in shown:
        if line.strip() == "...":
            continue
        wanted = _normalised(line)
        try:
            position = real.index(wanted, position) + 1
        except ValueError:
            return line
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages", nargs="*", type=Path, help="pages to check (default: all)")
    pages = [p.resolve() for p in parser.parse_args(argv).pages] or PAGES
    folder = _scratch()
    failed = 0
    try:
        for page in pages:
            blocks, skipped = blocks_of(page)
            name = page.relative_to(ROOT)
            if skipped:
                print(f"{name}: {skipped} blocks not checked (marked)")
            for block in blocks:
                missing = first_missing(block.shown, run(block, folder))
                where = f"{name}:{block.line}"
                if missing is None:
                    print(f"ok       {where}  $ {block.command}")
                else:
                    failed += 1
                    print(f"DIFFERS  {where}  $ {block.command}\n         not found: {missing}")
    finally:
        shutil.rmtree(folder)
    print(f"{failed} blocks differ" if failed else "every block checked matches")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
