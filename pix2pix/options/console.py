"""How every command ends at the terminal: a Ctrl-C that stops it without saving exits 130
(as a shell reports a SIGINT) with one line, and a closed pipe (``python train.py | head``)
ends it quietly, never with a traceback."""
import functools
import os
import sys


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
