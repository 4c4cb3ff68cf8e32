"""Metrics against hand-computed values (and against skimage when it is installed)."""

import math

import numpy as np
import pytest

from pix2pix.evaluation import metrics as M


def const(value, shape=(3, 16, 16)):
    return np.full(shape, value, dtype=np.float64)


def random_image(seed, shape=(3, 32, 32)):
    """A (3, H, W) image in [-1, 1] on the 8-bit grid, as the data loader produces."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=shape) / 127.5 - 1.0


# ----------------------------------------------------------------------------- conversions


def test_to_uint8_round_trips_loader_scaling():
    u8 = np.random.default_rng(0).integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    chw = np.transpose(u8, (2, 0, 1)) / 127.5 - 1.0
    np.testing.assert_array_equal(M.to_uint8(chw), u8)


def test_to_uint8_endpoints_and_clipping():
    img = np.array([-1.0, 1.0, 0.0, 3.0, -3.0]).reshape(1, 1, 5)
    np.testing.assert_array_equal(M.to_uint8(img).ravel(), [0, 255, 128, 255, 0])


# ----------------------------------------------------------------------------- L1, PSNR


def test_l1_of_constant_images():
    assert M.l1(const(0.5), const(-0.25)) == pytest.approx(0.75)


def test_l1_hand_computed_mixed_pixels():
    a = np.array([0.0, 1.0, -1.0, 0.5]).reshape(1, 2, 2)
    b = np.array([0.5, 1.0, 0.0, -0.5]).reshape(1, 2, 2)
    assert M.l1(a, b) == pytest.approx((0.5 + 0 + 1 + 1) / 4)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        M.l1(const(0.0), const(0.0, (3, 16, 15)))


@pytest.mark.parametrize("d", [0.5, 0.1, 2 / 255])
def test_psnr_of_constant_difference(d):
    # MSE = d^2, so PSNR = 10 log10(2^2 / d^2).
    assert M.psnr(const(0.0), const(d)) == pytest.approx(10 * math.log10(4 / d**2))


def test_psnr_same_in_0_255_units():
    a, b = random_image(1), random_image(2)
    to255 = lambda x: (x + 1) * 127.5  # noqa: E731
    assert M.psnr(a, b) == pytest.approx(M.psnr(to255(a), to255(b), data_range=255))


def test_psnr_identical_is_inf():
    a = random_image(3)
    assert M.psnr(a, a.copy()) == math.inf


# ----------------------------------------------------------------------------- SSIM


def test_gaussian_window_is_normalised_symmetric_peaked():
    g = M.gaussian_window(11, 1.5)
    assert g.shape == (11,)
    assert g.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(g, g[::-1])
    assert g.argmax() == 5
    # Hand-computed ratio between neighbours of the centre: exp(-1 / (2 * 1.5^2)).
    assert g[6] / g[5] == pytest.approx(math.exp(-1 / 4.5))


def test_separable_filter_matches_naive_2d_filter():
    x = np.random.default_rng(0).normal(size=(2, 14, 17))
    g = M.gaussian_window(11, 1.5)
    w2d = np.outer(g, g)
    naive = np.empty((2, 4, 7))
    for i in range(4):
        for j in range(7):
            naive[:, i, j] = (x[:, i : i + 11, j : j + 11] * w2d).sum(axis=(1, 2))
    np.testing.assert_allclose(M.filter_valid(x, g), naive, rtol=1e-12, atol=1e-12)


def test_ssim_identical_is_one():
    a = random_image(4)
    assert M.ssim(a, a.copy()) == pytest.approx(1.0)


def test_ssim_of_constant_images_is_luminance_term():
    # No variance: SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) with C2/C2 = 1.
    # [-1, 1] values 0.0 and 0.5 are 0.5 and 0.75 on the [0, 1] scale.
    mx, my, c1 = 0.5, 0.75, 0.01**2
    expected = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
    assert M.ssim(const(0.0), const(0.5)) == pytest.approx(expected, rel=1e-12)


def test_ssim_single_window_by_hand():
    # An 11x11 image has exactly one valid window: compute the weighted statistics directly.
    rng = np.random.default_rng(5)
    a, b = rng.uniform(-1, 1, size=(1, 11, 11)), rng.uniform(-1, 1, size=(1, 11, 11))
    x, y = (a[0] + 1) / 2, (b[0] + 1) / 2
    w = np.outer(M.gaussian_window(), M.gaussian_window())
    mx, my = (w * x).sum(), (w * y).sum()
    vx, vy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
    cxy = (w * (x - mx) * (y - my)).sum()
    c1, c2 = 0.01**2, 0.03**2
    expected = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert M.ssim(a, b) == pytest.approx(expected, rel=1e-10)


def test_ssim_is_symmetric_and_averages_channels():
    a, b = random_image(6), random_image(7)
    assert M.ssim(a, b) == pytest.approx(M.ssim(b, a))
    per_channel = [M.ssim(a[c : c + 1], b[c : c + 1]) for c in range(3)]
    assert M.ssim(a, b) == pytest.approx(np.mean(per_channel))


def test_ssim_of_inverted_image_is_far_below_one():
    a = random_image(8)
    assert M.ssim(a, -a) < 0.0  # negative correlation makes the structure term negative


def test_ssim_rejects_images_smaller_than_window():
    with pytest.raises(ValueError):
        M.ssim(const(0.0, (3, 10, 32)), const(0.0, (3, 10, 32)))


# ----------------------------------------------------------------------------- Lab


def lab_of(*colors):
    return M.rgb_to_lab(np.array([colors], dtype=np.uint8))[0]


@pytest.mark.parametrize(
    "rgb, lab",
    [
        ((255, 255, 255), (100.0, 0.0, 0.0)),
        ((0, 0, 0), (0.0, 0.0, 0.0)),
        ((255, 0, 0), (53.24, 80.09, 67.20)),
        ((0, 255, 0), (87.73, -86.18, 83.18)),
        ((0, 0, 255), (32.30, 79.19, -107.86)),
    ],
)
def test_rgb_to_lab_known_colours(rgb, lab):
    np.testing.assert_allclose(lab_of(rgb)[0], lab, atol=0.01)


def test_rgb_to_lab_mid_grey():
    L, a, b = lab_of((128, 128, 128))[0]
    assert L == pytest.approx(53.59, abs=0.01)
    assert abs(a) < 1e-3 and abs(b) < 1e-3


def test_rgb_to_lab_shape_and_dtype_convention():
    assert M.rgb_to_lab(np.zeros((4, 5, 3), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(TypeError):
        M.rgb_to_lab(np.zeros((4, 5, 3), np.float64))


def test_histogram_intersection_hand_cases():
    assert M.histogram_intersection([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert M.histogram_intersection([1, 1, 0, 0], [0, 0, 5, 1]) == pytest.approx(0.0)
    # Normalised: p = [.5, .5, 0], q = [0, .5, .5]; they share half their mass.
    assert M.histogram_intersection([1, 1, 0], [0, 1, 1]) == pytest.approx(0.5)
    # Only the shapes matter, not the counts.
    assert M.histogram_intersection([2, 2, 0], [0, 10, 10]) == pytest.approx(0.5)


def test_color_histograms_use_fixed_ranges():
    lab = np.array([[[0.0, -128.0, 127.9], [100.0, 0.0, 130.0]]])  # 130 is clipped into range
    h = M.color_histograms(lab, bins=4)
    np.testing.assert_array_equal(h["L"], [1, 0, 0, 1])
    np.testing.assert_array_equal(h["a"], [1, 0, 1, 0])
    np.testing.assert_array_equal(h["b"], [0, 0, 0, 2])


def test_lab_score_identical_is_one():
    a = random_image(9)
    assert M.lab_color_score(a, a) == pytest.approx({"L": 1.0, "a": 1.0, "b": 1.0, "mean": 1.0})


def test_lab_score_grey_output_vs_colourful_target():
    target = random_image(10, (3, 32, 32))
    grey = np.repeat(target.mean(axis=0, keepdims=True), 3, axis=0)  # same brightness, no colour
    score = M.lab_color_score(grey, target)
    assert score["a"] < 0.2 and score["b"] < 0.2
    assert score["mean"] == pytest.approx((score["L"] + score["a"] + score["b"]) / 3)


def test_lab_score_split_pools_histograms_before_intersecting():
    red = np.stack([const(1.0)[0], const(-1.0)[0], const(-1.0)[0]])
    blue = np.stack([const(-1.0)[0], const(-1.0)[0], const(1.0)[0]])
    # Each output has the wrong colour, but the two sets have the same palette.
    outputs, targets = [red, blue], [blue, red]
    assert M.lab_color_score(red, blue)["b"] == pytest.approx(0.0)  # b*: 67 vs -108
    assert M.lab_color_score_split(outputs, targets)["mean"] == pytest.approx(1.0)


def test_lab_distributions_are_normalised():
    dists = M.lab_distributions([random_image(11), random_image(12)], bins=16)
    centers, p = dists["L"]
    assert centers.shape == p.shape == (16,)
    assert p.sum() == pytest.approx(1.0)
    assert centers[0] == pytest.approx(100 / 32)


# ----------------------------------------------------------------------------- evaluate_pairs


def test_evaluate_pairs_constant_difference():
    outputs = [const(0.0), const(0.5)]
    targets = [const(0.5), const(0.5)]  # second pair identical: PSNR inf -> capped
    result = M.evaluate_pairs(outputs, targets)
    assert result["n"] == 2
    assert result["l1"] == pytest.approx(0.25)
    assert result["psnr"] == pytest.approx((10 * math.log10(4 / 0.25) + M.PSNR_CAP_DB) / 2)
    assert result["psnr_capped"] == 1
    assert result["ssim"] == pytest.approx((M.ssim(outputs[0], targets[0]) + 1.0) / 2)
    assert set(result) >= {"lab_L", "lab_a", "lab_b", "lab_mean"}


def test_evaluate_pairs_accepts_generators_and_checks_lengths():
    imgs = [random_image(s) for s in range(3)]
    result = M.evaluate_pairs((x for x in imgs), iter(imgs))
    assert result["l1"] == 0.0 and result["ssim"] == pytest.approx(1.0)
    assert result["lab_mean"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        M.evaluate_pairs(imgs, imgs[:2])


# ----------------------------------------------------------------------------- skimage as a peer


def test_ssim_matches_skimage():
    skm = pytest.importorskip("skimage.metrics")
    a, b = random_image(20, (3, 40, 37)), random_image(21, (3, 40, 37))
    ours = M.ssim(a, b)
    theirs = skm.structural_similarity(
        (a + 1) / 2, (b + 1) / 2, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, data_range=1.0, channel_axis=0,
    )
    assert ours == pytest.approx(theirs, abs=1e-6)


def test_rgb_to_lab_matches_skimage():
    color = pytest.importorskip("skimage.color")
    rgb = np.random.default_rng(22).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    np.testing.assert_allclose(M.rgb_to_lab(rgb), color.rgb2lab(rgb), atol=0.02)
