"""One run per folder: a lock file in the run folder holds the PID and host of the run that
writes there. Two runs with one --name would otherwise interleave their checkpoints and
loss logs (latest.npz of one, loss_log.jsonl of the other).

The lock is created with O_EXCL (atomic: of two starting runs, one wins). A lock whose
process is gone (killed, crashed, the machine rebooted) is taken over with a note; a lock
held by a live process, or by another host (whose processes we cannot see), is refused.
"""
import json
import os
import socket
from pathlib import Path

LOCK_NAME = "run.lock"


class RunLockedError(RuntimeError):
    """Another live run writes to this folder."""


def _alive(pid):
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _holder(path):
    """(pid, host) written in the lock file, or None when it is unreadable."""
    try:
        held = json.loads(path.read_text())
        return int(held["pid"]), str(held["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def acquire_run_lock(run_dir):
    """Take run_dir's lock for this process. Returns a note (a dead run's lock taken over)
    or None; raises RunLockedError naming the live holder and what to do."""
    path = Path(run_dir) / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    note = None
    for _ in range(2):  # a second try after removing a stale lock
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder and holder[1] != me["host"]:
                raise RunLockedError(
                    f"{run_dir} is in use by PID {holder[0]} on host {holder[1]} ({path}); "
                    f"if that run is gone, delete {path}, or choose another --name") from None
            if holder and _alive(holder[0]) and holder[0] != me["pid"]:
                raise RunLockedError(
                    f"{run_dir} is in use by a live run (PID {holder[0]}); wait for it, stop "
                    "it, or choose another --name") from None
            note = (f"note: took over {path} from a run that is no longer alive "
                    f"(PID {holder[0]})" if holder else f"note: replaced the unreadable {path}")
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return note
    raise RunLockedError(f"{run_dir}: another run took the lock at the same moment; try again")


def release_run_lock(run_dir):
    """Remove the lock if this process holds it."""
    path = Path(run_dir) / LOCK_NAME
    holder = _holder(path)
    if holder and holder[0] == os.getpid():
        path.unlink(missing_ok=True)
