"""Atomic writes: a writer killed outright leaves a temporary; the next write removes it,
never a live writer's."""

import os
import signal
import subprocess
import sys
import time

from conftest import ROOT
from recipes.atomic import atomic_dir, atomic_path, write_text

WRITER = """
import sys, time
from recipes.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    tmp.write_text("half")
    print(tmp, flush=True)
    time.sleep(60)
"""


def _age(path, seconds=7200):
    """Pretend `path` was last touched `seconds` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid is free (a zombie would still look alive)
    return proc.pid


def test_sigkilled_writer_temporary_removed_by_next_write(tmp_path):
    target = tmp_path / "out.csv"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    tmp = tmp_path / os.path.basename(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert tmp.name.startswith(f".out.csv.{proc.pid}-") and tmp.exists()
    write_text(target, "new")
    assert tmp.exists()  # a minute's grace: a writer in another pid namespace looks dead too
    _age(tmp, 120)
    write_text(target, "whole")
    assert not tmp.exists() and target.read_text() == "whole"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_live_and_foreign_temporaries_are_kept(tmp_path):
    target = tmp_path / "t.parquet"
    live = tmp_path / f".t.parquet.{os.getpid()}-abcd1234.tmp"  # this very process: alive
    other_target = tmp_path / f".t.parquet.b.{_dead_pid()}-abcd1234.tmp"  # of t.parquet.b
    not_ours = tmp_path / ".t.parquet.notes.tmp"
    old_style_fresh = tmp_path / ".t.parquet.k3j_9x0q.tmp"  # an old version's, maybe writing
    for p in (live, other_target, not_ours, old_style_fresh):
        p.write_text("x")
    for p in (live, other_target, not_ours):
        _age(p)
    with atomic_path(target) as tmp:
        tmp.write_text("data")
    for p in (live, other_target, not_ours, old_style_fresh):
        assert p.exists(), p.name


def test_dead_writers_files_and_dirs_removed(tmp_path):
    target = tmp_path / "model"
    dead_dir = tmp_path / f".model.{_dead_pid()}-zz_00000.tmp"
    (dead_dir / "sub").mkdir(parents=True)
    (dead_dir / "sub" / "w.pt").write_text("x")
    old_style = tmp_path / ".model.q1w2e3r4.tmp"  # no pid: an hour old is stale
    old_style.write_text("x")
    for p in (dead_dir, old_style):
        _age(p)
    with atomic_dir(target) as tmp:
        (tmp / "a").write_text("a")
    assert not dead_dir.exists() and not old_style.exists()
    assert (target / "a").read_text() == "a"
