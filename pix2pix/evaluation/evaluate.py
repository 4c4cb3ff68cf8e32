"""Evaluate a trained generator: outputs, an HTML gallery and a metrics JSON.

    python -m pix2pix.test --name facades_label2photo                 # test split, latest
    python -m pix2pix.test --name NAME --phase val --epoch 200 --eval
    python -m pix2pix.test --checkpoint latest_net_G.pth               # official weights

Results go where the port puts them: results/NAME/test_latest/index.html and
images/<name>_real_A.png, _fake_B.png, _real_B.png (the first --num_test 50 images).
    python -m pix2pix.test --name NAME --input_dir my_label_maps/     # no ground truth

By default G runs as the paper does at test time: dropout on and BatchNorm on the test
image's own statistics. --eval uses the running statistics and no dropout instead.
Options not given come from the checkpoint; one given with another value is used
(--crop_size, --preprocess, --load_size) or refused (G's shapes, --direction), and said so.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import nn
from nn.serialization import atomic_write
from pix2pix.data.color import as_pictures
from pix2pix.data.datasets import SingleDataset, build_dataset
from pix2pix.data.images import DataError, pixel_limit, set_max_pixels
from pix2pix.evaluation.metrics import evaluate_pairs
from pix2pix.evaluation.visualize import save_image, tensor_to_image, write_gallery
from pix2pix.files.checkpoint import (
    CheckpointError,
    first_non_finite,
    read_checkpoint,
    snapshot_path,
)
from pix2pix.files.official import load_official_generator
from pix2pix.models import define_G
from pix2pix.models.budget import check_generator_claim, memory_budget
from pix2pix.models.networks import size_multiple
from pix2pix.models.pix2pix_model import paper_inference
from pix2pix.options.common import (
    add_data_options,
    add_model_options,
    range_errors,
)
from pix2pix.options.console import answer_errors, command
from pix2pix.options.port import (
    add_port_common_options,
    default_direction,
    given_options,
    reconcile_with_checkpoint,
    resolve_port_options,
)


def test_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--name", default="facades_label2photo")
    p.add_argument("--checkpoints_dir", default="checkpoints")
    p.add_argument("--epoch", default="latest", help="latest, or N for epoch_N.npz")
    p.add_argument("--checkpoint", default=None,
                   help="a checkpoint file instead of --name/--epoch: our .npz, or an official "
                        "PyTorch latest_net_G.pth (read without torch)")
    p.add_argument("--phase", default="test", help="the split to run on (test, as the port; "
                   "val, train)")
    p.add_argument("--input_dir", default=None, help="run on every image in this folder "
                   "(inputs only, no ground truth, so no metrics)")
    p.add_argument("--results_dir", default="results")
    p.add_argument("--num_test", type=int, default=50, help="only the first N images (the "
                   "port's default)")
    p.add_argument("--eval", action="store_true", help="eval mode: running BatchNorm "
                   "statistics, no dropout (the paper keeps both as in training)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0, help="seeds the dropout noise")
    p.add_argument("--aspect_ratio", type=float, default=1.0, help="saved pictures: width x "
                   "ratio (> 1) or height / ratio (< 1), as the port")
    p.add_argument("--model_suffix", default="", help="accepted (the port's CycleGAN option)")
    add_model_options(p)
    add_data_options(p)
    add_port_common_options(p)
    return p


ASPECT_RATIOS = (0.01, 100.0)  # a 256x256 output stays under 26 Mpx at either end


def parse_test_options(argv=None, parser=None):
    """(options, the names given on the command line, lines to print). parser: test_parser()
    or one built on it (the demo's)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = parser or test_parser()
    opt = parser.parse_args(argv)
    given = given_options(parser, argv)
    notes = resolve_port_options(opt, given, train=False)
    low, high = ASPECT_RATIOS
    if not low <= opt.aspect_ratio <= high:  # also nan; inf and 1e-300 overflow the size
        raise SystemExit(f"error: --aspect_ratio must be between {low} and {high} (the "
                         f"picture's width x ratio or height / ratio), got {opt.aspect_ratio}")
    if opt.input_dir or opt.dataset_mode == "single":
        opt.dataset_mode = "single"
        given = given | {"dataset_mode"}  # inputs only, whatever the checkpoint trained on
    return opt, given, notes


def load_generator(opt, given=frozenset()):
    """(G, description). Options not given come from our checkpoint's saved options (see
    port_options.reconcile_with_checkpoint); for an official .pth, the architecture is read
    off the file and the rest comes from the command line."""
    path = Path(opt.checkpoint) if opt.checkpoint else run_checkpoint(opt)
    if path.suffix in (".pth", ".pt"):
        G = load_official_generator(path, opt)
        if opt.direction is None:
            opt.direction = default_direction(opt.dataroot)[0]
        print(f"direction: {opt.direction}")
        return G, f"official weights {path}"
    meta, arrays = read_checkpoint(path)
    notes, errors = reconcile_with_checkpoint(opt, meta["options"], given)
    if errors:
        raise CheckpointError("; ".join(errors))
    for line in notes + [f"direction: {opt.direction} (the checkpoint's)"]:
        print(line)
    check_generator_claim(path, opt.netG, opt.input_nc, opt.output_nc, opt.ngf,
                          opt.norm, not opt.no_skips, path.stat().st_size,
                          test_image_size(opt, given), memory_budget(opt.memory_budget))
    G = define_G(opt.netG, opt.input_nc, opt.output_nc, opt.ngf, opt.norm, not opt.no_dropout,
                 dropout_placement=opt.dropout_placement, skips=not opt.no_skips,
                 seed=opt.seed)
    G.load_state_dict({k[2:]: v for k, v in arrays.items() if k.startswith("G.")})
    return G, f"{path} (epoch {meta['epoch']})"


def run_checkpoint(opt):
    """The file --name and --epoch (or --load_iter) name: our <epoch>.npz, or where the
    port's run folder holds no such file, the port's <epoch>_net_G.pth."""
    run_dir = Path(opt.checkpoints_dir) / opt.name
    ours = snapshot_path(run_dir, opt.epoch, opt.load_iter)
    prefix = f"iter_{opt.load_iter}" if opt.load_iter > 0 else opt.epoch
    ports = run_dir / f"{prefix}_net_G.pth"
    if not ours.exists() and ports.is_file():
        print(f"using the port's {ports} (there is no {ours.name})")
        return ports
    return ours


def test_image_size(opt, given=frozenset()):
    """The side of the square images G runs on (its budget is checked for this size)."""
    return max(opt.crop_size, opt.load_size if "load_size" in given else 0)


def test_dataset(opt, given=frozenset()):
    """The data set to run on: --input_dir or --dataset_mode single (inputs only: the folder
    itself, as in the port), else the --phase split of --dataroot."""
    test_load_size = opt.load_size if "load_size" in given else None
    if opt.dataset_mode == "single":
        set_max_pixels(pixel_limit(opt.load_size, opt.max_image_pixels))
        folder = Path(opt.input_dir or opt.dataroot)
        if not folder.is_dir():
            raise DataError(f"{'--input_dir' if opt.input_dir else '--dataroot'} {folder} is "
                            "not a folder of images")
        return SingleDataset(folder, opt.input_nc, opt.preprocess,
                             test_load_size or opt.crop_size, opt.crop_size,
                             opt.skip_bad_files, size_multiple(opt.netG))
    root = Path(opt.dataroot)
    if opt.dataroot != "synthetic" and root.is_dir() and not (
            (root / opt.phase).is_dir() or (root / "A" / opt.phase).is_dir()):
        splits = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in ("A", "B"))
        raise DataError(f"{root} has no {opt.phase}/ split (--phase {opt.phase}); it has "
                        f"{', '.join(splits) or 'no split folders'}: pass e.g. --phase "
                        f"{splits[0] if splits else 'test'}")
    return build_dataset(opt, opt.phase, train=False, test_load_size=test_load_size)


def input_items(opt, given=frozenset()):
    """Yield dict(A, B or None, name) for the chosen split or input folder."""
    dataset = test_dataset(opt, given)
    for i in range(min(len(dataset), opt.num_test)):
        item = dataset.get(i)
        yield {"A": item["A"], "B": item["B"], "name": Path(item["path"]).stem}


def save_picture(chw, path, aspect_ratio=1.0):
    """Save (C, H, W) [-1, 1] as PNG; aspect_ratio stretches it as the port's test does."""
    if aspect_ratio == 1.0:
        return save_image(chw, path)
    image = tensor_to_image(chw)
    w, h = image.size
    size = (int(w * aspect_ratio), h) if aspect_ratio > 1 else (w, int(h / aspect_ratio))
    image = image.resize(size, Image.BICUBIC)
    atomic_write(path, lambda f: image.save(f, format="PNG"))


def as_rgb(chw):
    """Metrics compare colours: a grey (1, H, W) image counts as (3, H, W)."""
    return np.repeat(chw, 3, axis=0) if chw.shape[0] == 1 else chw


# The port's file names: <name>_real_A.png, _fake_B.png, _real_B.png (its TestModel, for
# inputs only: _real.png, _fake.png). Scripts that score results glob "*_fake_B.png".
PICTURES = ("real_A", "fake_B", "real_B")
SINGLE_PICTURES = ("real", "fake")


def run(opt, given=frozenset()):
    G, source = load_generator(opt, given)
    bad = first_non_finite(G.state_dict())
    if bad is not None:
        raise CheckpointError(f"{source}: G's {bad} holds NaN or Inf (the run had diverged); "
                              "use an earlier checkpoint (--epoch N)")
    G.to(opt.device)
    out_dir = Path(opt.results_dir) / (Path(opt.checkpoint).stem if opt.checkpoint else opt.name)
    out_dir = out_dir / f"{Path(opt.input_dir).name if opt.input_dir else opt.phase}_{opt.epoch}"
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    items = list(input_items(opt, given))
    mode = "eval mode" if opt.eval else "paper-style (dropout on, test-batch statistics)"
    print(f"generator: {source}; {len(items)} images; {mode}")
    # One inference context for the whole loop, so every image gets its own dropout noise.
    if opt.eval:
        G.eval()
        context = nn.no_grad()
    else:
        context = paper_inference(G)
    with context:
        fakes = [nn.to_numpy(G(nn.Tensor(nn.to_device(item["A"][None], opt.device))).data)[0]
                 for item in tqdm(items, unit="img", disable=None)]
    for item, fake in zip(items, fakes):
        if not np.isfinite(fake).all():  # NaN would be written into metrics.json
            raise CheckpointError(f"G's output for {item['name']} holds NaN or Inf: {source} "
                                  "has diverged weights; use an earlier checkpoint (--epoch N)")
    rows, outputs, targets = write_pictures(out_dir, items, fakes, opt)
    metrics = None
    if targets:
        metrics = evaluate_pairs(outputs, targets)
        metrics.update(checkpoint=source, phase=opt.phase, eval_mode=opt.eval)
        (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_gallery(out_dir, rows, metrics, title=f"pix2pix: {source}")
    print(f"wrote {len(rows)} results to {out_dir}/index.html")
    if metrics:
        print(json.dumps({k: v for k, v in metrics.items() if isinstance(v, (int, float))}, indent=2))
    return metrics


def write_pictures(out_dir, items, fakes, opt):
    """Save input, output and target of every item under out_dir/images/ with the port's
    names, and remove the pictures an earlier run left there (a glob must see this run's
    only). Returns (gallery rows, outputs and targets as RGB for the metrics)."""
    rows, outputs, targets, written = [], [], [], set()
    colorization = opt.dataset_mode == "colorization"
    for item, fake in zip(items, fakes):
        row = {"name": item["name"]}
        pictures = as_pictures((item["A"], fake, item["B"]), colorization)
        names = PICTURES if item["B"] is not None else SINGLE_PICTURES
        for key, name, image in zip(("input", "output", "target"), names, pictures):
            if image is not None:
                rel = f"images/{item['name']}_{name}.png"
                save_picture(image, out_dir / rel, opt.aspect_ratio)
                row[f"{key}_png"] = rel
                written.add(out_dir / rel)
        row.setdefault("target_png", None)
        rows.append(row)
        if item["B"] is not None:
            outputs.append(as_rgb(pictures[1]))
            targets.append(as_rgb(pictures[2]))
    for path in (out_dir / "images").glob("*_*.png"):
        if path not in written and path.stem.endswith(PICTURES + SINGLE_PICTURES):
            path.unlink()
    return rows, outputs, targets


@command
def main(argv=None):
    opt, given, notes = parse_test_options(argv)
    for line in notes:
        print(line)
    errors = range_errors(opt)
    if errors:
        raise SystemExit("error: " + "\nerror: ".join(errors))
    def work():
        nn.check_device(opt.device)
        run(opt, given)
        return 0
    return answer_errors(work, opt, opt.results_dir, " (e.g. another --results_dir)",
                         also=(ValueError,))


if __name__ == "__main__":
    raise SystemExit(main())
