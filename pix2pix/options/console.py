"""How every command ends at the terminal: a Ctrl-C that stops it without saving exits 130
(as a shell reports a SIGINT) with one line, and a closed pipe (``python train.py | head``)
ends it quietly, never with a traceback."""
import functools
import os
import sys

from pix2pix.data.images import DataError
from pix2pix.files.checkpoint import CheckpointError, disk_error_message
from pix2pix.options.common import out_of_memory_message


def command(main):
    """Wrap a command's main(argv) -> exit code."""
    @functools.wraps(main)
    def run(argv=None):
        try:
            return main(argv)
        except KeyboardInterrupt:
            print("\ninterrupted: stopped without saving (the last checkpoint, if any, is "
                  "intact)", file=sys.stderr, flush=True)
            return 130
        except BrokenPipeError:
            # The reader has gone: point stdout at /dev/null, so that Python's own flush at
            # exit does not report the same broken pipe again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141  # 128 + SIGPIPE, what a shell shows for a process killed by it
    return run


def answer_errors(work, opt, disk_path, disk_advice, also=()):
    """Run work() -> exit code; the errors a user can fix end it with one line on stderr and
    exit code 2: bad data or checkpoints, a refused option (RuntimeError and the types in
    ``also``), memory (CuPy's OutOfMemoryError is a MemoryError), a disk that cannot be
    written at ``disk_path`` (``disk_advice`` follows the reason). Anything else is a bug
    and keeps its traceback."""
    try:
        return work()
    except (DataError, CheckpointError, RuntimeError, *also) as e:
        message = str(e)
    except BrokenPipeError:  # stdout closed (| head): command() ends quietly
        raise
    except MemoryError as e:
        message = out_of_memory_message(e, opt)
    except OSError as e:  # a folder that cannot be created, a full or read-only disk
        message = disk_error_message(e, disk_path) + disk_advice
    print(f"error: {message}", file=sys.stderr)
    return 2
