"""Colorization in CIE Lab (the official port's --dataset_mode colorization).

The network sees the lightness L and predicts the two colour channels a, b, each scaled
to about [-1, 1] as the port does: A = L / 50 - 1 (L in [0, 100]), B = ab / 110. Pictures
and metrics need RGB again: lab_to_rgb inverts rgb_to_lab (both here; metrics' Lab
histograms use rgb_to_lab too).
"""
import numpy as np

# sRGB (linear) -> CIE XYZ, D65 white (IEC 61966-2-1).
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb):
    """uint8 sRGB image (H, W, 3) -> CIE L*a*b* float64 (H, W, 3), D65 white.

    sRGB -> linear RGB (undo the gamma curve) -> XYZ -> Lab. L* is in [0, 100].
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise TypeError(f"rgb_to_lab expects uint8 sRGB, got {rgb.dtype}; see to_uint8")
    if rgb.shape[-1] != 3:
        raise ValueError(f"expected (H, W, 3), got shape {rgb.shape}")
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / _D65_WHITE

    # f is a cube root, replaced near 0 by a line so its slope stays finite.
    delta = 6.0 / 29.0
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4.0 / 29.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)


_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)


def lab_to_rgb(lab):
    """CIE L*a*b* (H, W, 3), D65 white -> sRGB float64 (H, W, 3) in [0, 1] (clipped)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16.0) / 116.0
    f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], axis=-1)
    delta = 6.0 / 29.0
    # the inverse of metrics' f: a cube above delta, the same line below it
    xyz = np.where(f > delta, f ** 3, 3 * delta ** 2 * (f - 4.0 / 29.0)) * _D65_WHITE
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear,
                    1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(srgb, 0.0, 1.0)


def rgb_to_network(rgb_uint8):
    """uint8 RGB (H, W, 3) -> (L, ab): (1, H, W) and (2, H, W) float32, about [-1, 1]."""
    lab = rgb_to_lab(rgb_uint8).astype(np.float32)
    return lab[None, :, :, 0] / 50.0 - 1.0, lab[:, :, 1:].transpose(2, 0, 1) / 110.0


def network_to_rgb(L, ab):
    """(1, H, W) L and (2, H, W) ab in the network's scale -> (3, H, W) RGB in [-1, 1]."""
    lab = np.concatenate([(np.asarray(L) + 1.0) * 50.0, np.asarray(ab) * 110.0], axis=0)
    rgb = lab_to_rgb(lab.transpose(1, 2, 0))
    return (rgb.transpose(2, 0, 1) * 2.0 - 1.0).astype(np.float32)


def as_pictures(images, colorization=False):
    """(input, output, target) as the network sees them -> arrays to show: in colorization
    the L input and the ab output or target become RGB; otherwise unchanged."""
    if not colorization:
        return tuple(images)
    L, fake, real = images
    return L, network_to_rgb(L, fake), None if real is None else network_to_rgb(L, real)
