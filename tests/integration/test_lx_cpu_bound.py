"""An expansion's CPU bound (deliver/local_expand.c, LX_CPU_MAX_MS): an
:include: path walked through many symlinks costs the kernel far more than
the LX_OPEN_COST units it is charged, and spellings that differ by
"DIR/../" (not only "//" or "/./", which are one spelling) are each
opened.  A thousand such spellings of one file, ~5 ms each, are ~23,000
units (2% of LX_WORK_MAX) but ~5 s of CPU: the recipient defers 4.6.0
after LX_CPU_MAX_MS (2 s) instead.  Asserted on the outcome and on
deliver's CPU from /proc, never on the wall clock."""

import shutil
import sys
import pwd
from pathlib import Path

from test_review_lx import user_files
from test_review_lx2 import SYMLINKS, outcome_and_cpu, user_dir
from test_virtual import T1

SPELLINGS = 1024


def dotted_spelling(d, i):
    """Spelling i of d/l/.../l/e: before the symlinks, "a/../" or
    "b/../" by the bits of i, so every spelling is distinct and none is
    another's up to "//" and "/./"."""
    pre = "".join("a/../" if i >> b & 1 else "b/../" for b in range(10))
    return f"{d}/{pre}" + "/".join(["l"] * SYMLINKS + ["e"])


def test_symlink_walks_defer_at_cpu_bound(make_instance):
    inst = make_instance()
    pw = pwd.getpwnam(T1)
    home = Path(pw.pw_dir)
    d = user_dir(pw, home / "lx-cpu-walk")
    out = user_dir(pw, Path("/tmp/lx-cpu-box"))
    fwd = home / ".forward"
    try:
        for sub in ("a", "b"):
            (d / sub).mkdir()
            (d / sub).chmod(0o755)
        # l -> a/../a/../...: 819 round trips, 4 KiB, per symlink
        (d / "l").symlink_to(("a/../" * 819)[:-1])
        spell = [dotted_spelling(d, i) for i in range(SPELLINGS)]
        assert len(set(spell)) == SPELLINGS
        # four lists of 256 (an include file is at most 64 KiB)
        lists = {d / f"list{k}": "".join(f":include:{s}\n"
                                         for s in spell[k::4])
                 for k in range(4)}
        lists[d / "e"] = f"{out}/box\n"
        lists[fwd] = "".join(f":include:{d}/list{k}\n" for k in range(4))
        user_files(pw, lists)
        m, spent = outcome_and_cpu(inst, "lx-cpu")
        print(f"\nLX CPU bound: {SPELLINGS} symlinked spellings: "
              f"{spent:.2f} s CPU ({m.group(0)})", file=sys.stderr)
        assert m.group(1) == "4.6.0" and m.group(2) == "deferred", \
            m.group(0)
        assert "too much CPU time" in m.group(3), m.group(0)
        # the bound is 2 s of the expanding thread; room for the rest
        assert spent < 4.0, f"{spent:.2f} s of CPU"
    finally:
        fwd.unlink(missing_ok=True)
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(out, ignore_errors=True)
