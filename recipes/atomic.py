"""Write outputs so that a reader never sees half a file: temporary name, then rename.

The temporary is `.<name>.<pid>-<random>.tmp` beside the target. A writer killed outright
(SIGKILL, power cut) cannot remove its own; the next write to the same target does, once
that pid is no longer running and the file has been left alone a minute, so a live
concurrent writer's temporary is never touched.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)

# a dead pid's temporary must also be untouched this long: a writer in another pid namespace
# (a container sharing the checkout) can look dead from here while it is still writing
_DEAD_PID_AGE_S = 60
# temporaries of earlier versions carry no pid (mkstemp's 8 random characters): removed only
# when this old, so that a long write of a still-running old version survives
_NO_PID_AGE_S = 3600
_WITH_PID = re.compile(r"(\d+)-[a-z0-9_]{8}")
_WITHOUT_PID = re.compile(r"[a-z0-9_]{8}")


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    except (OverflowError, ValueError):
        return False  # no such pid can exist
    return True


def _age(entry: os.DirEntry) -> float:
    return time.time() - entry.stat(follow_symlinks=False).st_mtime


def _stale(entry: os.DirEntry, middle: str) -> bool:
    """Is `entry`, named `.<name>.<middle>.tmp`, a dead writer's temporary?"""
    m = _WITH_PID.fullmatch(middle)
    if m:
        return _age(entry) > _DEAD_PID_AGE_S and not _pid_running(int(m.group(1)))
    if _WITHOUT_PID.fullmatch(middle):
        return _age(entry) > _NO_PID_AGE_S
    return False  # not ours: e.g. the temporary of a target named `<name>.<something>`


def remove_stale(path: Path) -> None:
    """Remove the temporaries that dead writers left beside `path` (never a live one's)."""
    prefix = f".{path.name}."
    with contextlib.suppress(OSError), os.scandir(path.parent) as entries:
        for entry in entries:
            if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
                continue
            with contextlib.suppress(OSError):  # another writer may be cleaning it too
                if _stale(entry, entry.name[len(prefix) : -len(".tmp")]):
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)


def _prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it is renamed onto `path`.

    On an exception the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_prefix(path), suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yield a temporary directory beside `path`; on success it replaces `path` whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=_prefix(path), suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_UMASK)
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
