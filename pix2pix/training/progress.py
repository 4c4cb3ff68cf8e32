"""Console lines that work without a terminal (nohup, SLURM, a notebook's !python).

tqdm draws a bar on a terminal and stays quiet otherwise; these plain lines are written in
both cases: every --print_freq iterations one line in the official port's format, and one
summary per epoch with its time, mean losses and the time left.
"""
import time

from tqdm import tqdm

PORT_ORDER = ("G_GAN", "G_L1", "D_real", "D_fake")  # the port's loss_names order


def in_port_order(losses):
    return sorted(losses.items(), key=lambda kv: PORT_ORDER.index(kv[0])
                  if kv[0] in PORT_ORDER else len(PORT_ORDER))


def port_line(epoch, iters, t_comp, t_data, losses):
    """The port's print_current_losses format (every value with 3 decimals)."""
    text = f"(epoch: {epoch}, iters: {iters}, time: {t_comp:.3f}, data: {t_data:.3f}) "
    return text + " ".join(f"{k}: {v:.3f}" for k, v in in_port_order(losses))


def duration(seconds):
    """12 -> '12s', 3725 -> '1:02:05'."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


class ProgressLog:
    """Collects one epoch's losses; prints through tqdm.write (a bar stays intact)."""

    def __init__(self, print_freq, write=tqdm.write):
        self.print_freq, self.write = print_freq, write
        self.start_epoch()

    def start_epoch(self):
        self.sums, self.count, self.started = {}, 0, time.perf_counter()

    def iteration(self, epoch, epoch_iter, total_iters, losses, t_comp, t_data):
        """After each iteration: epoch (1-based), batches done in it and in all."""
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1
        if total_iters % self.print_freq == 0:
            self.write(port_line(epoch, epoch_iter, t_comp, t_data, losses))

    def epoch_summary(self, epoch, n_epochs, remaining_iters):
        """'End of epoch 3 / 200 (...)' with the time taken, mean losses and an ETA."""
        taken = time.perf_counter() - self.started
        means = " ".join(f"{k}: {v / max(self.count, 1):.3f}" for k, v in in_port_order(self.sums))
        eta = remaining_iters * taken / max(self.count, 1)
        line = (f"End of epoch {epoch} / {n_epochs} \t Time Taken: {duration(taken)} "
                f"({self.count} iterations); mean {means}; ETA {duration(eta)}")
        self.write(line)
        return line
