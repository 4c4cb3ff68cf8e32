"""Pictures and pages for watching and reporting a pix2pix run.

Images come in the network's convention: float (C, H, W) NumPy arrays in [-1, 1] (a leading
batch axis of size 1 is accepted). Plots use matplotlib's object-oriented API with the Agg
canvas, so nothing here ever needs a display. Files that a browser may be reading while
training runs (PNGs, index.html) are written to a temporary name and then renamed, so the
page never shows a half-written file.
"""

import html
import json
import os
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from nn.serialization import atomic_write
from pix2pix.evaluation.metrics import to_uint8

LOG2 = float(np.log(2.0))  # each GAN loss at equilibrium, when D outputs 0.5 everywhere


# ----------------------------------------------------------------------------- images


def tensor_to_image(chw):
    """(C, H, W) or (1, C, H, W) float in [-1, 1] -> PIL image, RGB (C = 3) or grey (C = 1)."""
    chw = np.asarray(chw)
    if chw.ndim == 4 and chw.shape[0] == 1:
        chw = chw[0]
    hwc = to_uint8(chw)
    if hwc.shape[2] not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {hwc.shape[2]}")
    # fromarray picks the mode from the array: (H, W) uint8 -> "L", (H, W, 3) -> "RGB".
    return Image.fromarray(hwc[:, :, 0] if hwc.shape[2] == 1 else hwc)


def save_image(chw, path):
    """Save a (C, H, W) [-1, 1] image as a PNG (parent folders are created)."""
    image = tensor_to_image(chw)
    atomic_write(path, lambda f: image.save(f, format="PNG"))


def sample_grid(rows, titles=("input", "output", "target"), pad=4, header_height=20):
    """One row per example, one column per title, with the titles in a header strip.

    rows: list of tuples of (3, H, W) [-1, 1] arrays (or None for an empty cell), each tuple
    as long as `titles`; every image must have the same H, W.
    Returns an RGB image of width n_cols * W + (n_cols + 1) * pad and height
    header_height + n_rows * H + (n_rows + 1) * pad, on a white background.
    """
    if not rows:
        raise ValueError("sample_grid needs at least one row")
    cells = [[None if a is None else tensor_to_image(a).convert("RGB") for a in row]
             for row in rows]
    sizes = {c.size for row in cells for c in row if c is not None}
    if len(sizes) != 1:
        raise ValueError(f"all images must have one size, got {sorted(sizes)}")
    (w, h), n_cols = sizes.pop(), len(titles)
    if any(len(row) != n_cols for row in cells):
        raise ValueError(f"every row needs {n_cols} images, one per title")

    grid = Image.new(
        "RGB",
        (n_cols * w + (n_cols + 1) * pad, header_height + len(rows) * h + (len(rows) + 1) * pad),
        "white",
    )
    draw = ImageDraw.Draw(grid)
    font = ImageFont.load_default()
    for j, title in enumerate(titles):
        # Centre by measuring the text: anchors need a FreeType font, which may be missing.
        left, top, right, bottom = draw.textbbox((0, 0), str(title), font=font)
        x = pad + j * (w + pad) + (w - (right - left)) / 2 - left
        y = (header_height - (bottom - top)) / 2 - top
        draw.text((x, y), str(title), fill="black", font=font)
    for i, row in enumerate(cells):
        for j, cell in enumerate(row):
            x, y = pad + j * (w + pad), header_height + pad + i * (h + pad)
            if cell is None:
                draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(200, 200, 200))
            else:
                grid.paste(cell, (x, y))
    return grid


def save_sample_grid(rows, path, titles=("input", "output", "target")):
    """Build `sample_grid(rows, titles)` and save it as a PNG."""
    grid = sample_grid(rows, titles)
    atomic_write(path, lambda f: grid.save(f, format="PNG"))


# ----------------------------------------------------------------------------- loss curves


def read_loss_log(log_path):
    """Read a JSON-lines loss log: one dict per line, blank lines skipped."""
    with open(log_path) as f:
        return [json.loads(line) for line in f if line.strip()]


def moving_average(values, window):
    """Trailing mean over the last `window` values; the first points average what exists.

    values: (N,) -> (N,), so the smoothed curve shares the raw curve's x axis.
    """
    values = np.asarray(values, dtype=np.float64)
    csum = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, len(values) + 1)
    start = np.maximum(idx - window, 0)
    return (csum[idx] - csum[start]) / (idx - start)


def _iteration_axis(records):
    """Global iteration of each record: "iter" if it increases strictly, else the line number."""
    iters = [r.get("iter") for r in records]
    if None not in iters and all(b > a for a, b in zip(iters, iters[1:])):
        return np.asarray(iters)
    return np.arange(1, len(records) + 1)


def _series(records, x_all, key):
    """(x, y) restricted to the records that have `key`."""
    keep = [i for i, r in enumerate(records) if r.get(key) is not None]
    return x_all[keep], np.asarray([float(records[i][key]) for i in keep])


def _plot_smoothed(ax, x, y, window, label, color):
    ax.plot(x, y, color=color, alpha=0.25, linewidth=0.8)
    ax.plot(x, moving_average(y, window), color=color, linewidth=2.0, label=label)


def plot_losses(log_path_or_records, path, smooth=None):
    """Plot the loss log to a PNG: G_GAN, D_real, D_fake on top, G_L1 below.

    log_path_or_records: a JSON-lines file or a list of dicts, one per iteration, with keys
    among "epoch", "iter", "G_GAN", "G_L1", "D_real", "D_fake", "time" (missing keys are
    skipped). x axis: "iter" when it increases strictly through the log (a global count),
    otherwise the line number (one record per iteration), since a per-epoch "iter" restarts.
    smooth: moving-average window; default ~1/20 of the log, at least 1, at most 500.
    Raw values are drawn faint, the smoothed curve bold. The dashed line is log 2 = 0.693,
    each GAN loss when D cannot tell real from fake (outputs 0.5).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(log_path_or_records, (str, os.PathLike)):
        records = read_loss_log(log_path_or_records)
    else:
        records = list(log_path_or_records)
    if not records:
        raise ValueError("the loss log is empty")

    x_all = _iteration_axis(records)
    window = smooth or int(np.clip(len(records) // 20, 1, 500))

    fig = Figure(figsize=(8, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax_gan, ax_l1 = fig.subplots(2, 1, sharex=True)
    for key, color in (("G_GAN", "tab:blue"), ("D_real", "tab:green"), ("D_fake", "tab:red")):
        x, y = _series(records, x_all, key)
        if len(y):
            _plot_smoothed(ax_gan, x, y, window, key, color)
    ax_gan.axhline(LOG2, color="grey", linestyle="--", linewidth=1, label="log 2 = 0.693")
    ax_gan.set_ylabel("GAN losses (BCE)")
    ax_gan.legend(loc="upper right", fontsize="small")

    x, y = _series(records, x_all, "G_L1")
    if len(y):
        _plot_smoothed(ax_l1, x, y, window, "G_L1", "tab:purple")
        ax_l1.legend(loc="upper right", fontsize="small")
    ax_l1.set_ylabel("L1 loss")
    ax_l1.set_xlabel("iteration")

    title = f"{len(records)} iterations, moving average over {window}"
    times = [r["time"] for r in records if r.get("time") is not None]
    if times:
        title += f", {np.mean(times):.3f} s/iter"
    ax_gan.set_title(title, fontsize="medium")
    for ax in (ax_gan, ax_l1):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))


# ----------------------------------------------------------------------------- HTML pages


def _src(rel_path, base_dir):
    """URL for an image link; adds ?v=<mtime> so a refreshing page reloads a changed file."""
    url = quote(str(rel_path).replace(os.sep, "/"))
    full = Path(base_dir) / rel_path
    if full.exists():
        url += f"?v={int(full.stat().st_mtime)}"
    return html.escape(url)


def _metrics_table(table):
    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(fmt(v))}</td></tr>\n"
        for k, v in table.items()
    )
    return f"<table>\n{rows}</table>\n"


_STYLE = (
    "body{font-family:sans-serif;margin:1em}img{max-width:100%}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:2px 8px;text-align:left}"
)


def _page(title, body, refresh_s=None):
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">\n' if refresh_s else ""
    return (
        f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n{refresh}'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}</body>\n</html>\n"
    )


def _write_html(path, text):
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_run_page(run_dir, title, images, table=None, refresh_s=60):
    """Write run_dir/index.html: a page that reloads itself every refresh_s seconds.

    images: list of (caption, path relative to run_dir), e.g. the latest sample grid and the
    loss plot. table: optional {name: value} shown as a table (floats to 4 significant digits).
    Returns the path of the page.
    """
    body = [f"<p>Updated {html.escape(time.strftime('%Y-%m-%d %H:%M:%S'))}.</p>\n"]
    if table:
        body.append(_metrics_table(table))
    for caption, rel in images:
        body.append(
            f"<figure><img src=\"{_src(rel, run_dir)}\" alt=\"{html.escape(caption)}\">"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>\n"
        )
    path = Path(run_dir) / "index.html"
    _write_html(path, _page(title, "".join(body), refresh_s))
    return path


def write_gallery(out_dir, rows, metrics=None, title="pix2pix results"):
    """Write out_dir/index.html: one table row per image, input | output | ground truth.

    rows: list of dicts with "name" and "input_png", "output_png", "target_png" (paths
    relative to out_dir; "target_png" may be None when there is no ground truth).
    metrics: optional {name: value} table shown above the images. Returns the page's path.
    """

    def cell(rel):
        if rel is None:
            return "<td>n/a</td>"
        return f'<td><a href="{_src(rel, out_dir)}"><img src="{_src(rel, out_dir)}"></a></td>'

    lines = ["<tr><th>name</th><th>input</th><th>output</th><th>ground truth</th></tr>\n"]
    for row in rows:
        lines.append(
            f"<tr><td>{html.escape(str(row['name']))}</td>{cell(row['input_png'])}"
            f"{cell(row['output_png'])}{cell(row.get('target_png'))}</tr>\n"
        )
    table = "<table>\n" + "".join(lines) + "</table>\n"
    body = (_metrics_table(metrics) if metrics else "") + table
    path = Path(out_dir) / "index.html"
    _write_html(path, _page(title, body))
    return path
