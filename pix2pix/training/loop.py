"""The training loop behind ``python train.py``: data, model, schedule, logs, checkpoints.

A run lives in <checkpoints_dir>/<name>/: latest.npz (everything needed to resume, saved
every --save_latest_freq iterations and at every epoch end), epoch_<N>.npz (weights every
--save_epoch_freq epochs), loss_log.jsonl (one line per iteration), loss_plot.png,
samples/epoch_<N>.png, and index.html showing the latest. The console gets plain lines
(progress.py) whether or not it is a terminal.
"""
import json
import os
import signal
import sys
import time
from pathlib import Path

from tqdm import tqdm

import nn
from pix2pix.data.color import as_pictures
from pix2pix.data.datasets import build_dataset, check_batchable
from pix2pix.data.images import DataError
from pix2pix.data.loader import DataLoader
from pix2pix.evaluation.visualize import plot_losses, save_sample_grid, write_run_page
from pix2pix.files.checkpoint import (
    CheckpointError,
    NonFiniteStateError,
    experiment_differences,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
    snapshot_path,
)
from pix2pix.files.run_lock import acquire_run_lock, release_run_lock
from pix2pix.models.pix2pix_model import NonFiniteLossError, Pix2Pix
from pix2pix.options.common import model_kwargs, parse_train_options
from pix2pix.options.console import answer_errors, command
from pix2pix.options.port import default_direction
from pix2pix.training.distributed import (
    OneProcess,
    connect,
    dropout_stream,
    how_arrays_travel,
    processes,
    use_own_share,
)
from pix2pix.training.finetune import init_generator
from pix2pix.training.progress import ProgressLog
from pix2pix.training.schedule import lr_factor_for


class Subset:
    """The first ``n`` items of a dataset (--max_dataset_size)."""

    def __init__(self, dataset, n):
        self.dataset, self.n = dataset, min(n, len(dataset))

    def __len__(self):
        return self.n

    def get(self, index, rng=None):
        return self.dataset.get(index, rng)


def make_dataset(opt, split, train):
    """The dataset of ``split`` with the options' jitter (train) or plain resize (test)."""
    dataset = build_dataset(opt, split, train)
    if train:
        check_batchable(dataset, opt.batch_size)
    if opt.max_dataset_size:
        dataset = Subset(dataset, opt.max_dataset_size)
    return dataset


def sample_dataset(opt):
    """Fixed images for the sample grid: the val split if there is one, else train."""
    root = Path(opt.dataroot)
    for split in ("val", "test", opt.phase):
        if opt.dataroot == "synthetic" or (root / split).is_dir() or (root / "A" / split).is_dir():
            return make_dataset(opt, split, train=False)


def log_records(log_path):
    """(line, record) for every line of loss_log.jsonl, each record checked: a line cut
    short by a kill (not JSON) is skipped; JSON that is not a log record (hand-edited) is a
    CheckpointError naming the file and the line."""
    if not Path(log_path).exists():
        return
    for number, line in enumerate(Path(log_path).read_text().splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        problem = _record_problem(record)
        if problem:
            raise CheckpointError(f"{log_path} line {number}: {problem} (hand-edited?); fix or "
                                  "delete that line")
        yield line, record


def _record_problem(record):
    """What makes ``record`` not a loss log record, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    for key in ("epoch", "iter"):
        if type(record.get(key)) is not int:
            return f"{key!r} is {record.get(key)!r}, expected an integer"
    for key in ("G_L1", "G_GAN", "D_real", "D_fake", "lr"):  # every step logs all five
        if type(record.get(key)) not in (int, float):
            return f"{key!r} is {record.get(key)!r}, expected a number"
    return None


def epoch_l1_means(log_path):
    """[mean G_L1 of epoch 1, of epoch 2, ...] from loss_log.jsonl (for --lr_policy plateau:
    the log, not memory, so that a resumed run gets the same lr)."""
    sums = {}
    for _, record in log_records(log_path):
        total, count = sums.get(record["epoch"], (0.0, 0))
        sums[record["epoch"]] = (total + record["G_L1"], count + 1)
    return [total / count for _, (total, count) in sorted(sums.items())]


def describe_networks(model, verbose=False):
    """One line of parameter counts (the port prints them too), the networks if verbose."""
    counts = ", ".join(f"{name}: {sum(p.data.size for p in net.parameters()) / 1e6:.3f} M"
                       for name, net in model.networks().items())
    text = f"parameters: {counts}"
    if verbose:
        text += "".join(f"\n[{name}]\n{net!r}" for name, net in model.networks().items())
    return text


class StopRequest:
    """SIGINT / SIGTERM set a flag; the loop finishes the iteration, saves, and exits."""

    def __init__(self):
        self.signal = None
        self.saving = False  # set by Trainer.save while a checkpoint is written

    def __call__(self, signum, frame):
        if self.signal is not None and self.saving:  # never cut a checkpoint short
            print("saving, please wait", file=sys.stderr, flush=True)
            return
        if self.signal is not None:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.signal = signum
        print(f"\n{signal.Signals(signum).name} received: saving a checkpoint after this "
              "iteration, then stopping (press Ctrl-C again to stop without saving)",
              file=sys.stderr, flush=True)

    def install(self):
        self.previous = {s: signal.signal(s, self) for s in (signal.SIGINT, signal.SIGTERM)}

    def uninstall(self):
        """Put back the handlers install() replaced (main() may run inside a notebook)."""
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


class Trainer:
    """One training run; with ``group`` (distributed.MPIProcesses) one rank of several."""

    def __init__(self, opt, group=None):
        if opt.direction is None:  # options built without parse_train_options
            opt.direction = default_direction(opt.dataroot)[0]
        self.opt, self.group = opt, group or OneProcess()
        opt.processes = self.group.size  # recorded in every checkpoint's options
        self.run_dir = Path(opt.checkpoints_dir) / opt.name
        self.latest = self.run_dir / "latest.npz"
        self.log_path = self.run_dir / "loss_log.jsonl"
        self.dataset = make_dataset(opt, opt.phase, train=True)  # checks every file first
        self._check_same_data()
        samples = sample_dataset(opt)
        self.sample_items = [samples.get(i) for i in range(min(opt.num_samples, len(samples)))]
        self.loader = DataLoader(self.dataset, opt.batch_size, shuffle=not opt.serial_batches,
                                 seed=opt.seed, prefetch=opt.num_threads > 0,
                                 rank=self.group.rank, world_size=self.group.size)
        self.model = Pix2Pix(**model_kwargs(opt))
        connect(self.model, self.group, opt.seed)  # rank 0's weights to all, and more
        print(describe_networks(self.model, opt.verbose))
        print(f"processes: {self.group.size}, batch per process: {opt.batch_size}, effective "
              f"batch: {self.group.size * opt.batch_size}"
              f"{how_arrays_travel(self.group, opt.device)}")
        self.epoch, self.epoch_iter, self.total_iters = 0, 0, 0
        self.stop = StopRequest()
        self.n_epochs_total = opt.n_epochs + opt.n_epochs_decay

    # --- start or resume ----------------------------------------------------------------
    def start(self):
        opt = self.opt
        if self.group.rank == 0:  # one run per folder: rank 0 holds the lock for all ranks
            self.run_dir.mkdir(parents=True, exist_ok=True)
            note = acquire_run_lock(self.run_dir)  # before anything in the folder is touched
            if note:
                print(note)
        if opt.continue_train:
            self._resume(snapshot_path(self.run_dir, opt.epoch, opt.load_iter))
        elif self.latest.exists():
            raise CheckpointError(
                f"{self.run_dir} already holds a run (latest.npz). Pass --continue_train to "
                f"resume it, or choose another --name to start afresh.")
        else:
            self.epoch = opt.epoch_count - 1  # the port's --epoch_count: the first epoch's number
            if opt.init_G:
                print(init_generator(self.model.netG, opt.init_G, vars(opt)))
        if self.group.rank == 0:  # the only rank that writes files
            self._prepare_run_dir()
        self.group.barrier()

    def _prepare_run_dir(self):
        # Also for a fresh start: a run that died before its first checkpoint left lines.
        self._truncate_log()
        # A run killed while saving (SIGKILL, power loss) leaves atomic_write's temporary
        # file (as big as a checkpoint for latest.npz): remove it.
        for stale in self.run_dir.glob(".tmp-*"):
            stale.unlink()
        (self.run_dir / "opt.json").write_text(json.dumps(vars(self.opt), indent=2))

    def _resume(self, path):
        """Exact resume from a full checkpoint; fine-tuning from a weights-only snapshot."""
        opt = self.opt
        weights_only = bool(read_checkpoint(path)[0].get("weights_only"))
        meta = load_checkpoint(path, self.model, options=vars(opt), weights_only=weights_only)
        self._check_same_position(path, meta)
        self._restore_dropout_stream(meta)
        self.epoch, self.epoch_iter = meta["epoch"], meta["epoch_iter"]
        self.total_iters = meta["total_iters"]
        if not weights_only:
            if opt.epoch_count != 1:
                raise CheckpointError(
                    f"--epoch_count {opt.epoch_count}: {path} resumes at epoch "
                    f"{self.epoch + 1}; --epoch_count numbers the first epoch of a fresh or "
                    "fine-tuning start (--continue_train --epoch N, --init_G). Omit it")
            self._check_same_experiment(path, meta["options"])
            print(f"resumed from {path}: epoch {self.epoch + 1}, iteration {self.total_iters}")
            return
        if opt.epoch_count > 1:
            self.epoch = opt.epoch_count - 1
        print(f"fine-tuning from the weights of {path}: it holds no optimiser state, so both "
              f"Adam optimisers start fresh; training continues at epoch {self.epoch + 1}")

    def _check_same_position(self, path, meta):
        """Inside an epoch, the position counts batches of processes x batch_size images:
        resuming there needs the same effective batch (at an epoch's end any will do)."""
        saved = meta["options"]
        saved_batch = saved.get("batch_size", self.opt.batch_size)
        saved_processes = saved.get("processes", 1)
        if meta["epoch_iter"] and (saved_batch, saved_processes) != (self.opt.batch_size,
                                                                     self.group.size):
            raise CheckpointError(
                f"{path} stopped inside an epoch with {saved_processes} process(es) x "
                f"--batch_size {saved_batch}; resume with the same --batch_size and number of "
                f"processes (the epoch's position counts batches), or from an epoch's end")

    def _restore_dropout_stream(self, meta):
        """Rank r's dropout generator as saved; a new rank (more processes than the run
        had) starts its stream from (seed, r) again."""
        streams = meta.get("dropout_rngs")
        if self.group.rank == 0 or not isinstance(streams, list):
            return
        state = (streams[self.group.rank] if self.group.rank < len(streams)
                 else dropout_stream(self.opt.seed, self.group.rank))
        try:
            self.model.netG.dropout_generator.bit_generator.state = state
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"the checkpoint's dropout state of rank {self.group.rank} "
                                  f"is invalid ({e})") from None

    def _check_same_data(self):
        """Every rank must see the same data set: the global order indexes it."""
        counts = self.group.allgather(len(self.dataset))
        if len(set(counts)) > 1:
            raise DataError(f"the processes see different data: {self.opt.dataroot} has "
                            f"{counts} images on ranks 0..{len(counts) - 1}. Give every "
                            "process the same folder (a shared file system or identical copies)")

    def _check_same_experiment(self, path, saved):
        """Refuse options that would change the experiment; say which new values apply."""
        diffs = experiment_differences(saved, vars(self.opt))
        if diffs:
            raise CheckpointError(f"{path} was trained with other settings: {'; '.join(diffs)}."
                                  " Resume with the saved values, or start a new --name")
        for key in ("lr", "n_epochs", "n_epochs_decay", "max_iters", "save_epoch_freq",
                    "batch_size", "lr_policy", "lr_decay_iters", "serial_batches"):
            if key in saved and saved[key] != getattr(self.opt, key):
                print(f"note: --{key} is now {getattr(self.opt, key)!r} (the run started with "
                      f"{saved[key]!r}); the new value applies from here on")

    def _truncate_log(self):
        """Drop log lines past the checkpoint, so a resumed log has no duplicates."""
        if not self.log_path.exists():
            return
        kept = [line for line, record in log_records(self.log_path)
                if record["iter"] <= self.total_iters]
        text = "".join(l + "\n" for l in kept).encode()
        nn.serialization.atomic_write(self.log_path, lambda f: f.write(text))

    # --- saving ---------------------------------------------------------------------------
    def save(self, path=None, weights_only=False):
        """Save a checkpoint (rank 0; every rank sends its dropout state); a diverged state
        (NaN/Inf) stops the run like a NaN loss."""
        streams = self.group.allgather(self.model.netG.dropout_generator.bit_generator.state)
        if self.group.rank > 0:
            return
        self.stop.saving = True
        try:
            save_checkpoint(path or self.latest, self.model, self.epoch, self.epoch_iter,
                            self.total_iters, vars(self.opt), weights_only=weights_only,
                            dropout_rngs=streams if self.group.size > 1 else None)
        except NonFiniteStateError as e:
            self._report_non_finite(e, f"after iteration {self.total_iters}")
            raise SystemExit(1)
        finally:
            self.stop.saving = False

    def save_pictures(self):
        """Sample grid of the fixed images, the loss plot and the run page (rank 0)."""
        if self.group.rank > 0:
            return
        rows = []
        colorization = self.opt.dataset_mode == "colorization"
        for item in self.sample_items:
            fake = nn.to_numpy(self.model.generate(item["A"][None]))[0]
            rows.append(as_pictures((item["A"], fake, item["B"]), colorization))
        grid = self.run_dir / "samples" / f"epoch_{self.epoch:03d}.png"
        save_sample_grid(rows, grid)
        save_sample_grid(rows, self.run_dir / "samples_latest.png")
        images = [("samples (input | output | target), epoch "
                   f"{self.epoch}", "samples_latest.png")]
        if self.log_path.exists() and self.log_path.stat().st_size:
            plot_losses(self.log_path, self.run_dir / "loss_plot.png")
            images.append(("losses", "loss_plot.png"))
        write_run_page(self.run_dir, f"pix2pix run {self.opt.name}", images,
                       table={"epoch": self.epoch, "iterations": self.total_iters})

    # --- the loop ------------------------------------------------------------------------
    def run(self):
        opt, stop = self.opt, self.stop
        if opt.max_iters and self.total_iters >= opt.max_iters:
            print(f"already at --max_iters {opt.max_iters}: nothing to do")
            return 0
        total = self.n_epochs_total * len(self.loader)
        if opt.max_iters:
            total = min(total, opt.max_iters)
        bar = tqdm(total=total, initial=min(self.total_iters, total), unit="it",
                   disable=True if opt.no_progress or self.group.rank else None,
                   dynamic_ncols=True,
                   mininterval=0.5 if sys.stderr.isatty() else 30)
        self.estimated = False
        self.progress = ProgressLog(opt.print_freq)
        stop.install()
        try:
            with open(self.log_path if self.group.rank == 0 else os.devnull, "a") as log:
                while self.epoch < self.n_epochs_total:
                    if self._run_epoch(log, bar, stop):
                        # Stopped by a signal: exit 128 + its number (130 for SIGINT, 143
                        # for SIGTERM), so a scheduler or `&&` sees the run did not finish.
                        return 128 + stop.signal if stop.signal is not None else 0
                    self.epoch, self.epoch_iter = self.epoch + 1, 0
                    self.progress.epoch_summary(self.epoch, self.n_epochs_total,
                                                total - min(self.total_iters, total))
                    # The snapshot first: a kill between the two writes leaves the previous
                    # latest.npz, so the resumed run redoes this epoch and writes both.
                    if (self.epoch % opt.save_epoch_freq == 0
                            or self.epoch == self.n_epochs_total):
                        self.save(self.run_dir / f"epoch_{self.epoch}.npz", weights_only=True)
                    self.save()
                    self.save_pictures()
        finally:
            bar.close()
            stop.uninstall()
        print(f"training finished: {self.total_iters} iterations; checkpoint {self.latest}")
        return 0

    def _run_epoch(self, log, bar, stop):
        """One epoch (from epoch_iter on). Returns True when the run must stop early."""
        opt = self.opt
        means = epoch_l1_means(self.log_path) if opt.lr_policy == "plateau" else ()
        # Rank 0's lr for all: only rank 0 writes (and may read) the log.
        lr = self.group.broadcast(opt.lr * lr_factor_for(opt, self.epoch, means))
        self.model.set_learning_rate(lr)
        self.progress.start_epoch()
        self.loader.set_epoch(self.epoch)
        bar.set_description(f"epoch {self.epoch + 1}/{self.n_epochs_total}")
        data_wait = self.loader.wait_seconds
        for batch in self.loader.iter_from(self.epoch_iter):
            t0 = time.perf_counter()
            try:
                losses = self.model.train_step(batch["A"], batch["B"])
            except NonFiniteLossError as e:
                self._report_non_finite(e, f"at epoch {self.epoch + 1}, iteration "
                                           f"{self.total_iters + 1}")
                raise SystemExit(1)
            step_time = time.perf_counter() - t0
            self.epoch_iter += 1
            self.total_iters += 1
            record = dict(epoch=self.epoch + 1, iter=self.total_iters, lr=lr,
                          **{k: round(v, 6) for k, v in losses.items()},
                          time=round(step_time, 4),
                          data=round(self.loader.wait_seconds - data_wait, 4))
            self.progress.iteration(self.epoch + 1, self.epoch_iter, self.total_iters, losses,
                                    step_time / (opt.batch_size * self.group.size),
                                    record["data"])
            data_wait = self.loader.wait_seconds
            log.write(json.dumps(record) + "\n")
            self._save_periodically(log)
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            self._estimate_once(step_time)
            # Every rank stops at the same iteration, wherever the signal arrived.
            stopping = self.group.any(stop.signal is not None)
            if stopping or (opt.max_iters and self.total_iters >= opt.max_iters):
                log.flush()
                self.save()
                why = "stopped by signal" if stopping else "reached --max_iters"
                print(f"\n{why}: saved {self.latest} at epoch {self.epoch + 1}, iteration "
                      f"{self.total_iters}. Resume with the same command plus --continue_train.")
                return True
        log.flush()
        return False

    def _save_periodically(self, log):
        """latest.npz every --save_latest_freq iterations (an edges2shoes epoch is 50,000),
        plus iter_<N>.npz with --save_by_iter; the log is flushed first, so that it holds
        every iteration the checkpoint has seen."""
        if self.total_iters % self.opt.save_latest_freq:
            return
        log.flush()
        self.save()
        if self.opt.save_by_iter:
            self.save(self.run_dir / f"iter_{self.total_iters}.npz")

    def _estimate_once(self, step_time):
        """After a few iterations, say how long the whole run will take at this speed."""
        if self.estimated or self.total_iters < 3:
            return
        self.estimated = True
        remaining = self.n_epochs_total * len(self.loader) - self.total_iters
        hours = remaining * step_time / 3600
        tqdm.write(f"measured {step_time:.2f} s/iteration: the full schedule "
                   f"({self.n_epochs_total} epochs x {len(self.loader)} iterations) needs "
                   f"about {hours:.1f} h more on this {self.opt.device.upper()}.")
        if self.opt.device == "cpu" and self.opt.preset == "paper" and hours > 5:
            tqdm.write("That is the paper's configuration. For a run that finishes on a "
                       "CPU, use --preset cpu (smaller images and networks; see README).")

    def _report_non_finite(self, error, where):
        print(f"\nerror: training diverged {where}: {error}.\nThe last good checkpoint is kept: "
              f"{self.latest if self.latest.exists() else '(none saved yet)'}.\n"
              "Resume it with --continue_train and a lower --lr (e.g. half), or start "
              "again with another --seed.", file=sys.stderr)


@command
def main(argv=None):
    opt, notes = parse_train_options(argv)
    try:
        group = processes()
    except RuntimeError as e:  # started by mpiexec without mpi4py
        print(f"error: {e}", file=sys.stderr)
        return 2
    if group.rank > 0:  # one console: rank 0 speaks for all (errors still show)
        sys.stdout = open(os.devnull, "w")
    for line in notes:
        print(line, flush=True)
    code = 1
    try:
        code = train(opt, group)
        return code
    finally:
        # A rank that fails stops all: the others would wait for it in the next all-reduce.
        if code not in (0, 128 + signal.SIGINT, 128 + signal.SIGTERM):
            group.abort(code)


def train(opt, group):
    """Train with the parsed options on ``group``'s processes; returns the exit status."""
    def work():
        nn.check_device(opt.device)
        threads = use_own_share(opt, group)
        if threads:
            print(f"BLAS threads per process: {threads} (set OMP_NUM_THREADS to choose)")
        trainer = Trainer(opt, group)
        try:
            trainer.start()
            return trainer.run()
        finally:
            release_run_lock(trainer.run_dir)
    return answer_errors(work, opt, Path(opt.checkpoints_dir) / opt.name,
                         ". The last checkpoint (if any) is intact.")


if __name__ == "__main__":
    raise SystemExit(main())
