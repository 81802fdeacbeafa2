"""The file systems the benchmark runs on, and how each is made and removed.

  own    the work directory as it is, on the machine's own file system.
  ext4j  a journaled ext4 (mkfs.ext4 defaults: journal, data=ordered) in a
         sparse image file under the work directory, loop-mounted.
  xfs    the same with mkfs.xfs (xfsprogs is installed with apt-get if
         missing).

For each one the MTAs' instance directories live under `root`, and the
recipient's home directory is bind-mounted from `root`/home onto the home
directory the account has, so the Maildir is on the file system under test
too.  setup() raises FsUnavailable with the reason (no loop device, mkfs
missing, ...) so the caller can skip that file system with a clear message;
teardown() unmounts and removes everything setup() made, and
sweep_leftovers() removes what an interrupted earlier run left mounted under
the work directory.  Nothing outside the work directory is mounted on or
changed.
"""

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import trash
from mtas import log

# fs/ext4/ialloc.c: RECENTCY_MIN 60 s, + RECENTCY_DIRTY 300 s while the
# inode-table block is dirty; and a second to spare.
RECENTLY_DELETED_S = 361

KINDS = {
    "own": "the machine's own file system under the work directory",
    "ext4j": "journaled ext4 in a loop-mounted image file",
    "xfs": "XFS in a loop-mounted image file",
}


class FsUnavailable(Exception):
    """This file system cannot be made here; the message says why."""


def run(cmd, timeout=300):
    res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=timeout)
    if res.returncode != 0:
        raise FsUnavailable(f"{' '.join(cmd)} failed ({res.returncode}): "
                            f"{(res.stderr or res.stdout).strip()[-300:]}")
    return res.stdout


def mounts_under(path):
    """Mount points at or below path, deepest first."""
    out = []
    prefix = str(path).rstrip("/") + "/"
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        mp = line.split()[1].replace("\\040", " ")
        if mp == str(path) or mp.startswith(prefix):
            out.append(mp)
    return sorted(set(out), key=len, reverse=True)


def umount(mp):
    res = subprocess.run(["umount", mp], capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        # Busy (a process still in it): detach now, freed when it exits.
        log(f"umount {mp}: {res.stderr.strip()}; detaching it lazily")
        subprocess.run(["umount", "-l", mp], capture_output=True, timeout=60)


def sweep_leftovers(workdir, home):
    """Unmount whatever an interrupted run left mounted in the work
    directory, and remove what it set aside (trash.py) and the T attribute
    it gave (FileSystem.spread_new_dirs)."""
    for mp in mounts_under(Path(workdir)):
        log(f"unmounting {mp}, left by an earlier run")
        umount(mp)
    shutil.rmtree(Path(workdir) / "fs", ignore_errors=True)
    for d in (Path(workdir), Path(home)):
        if (d / trash.TRASH_NAME).exists():
            log(f"deleting {d / trash.TRASH_NAME}, left by an earlier run")
            shutil.rmtree(d / trash.TRASH_NAME, ignore_errors=True)
            trash.stamp_deletion(workdir)
    for d in (Path(workdir), Path(home)):
        if d == Path(workdir) or str(d).startswith(str(workdir).rstrip("/") + "/"):
            subprocess.run(["chattr", "-T", str(d)], capture_output=True, timeout=30)


def describe_mount(path):
    """'SOURCE TYPE OPTIONS [journal: yes/no]' of the mount holding path."""
    try:
        out = subprocess.run(["findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--target", str(path)],
                             capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    if len(out) < 3:
        return "?"
    src, kind, options = out[0], out[1], out[2]
    text = f"{src} {kind} {options}"
    if kind == "ext4" and src.startswith("/dev/"):
        # The kernel keeps /proc/fs/jbd2/DEV-N for every mounted journal.
        dev = Path(os.path.realpath(src)).name
        journal = any(p.name.startswith(dev + "-") for p in Path("/proc/fs/jbd2").glob("*"))
        text += f"; journal: {'yes' if journal else 'NO'}"
    return text


class FileSystem:
    def __init__(self, kind, workdir, home, size_mib):
        self.kind = kind
        self.workdir = Path(workdir)
        self.home = Path(home)          # the recipient's home, as in passwd
        self.size_mib = size_mib
        self.image = self.workdir / "fs" / f"{kind}.img"
        self.mnt = self.workdir / "fs" / kind
        self.root = self.workdir if kind == "own" else self.mnt
        self.mounted = []               # mount points to undo, in order made
        self.detail = KINDS[kind]
        # ext4 without a journal avoids recently deleted inodes (trash.py)
        self.avoids_recent_deletions = False
        self.topdirs = []               # directories given the T attribute here

    def setup(self, user):
        if self.kind == "own":
            mount = describe_mount(self.workdir)
            self.detail = f"{KINDS['own']}: {mount}"
            self.avoids_recent_deletions = " ext4 " in f" {mount} " and "journal: NO" in mount
            if self.avoids_recent_deletions:
                self.wait_after_deletion()
                self.spread_new_dirs()
            return
        if not str(self.home).startswith(str(self.workdir) + "/"):
            # A bind mount over a home outside the work directory would
            # change it for whoever else uses that account.
            raise FsUnavailable(f"the recipient's home {self.home} is not under the work "
                                f"directory {self.workdir}; choose another --user")
        mkfs = {"ext4j": "mkfs.ext4", "xfs": "mkfs.xfs"}[self.kind]
        if not shutil.which(mkfs) and self.kind == "xfs":
            log("mkfs.xfs missing: installing xfsprogs with apt-get")
            subprocess.run(["apt-get", "install", "-y", "-qq", "xfsprogs"],
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
        if not shutil.which(mkfs):
            raise FsUnavailable(f"{mkfs} is not installed")
        if not Path("/dev/loop-control").exists() and not Path("/dev/loop0").exists():
            raise FsUnavailable("no loop devices here (/dev/loop-control is missing)")
        self.image.parent.mkdir(parents=True, exist_ok=True)
        self.image.unlink(missing_ok=True)
        with open(self.image, "wb") as f:
            f.truncate(self.size_mib * 2**20)   # sparse
        if self.kind == "ext4j":
            # Inode tables and journal written now, not by a kernel thread
            # (ext4lazyinit) during the measurements; one inode per 8 KiB so
            # a 100,000-message backlog (queue file + Maildir file each) fits.
            run(["mkfs.ext4", "-q", "-F", "-i", "8192", "-E",
                 "lazy_itable_init=0,lazy_journal_init=0", str(self.image)])
        else:
            run(["mkfs.xfs", "-q", "-f", str(self.image)])
        self.mnt.mkdir(parents=True, exist_ok=True)
        try:
            run(["mount", "-o", "loop", str(self.image), str(self.mnt)], timeout=60)
        except FsUnavailable as e:
            raise FsUnavailable(f"cannot loop-mount the image (loop devices unavailable?): {e}")
        self.mounted.append(str(self.mnt))
        self.mnt.chmod(0o755)
        pw = pwd.getpwnam(user)
        home = self.mnt / "home"
        home.mkdir(mode=0o755)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        self.home.mkdir(parents=True, exist_ok=True)
        run(["mount", "--bind", str(home), str(self.home)], timeout=60)
        self.mounted.append(str(self.home))
        self.detail = f"{KINDS[self.kind]}: {describe_mount(self.mnt)}, {self.size_mib} MiB image"

    def is_image(self):
        return self.kind != "own"

    def wait_after_deletion(self):
        """A run made right after a mass deletion here (the end of an
        earlier invocation, or its leftovers swept at this one's start)
        would get its directories in the block groups just emptied, among
        inodes the kernel avoids for 60 s, or 360 s while their inode-table
        block is dirty (trash.py): wait until that has passed."""
        since = trash.seconds_since_deletion(self.workdir)
        if since is not None and 0 <= since < RECENTLY_DELETED_S:
            rest = RECENTLY_DELETED_S - since
            log(f"{self.kind}: files were deleted here {since:.0f} s ago; waiting {rest:.0f} s "
                f"until ext4 without a journal stops avoiding their inodes")
            time.sleep(rest)

    def spread_new_dirs(self):
        """Give the directories under which each run makes its fresh
        instance and Maildir ext4's T attribute ("top of a directory
        hierarchy"): ext4 places a directory made in one in the flex group
        with the fewest directories among those with at least average free
        space (Orlov), rather than beside its parent, and the files made in
        it follow.  So a run's files are not allocated among the inodes the
        run before it deleted (Postfix deletes a queue file per message,
        and without this the run after it paid for that: trash.py).  Only
        directories under the work directory are marked, and the mark is
        taken off again at teardown."""
        for d in (self.workdir, self.home):
            if d != self.workdir and not str(d).startswith(str(self.workdir) + "/"):
                log(f"{d} is outside the work directory: not marked, so runs' Maildirs "
                    f"may share block groups with the inodes earlier runs deleted")
                continue
            res = subprocess.run(["chattr", "+T", str(d)], capture_output=True, text=True,
                                 timeout=30)
            if res.returncode != 0:
                log(f"chattr +T {d}: {res.stderr.strip()}; runs' new directories are not spread")
                continue
            self.topdirs.append(d)
        if self.topdirs:
            self.detail += f"; new directories spread over block groups (chattr +T on " \
                           f"{', '.join(str(d) for d in self.topdirs)}, until the end)"

    def teardown(self):
        for d in self.topdirs:
            subprocess.run(["chattr", "-T", str(d)], capture_output=True, timeout=30)
        self.topdirs = []
        for mp in reversed(self.mounted):
            umount(mp)
        self.mounted = []
        if self.kind != "own":
            self.image.unlink(missing_ok=True)
            try:
                self.mnt.rmdir()
            except OSError:
                pass
