"""Image-quality metrics for pix2pix outputs, on NumPy arrays.

Input conventions (one per function, stated in each docstring):

- Comparison metrics (`l1`, `psnr`, `ssim`, `lab_color_score*`, `evaluate_pairs`) take the
  network's convention: float arrays of shape (C, H, W) with values in [-1, 1].
- `rgb_to_lab` takes the colour-science convention: uint8 (H, W, 3) sRGB.
- `to_uint8` converts the first into the second.

Arrays must be NumPy arrays; convert CuPy arrays with `nn.backend.to_numpy` first.

The paper reports no L1/PSNR/SSIM for facades (PAPER.md, section 6); these are the usual
per-pixel measures, useful for comparing our own runs. The colour measure of the paper's
Fig. 7 is `lab_color_score_split`.
"""

import math

import numpy as np

from pix2pix.data.color import rgb_to_lab

# When PSNR is averaged over a split, identical pairs (PSNR = inf) are counted as this value,
# so that one perfect image does not make the mean infinite. The cap is a convention: real
# outputs score 10-30 dB, far below it, and skipping such pairs instead would hide them.
PSNR_CAP_DB = 100.0

# Fixed histogram ranges for Fig. 7: L* in [0, 100], a* and b* in [-128, 128].
# Every sRGB colour falls inside them (a* in about [-86, 98], b* in about [-108, 95]).
LAB_RANGES = {"L": (0.0, 100.0), "a": (-128.0, 128.0), "b": (-128.0, 128.0)}
LAB_BINS = 64


def _check_pair(a, b):
    """Return a, b as float64 arrays after checking they are (C, H, W) of equal shape."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.ndim != 3:
        raise ValueError(f"expected a (C, H, W) image, got shape {a.shape}")
    return a, b


def to_uint8(img):
    """[-1, 1] float image (C, H, W) -> uint8 image (H, W, C).

    The inverse of the data loader's `x / 127.5 - 1`, rounded to the nearest grey level, so a
    loaded image comes back bit-exact. Values outside [-1, 1] are clipped.
    """
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 3:
        raise ValueError(f"expected a (C, H, W) image, got shape {img.shape}")
    hwc = np.transpose(img, (1, 2, 0))
    return np.clip(np.rint((hwc + 1.0) * 127.5), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- per-pixel


def l1(a, b):
    """Mean absolute error between two (C, H, W) images in [-1, 1] units (the paper's L1 term)."""
    a, b = _check_pair(a, b)
    return float(np.mean(np.abs(a - b)))


def psnr(a, b, data_range=2.0):
    """Peak signal-to-noise ratio in dB: 10 log10(data_range^2 / MSE).

    a, b: (C, H, W). The default data_range = 2.0 is for [-1, 1] images; pass data_range=255
    for [0, 255] images (the same images give the same PSNR in both units).
    Identical images (MSE = 0) give math.inf; `evaluate_pairs` caps those at PSNR_CAP_DB.
    """
    a, b = _check_pair(a, b)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


# ----------------------------------------------------------------------------- SSIM


def gaussian_window(size=11, sigma=1.5):
    """1-D Gaussian of `size` taps, normalised to sum 1. Shape (size,)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def filter_valid(x, g):
    """'Valid' 2-D filtering of the last two axes with the separable kernel outer(g, g).

    x: (..., H, W), g: (k,) -> (..., H - k + 1, W - k + 1).
    A k x k filter costs k^2 multiply-adds per pixel; filtering rows then columns costs 2k,
    and is exact because the Gaussian kernel is the outer product of two 1-D Gaussians.
    """
    k = len(g)
    h, w = x.shape[-2:]
    if h < k or w < k:
        raise ValueError(f"image {h}x{w} is smaller than the {k}x{k} window")
    rows = sum(g[i] * x[..., :, i : i + w - k + 1] for i in range(k))
    return sum(g[i] * rows[..., i : i + h - k + 1, :] for i in range(k))


def ssim(a, b, win_size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Mean structural similarity (Wang et al. 2004) of two (C, H, W) images in [-1, 1].

    Images are rescaled to [0, 1] (data range L = 1, so C1 = k1^2, C2 = k2^2). Local means,
    variances and covariance use an 11x11 Gaussian window (sigma 1.5); the SSIM map is kept
    only where the window fits inside the image ('valid', no padding), averaged, then
    averaged over channels. Returns a float in [-1, 1]; 1 means identical.
    Matches skimage's structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=1, channel_axis=0).
    """
    a, b = _check_pair(a, b)
    x, y = (a + 1.0) / 2.0, (b + 1.0) / 2.0
    g = gaussian_window(win_size, sigma)
    c1, c2 = k1**2, k2**2

    mu_x, mu_y = filter_valid(x, g), filter_valid(y, g)
    # Var = E[x^2] - E[x]^2 under the window weights (population, not sample, covariance).
    var_x = filter_valid(x * x, g) - mu_x**2
    var_y = filter_valid(y * y, g) - mu_y**2
    cov_xy = filter_valid(x * y, g) - mu_x * mu_y

    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    contrast_structure = (2 * cov_xy + c2) / (var_x + var_y + c2)
    ssim_map = luminance * contrast_structure  # (C, H - 10, W - 10)
    return float(ssim_map.mean(axis=(1, 2)).mean())


# ----------------------------------------------------------------------------- Lab colour

def color_histograms(lab, bins=LAB_BINS):
    """Per-channel histograms of a Lab image over the fixed LAB_RANGES.

    lab: (H, W, 3) float, as returned by rgb_to_lab.
    Returns {"L": counts, "a": counts, "b": counts}, each (bins,) float64 raw counts (not
    normalised, so histograms of many images can simply be added).
    """
    lab = np.asarray(lab, dtype=np.float64)
    hists = {}
    for i, name in enumerate("Lab"):
        lo, hi = LAB_RANGES[name]
        # Clip so that rounding just outside the range lands in the edge bin, not nowhere.
        values = np.clip(lab[..., i].ravel(), lo, hi)
        hists[name] = np.histogram(values, bins=bins, range=(lo, hi))[0].astype(np.float64)
    return hists


def histogram_intersection(p, q):
    """sum_i min(p_i, q_i) after normalising p and q to sum 1. p, q: (bins,) counts.

    1 means identical distributions, 0 means disjoint supports.
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"histogram shapes differ: {p.shape} vs {q.shape}")
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("cannot normalise an empty histogram")
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def lab_histograms(images, bins=LAB_BINS):
    """Lab histograms summed over images. images: iterable of (3, H, W) in [-1, 1].

    Returns {"L", "a", "b"} -> (bins,) counts over every pixel of every image.
    """
    total = {name: np.zeros(bins) for name in "Lab"}
    for img in images:
        _accumulate(total, img, bins)
    return total


def _accumulate(total, img, bins):
    """Add the Lab histograms of one (3, H, W) [-1, 1] image into `total` (in place)."""
    for name, counts in color_histograms(rgb_to_lab(to_uint8(img)), bins).items():
        total[name] += counts


def lab_distributions(images, bins=LAB_BINS):
    """Marginal L, a, b distributions of a set of images, for plotting (as in Fig. 7).

    images: iterable of (3, H, W) in [-1, 1].
    Returns {"L", "a", "b"} -> (bin_centers (bins,), probabilities (bins,) summing to 1).
    The paper plots log probability: use np.log(p) and mask the zero bins.
    """
    dists = {}
    for name, counts in lab_histograms(images, bins).items():
        lo, hi = LAB_RANGES[name]
        edges = np.linspace(lo, hi, bins + 1)
        dists[name] = ((edges[:-1] + edges[1:]) / 2.0, counts / counts.sum())
    return dists


def _intersect_all(hists_out, hists_tgt):
    scores = {name: histogram_intersection(hists_out[name], hists_tgt[name]) for name in "Lab"}
    scores["mean"] = float(np.mean([scores[name] for name in "Lab"]))
    return scores


def lab_color_score(output, target, bins=LAB_BINS):
    """Histogram intersection of the L, a, b marginals of one output vs its target.

    output, target: (3, H, W) in [-1, 1]. Returns dict(L=..., a=..., b=..., mean=...), each
    in [0, 1]. A grey-ish output against a colourful target scores low on a and b.
    """
    return _intersect_all(lab_histograms([output], bins), lab_histograms([target], bins))


def lab_color_score_split(outputs, targets, bins=LAB_BINS):
    """The paper's Fig. 7 measure over a whole split.

    outputs, targets: iterables of (3, H, W) in [-1, 1]. The histograms of all outputs are
    accumulated into one distribution per channel, likewise for all targets, and only then
    intersected. This compares the colour *distributions* of the two sets, which is what
    Fig. 7 plots; it is not the mean of per-image `lab_color_score`s (an output set can match
    the targets' palette overall while each image has the wrong colours).
    Returns dict(L=..., a=..., b=..., mean=...).
    """
    return _intersect_all(lab_histograms(outputs, bins), lab_histograms(targets, bins))


# ----------------------------------------------------------------------------- a whole split


def evaluate_pairs(outputs, targets, bins=LAB_BINS):
    """Average per-image L1, PSNR and SSIM, plus the split-level Lab colour scores.

    outputs, targets: equal-length iterables of (3, H, W) in [-1, 1] (lists or generators;
    read once). PSNR of identical pairs (inf) is counted as PSNR_CAP_DB in the mean, and
    their number is reported as "psnr_capped".
    Returns {"n", "l1", "psnr", "psnr_capped", "ssim", "lab_L", "lab_a", "lab_b", "lab_mean"}.
    """
    l1s, psnrs, ssims = [], [], []
    hist_out = {name: np.zeros(bins) for name in "Lab"}
    hist_tgt = {name: np.zeros(bins) for name in "Lab"}
    for out, tgt in zip(outputs, targets, strict=True):
        l1s.append(l1(out, tgt))
        psnrs.append(psnr(out, tgt))
        ssims.append(ssim(out, tgt))
        # Histograms are accumulated, not averaged: the Lab score is split-level (Fig. 7).
        _accumulate(hist_out, out, bins)
        _accumulate(hist_tgt, tgt, bins)
    if not l1s:
        raise ValueError("evaluate_pairs got no images")

    lab = _intersect_all(hist_out, hist_tgt)
    return {
        "n": len(l1s),
        "l1": float(np.mean(l1s)),
        "psnr": float(np.mean(np.minimum(psnrs, PSNR_CAP_DB))),
        "psnr_capped": int(np.sum(np.isinf(psnrs))),
        "ssim": float(np.mean(ssims)),
        **{f"lab_{name}": value for name, value in lab.items()},
    }
