"""Stage fetch: the four raw MNIST files into data/raw/.

`fetch.source: download` tries each mirror in `fetch.mirrors` in turn, checks every file
against its official md5 and never leaves a partial file. Any other value is a local
folder holding the four files, copied as they are (parse validates their structure).

    python -m recipes.fetch [OUT_DIR]
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from recipes import config, paths
from recipes.atomic import atomic_dir
from recipes.errors import UserError, run

# The official md5 of each gzip file, as LeCun published them and torchvision checks them.
FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
ATTEMPTS = 3  # per mirror and file, with a growing pause between them


def md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_one(name: str, mirrors: list[str], dest: Path, timeout: float = 60) -> None:
    """Download `name` into `dest` from the first mirror that serves it with the right md5."""
    problems = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        for attempt in range(ATTEMPTS):
            try:
                _get(url, dest, timeout)
            except (urllib.error.URLError, OSError) as e:
                problems.append(f"{url}: {getattr(e, 'reason', e)}")
                if isinstance(e, urllib.error.HTTPError) and e.code == 404:
                    break  # that mirror lacks the file: no point asking again
                time.sleep(min(2**attempt, 10) * 0.5)
                continue
            got = md5(dest)
            if got == FILES[name]:
                return
            problems.append(f"{url}: md5 {got}, expected {FILES[name]}")
            break  # a mirror that serves wrong bytes will serve them again
    dest.unlink(missing_ok=True)
    raise UserError(f"{name}: no mirror gave a good copy ({'; '.join(problems[-3:])})")


def _get(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as r, open(dest, "wb") as f:
        total = int(r.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, file=sys.stderr,
                  disable=None, leave=False) as bar:
            for block in iter(lambda: r.read(1 << 16), b""):
                f.write(block)
                bar.update(len(block))


def copy_local(folder: Path, dest: Path) -> None:
    if not folder.is_dir():
        raise UserError(f"fetch.source: {folder} is neither `download` nor a folder")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise UserError(f"fetch.source: {folder / missing[0]} is missing")
    for name, official in FILES.items():
        src = folder / name
        shutil.copyfile(src, dest / name)
        if md5(dest / name) != official:
            print(f"notice: {src} differs from the official file (md5); "
                  "parse still checks its structure", file=sys.stderr)


def fetch(source: str, mirrors: list[str], out: Path) -> None:
    with atomic_dir(out) as tmp:
        if source == "download":
            if not mirrors:
                raise UserError("fetch.mirrors: empty; give at least one mirror URL")
            for name in FILES:
                download_one(name, mirrors, tmp / name)
        else:
            copy_local(Path(source).expanduser(), tmp)


def main() -> None:
    cfg = config.load().fetch
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else paths.RAW
    source = cfg.source
    fetch(source, list(cfg.mirrors), out)
    print(f"fetch: {len(FILES)} files in {out} from {source}", file=sys.stderr)


if __name__ == "__main__":
    run(main)
