"""What a measurement leaves behind is set aside, not deleted under the
next measurement.

Each run starts on a fresh instance with an empty Maildir, so the previous
run's files (thousands of Maildir files and queue files) must go.  Deleting
them right before the next run makes that run pay for them.  With a
journal, the deletion's journal and write-back work lands in it.  Without
one (ext4 on this machine's own disk), the inode allocator skips every
inode deleted in the last minute, or six while its inode-table block is
dirty, checking each one (recently_deleted() in the kernel's
fs/ext4/ialloc.c), so the next run's file creations cost far more: perf
showed recently_deleted() at 9 % of all samples and tern's CPU per message
went from 1.0 to 1.8-2.0 ms.  The figure then follows what the harness (or
the MTA measured before) did, not the MTA under test.

set_aside(path) renames a tree into a `.bench-trash` directory beside it
(one rename, on the same mount); empty(root) deletes every trash directory
and syncs that file system, and leaves the time in WORKDIR/.bench-deleted-at
for a later invocation; forget() drops the list when the file system
itself is about to be removed.  When the bench empties the trash, and how
it keeps the deletions of a run's own MTA from reaching the next run, is
in bench.py (Bench.between_runs) and fs.py (spread_new_dirs).
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

TRASH_NAME = ".bench-trash"
_trash_dirs = set()


def set_aside(path):
    """Move path (a file or tree) out of the way; delete it if it cannot be
    moved (a mount point, or no room for the trash directory)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    trash = path.parent / TRASH_NAME
    try:
        trash.mkdir(mode=0o700, exist_ok=True)
        _trash_dirs.add(trash)
        os.rename(path, trash / f"{path.name}.{time.monotonic_ns()}")
    except OSError as e:
        print(f"bench: cannot set {path} aside ({e}); deleting it now", flush=True)
        shutil.rmtree(path, ignore_errors=True)


def empty(root, also_sync=()):
    """Delete everything set aside, then sync the file system holding root
    (only that one: syncfs) and any other paths in also_sync (a loop
    image's backing file, whose pages would otherwise be written back
    during the next run).  Returns what was done, for the log."""
    t0 = time.monotonic()
    n = len(_trash_dirs)
    for trash in sorted(_trash_dirs):
        shutil.rmtree(trash, ignore_errors=True)
    _trash_dirs.clear()
    for path in (root, *also_sync):
        try:
            subprocess.run(["sync", "-f", str(path)], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"sync -f {path} failed: {e}"
    if n:
        stamp_deletion(root)
    return f"deleted what earlier runs left ({time.monotonic() - t0:.1f} s)" if n else None


STAMP = ".bench-deleted-at"


def stamp_deletion(workdir):
    """Remember when files were last deleted under workdir: a later
    invocation on ext4 without a journal waits for that window
    (wait_after_deletion), since a fresh directory would be placed in the
    block groups just emptied."""
    try:
        (Path(workdir) / STAMP).write_text(f"{time.time():.0f}\n")
    except OSError:
        pass


def seconds_since_deletion(workdir):
    try:
        return time.time() - float((Path(workdir) / STAMP).read_text())
    except (OSError, ValueError):
        return None


def forget():
    """The file system is about to be removed with everything on it."""
    _trash_dirs.clear()
