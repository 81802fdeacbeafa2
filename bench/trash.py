"""What a measurement leaves behind is set aside, and deleted between
measurements, never just before one.

Each run starts on a fresh instance with an empty Maildir, so the previous
run's files (thousands of Maildir files and queue files) must go.  Deleting
them right before the next measurement makes that measurement pay for them:
on an ext4 without a journal the inode allocator skips every inode deleted
within the last dirty_expire_centisecs (+5 s), checking each one
(fs/ext4/ialloc.c, recently_deleted()), so the next run's Maildir creates
cost far more (perf: recently_deleted() at 9 % of all samples, MTA CPU per
message 1.37 -> 2.03 ms from the first repetition to the next); with a
journal the deletion's own journal and write-back work lands in the next
run instead.  Either way the figure would follow what the harness did,
not the MTA.

set_aside(path) renames a tree into a `.bench-trash` directory beside it
(same file system, one rename); empty() deletes every trash directory and
syncs.  The bench empties the trash where a pause costs no figure, and on
a file system that avoids recently deleted inodes it lets
recently_deleted_window() pass before each run: after its own deletions,
and after the previous run's (Postfix deletes a queue file per message, so
without the pause the run after Postfix's paid for them: tern 1.03 ms of
CPU per message after a run of its own, 1.77 ms right after Postfix's).
"""

import os
import shutil
import time
from pathlib import Path

TRASH_NAME = ".bench-trash"
_trash_dirs = set()


def set_aside(path):
    """Move path (a file or tree) out of the way; delete it if it cannot be
    moved (another file system)."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    trash = path.parent / TRASH_NAME
    try:
        trash.mkdir(mode=0o700, exist_ok=True)
        os.rename(path, trash / f"{path.name}.{time.monotonic_ns()}")
        _trash_dirs.add(trash)
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def recently_deleted_window():
    """Seconds for which ext4 without a journal avoids a deleted inode."""
    try:
        centis = int(Path("/proc/sys/vm/dirty_expire_centisecs").read_text())
    except (OSError, ValueError):
        centis = 3000
    return centis / 100 + 5 + 1


def empty():
    """Delete everything set aside and sync.  Returns what was done, for
    the log, or None if there was nothing to delete."""
    if not _trash_dirs:
        return None
    t0 = time.monotonic()
    for trash in sorted(_trash_dirs):
        shutil.rmtree(trash, ignore_errors=True)
    _trash_dirs.clear()
    os.sync()
    return f"deleted what earlier runs left ({time.monotonic() - t0:.1f} s)"
