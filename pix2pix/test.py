"""Evaluate a trained generator: outputs, an HTML gallery and a metrics JSON.

    python -m pix2pix.test --name facades_label2photo                 # val split, latest
    python -m pix2pix.test --name NAME --phase test --epoch 200 --eval
    python -m pix2pix.test --checkpoint latest_net_G.pth --phase test # official weights
    python -m pix2pix.test --name NAME --input_dir my_label_maps/     # no ground truth

By default G runs as the paper does at test time: dropout on and BatchNorm on the test
image's own statistics. --eval uses the running statistics and no dropout instead.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import nn
from .checkpoint import CheckpointError, disk_error_message, read_checkpoint
from .data import (AlignedDataset, DataError, IMG_EXTENSIONS, check_images, load_image,
                   natural_key, to_array)
from .metrics import evaluate_pairs
from .pix2pix_model import paper_inference
from .models import define_G
from .options import add_data_options, add_model_options, range_errors
from .visualize import save_image, write_gallery


def test_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--name", default="facades_label2photo")
    p.add_argument("--checkpoints_dir", default="checkpoints")
    p.add_argument("--epoch", default="latest", help="latest, or N for epoch_N.npz")
    p.add_argument("--checkpoint", default=None,
                   help="a checkpoint file instead of --name/--epoch: our .npz, or an official "
                        "PyTorch latest_net_G.pth (read without torch)")
    p.add_argument("--phase", default="val", help="the split to run on (val, test, train)")
    p.add_argument("--input_dir", default=None, help="run on every image in this folder "
                   "(inputs only, no ground truth, so no metrics)")
    p.add_argument("--results_dir", default="results")
    p.add_argument("--num_test", type=int, default=None, help="only the first N images")
    p.add_argument("--eval", action="store_true", help="eval mode: running BatchNorm "
                   "statistics, no dropout (the paper keeps both as in training)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0, help="seeds the dropout noise")
    add_model_options(p)
    add_data_options(p)
    return p


def load_generator(opt):
    """(G, description). Architecture options come from our checkpoint's saved options;
    for an official .pth, from the command line (defaults: unet_256 with the port's
    dropout placement)."""
    path = Path(opt.checkpoint) if opt.checkpoint else (
        Path(opt.checkpoints_dir) / opt.name /
        ("latest.npz" if opt.epoch == "latest" else f"epoch_{opt.epoch}.npz"))
    if path.suffix in (".pth", ".pt"):
        from .official import load_official_generator
        G = load_official_generator(path, opt)
        return G, f"official weights {path}"
    meta, arrays = read_checkpoint(path)
    saved = meta["options"]
    for key in ("netG", "ngf", "norm", "no_dropout", "dropout_placement", "no_skips",
                "input_nc", "output_nc", "crop_size", "load_size", "direction"):
        setattr(opt, key, saved.get(key, getattr(opt, key)))
    G = define_G(opt.netG, opt.input_nc, opt.output_nc, opt.ngf, opt.norm, not opt.no_dropout,
                 dropout_placement=opt.dropout_placement, skips=not opt.no_skips,
                 seed=opt.seed)
    G.load_state_dict({k[2:]: v for k, v in arrays.items() if k.startswith("G.")})
    return G, f"{path} (epoch {meta['epoch']})"


def input_items(opt):
    """Yield dict(A, B or None, name) for the chosen split or input folder."""
    if opt.input_dir:
        folder = Path(opt.input_dir)
        if not folder.is_dir():
            raise DataError(f"--input_dir {folder} is not a folder")
        paths = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMG_EXTENSIONS),
                       key=natural_key)[:opt.num_test]
        if not paths:
            raise DataError(f"no images ({', '.join(IMG_EXTENSIONS)}) in {folder}")
        for path in check_images(paths, folder, opt.skip_bad_files, load_image):
            img = load_image(path).resize((opt.crop_size, opt.crop_size), Image.BICUBIC)
            yield {"A": to_array(img), "B": None, "name": path.stem}
        return
    dataset = AlignedDataset(opt.dataroot, opt.phase, opt.direction, opt.load_size,
                             opt.crop_size, train=False, skip_bad_files=opt.skip_bad_files)
    for i in range(min(len(dataset), opt.num_test or len(dataset))):
        item = dataset.get(i)
        yield {"A": item["A"], "B": item["B"], "name": Path(item["path"]).stem}


def run(opt):
    G, source = load_generator(opt)
    G.to(opt.device)
    out_dir = Path(opt.results_dir) / (Path(opt.checkpoint).stem if opt.checkpoint else opt.name)
    out_dir = out_dir / f"{Path(opt.input_dir).name if opt.input_dir else opt.phase}_{opt.epoch}"
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rows, outputs, targets = [], [], []
    items = list(input_items(opt))
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
        row = {"name": item["name"]}
        for key, image in (("input", item["A"]), ("output", fake), ("target", item["B"])):
            if image is not None:
                rel = f"images/{item['name']}_{key}.png"
                save_image(image, out_dir / rel)
                row[f"{key}_png"] = rel
        row.setdefault("target_png", None)
        rows.append(row)
        if item["B"] is not None:
            outputs.append(fake)
            targets.append(item["B"])
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


def main(argv=None):
    opt = test_parser().parse_args(argv)
    errors = range_errors(opt)
    if errors:
        raise SystemExit("error: " + "\nerror: ".join(errors))
    try:
        nn.check_device(opt.device)
        run(opt)
    except (DataError, CheckpointError, RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # an unwritable --results_dir, a full disk
        print(f"error: {disk_error_message(e)} (e.g. another --results_dir)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
