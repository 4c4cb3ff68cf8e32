"""One image in, G's output out: what the demo's page and its /translate endpoint run.

The image is preprocessed as the test command does (--preprocess at test time: resized to
--crop_size, or --load_size when given, then the centre crop), G runs in the paper's mode
(dropout on, the image's own BatchNorm statistics, dropout noise drawn from --seed exactly
as the test command's first image) or in eval mode, and the output is resized back to the
input's size. No Gradio here: the tests call it directly and through the server.
"""
import threading
import time

import numpy as np
from PIL import Image

import nn
from pix2pix.data.color import network_to_rgb, rgb_to_network
from pix2pix.data.datasets import preprocess_for_test
from pix2pix.data.images import BICUBIC, DataError
from pix2pix.data.pairs import to_array
from pix2pix.data.preprocess import size_problem
from pix2pix.evaluation.visualize import tensor_to_image
from pix2pix.models.networks import dropout_generator, unet_depth
from pix2pix.models.pix2pix_model import paper_inference

# A pasted photo larger than this is refused before any resizing (about 64 megabytes as RGB).
MAX_PIXELS = 4096 * 4096


class Translator:
    """G and the options it was trained with (after evaluate.load_generator).

    translate(image, paper_mode, seed) -> PIL RGB image of the input's size. One call runs
    at a time (a lock): the page's events and API calls share one G and its noise stream.
    """

    def __init__(self, G, opt, given=frozenset()):
        self.G, self.opt = G, opt
        self.load_size = opt.load_size if "load_size" in given else opt.crop_size
        self.colorization = opt.dataset_mode == "colorization"
        self._lock = threading.Lock()

    def network_input(self, image):
        """PIL image -> (input_nc, H, W) float32 in [-1, 1], as the test command reads it.
        Colorization: the photo's lightness L (the photo turned grey)."""
        opt = self.opt
        if image.width * image.height > MAX_PIXELS:
            raise DataError(f"the image is {image.width}x{image.height}; resize it below "
                            f"{MAX_PIXELS:,} pixels (this model works at {opt.crop_size}x"
                            f"{opt.crop_size})")
        problem = size_problem(image.size, opt.preprocess, self.load_size, opt.crop_size,
                               2 ** unet_depth(opt.netG))
        if problem:
            raise DataError(problem)
        image = preprocess_for_test(image.convert("RGB"), opt.preprocess, self.load_size,
                                opt.crop_size, grey=opt.input_nc == 1 and not self.colorization)
        if self.colorization:
            return rgb_to_network(np.asarray(image))[0]
        return to_array(image)

    def run_G(self, x, paper_mode=True, seed=0):
        """(C, H, W) input -> (output_nc, H, W) output, in the chosen inference mode."""
        with self._lock:
            if paper_mode:
                # The test command's G starts its noise at define_G's seed; so does each call.
                self.G.dropout_generator.bit_generator.state = \
                    dropout_generator(seed).bit_generator.state
                context = paper_inference(self.G)
            else:
                self.G.eval()
                context = nn.no_grad()
            with context:
                y = self.G(nn.Tensor(nn.to_device(x[None], self.opt.device)))
            return nn.to_numpy(y.data)[0]

    def translate(self, image, paper_mode=True, seed=0):
        """PIL image (any size, any mode) -> G's output as a PIL RGB image of that size."""
        x = self.network_input(image)
        y = self.run_G(x, paper_mode, int(seed))
        picture = tensor_to_image(network_to_rgb(x, y) if self.colorization else y)
        picture = picture.convert("RGB")
        return picture if picture.size == image.size else picture.resize(image.size, BICUBIC)

    def time_forward(self, repeats=2):
        """Median seconds of one G forward at the model's size (after a warm-up run)."""
        size = self.opt.crop_size
        x = np.zeros((self.opt.input_nc, size, size), np.float32)
        self.run_G(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            self.run_G(x)
            times.append(time.perf_counter() - start)
        return float(np.median(times))


def blank_image(size, colour):
    """A size x size RGB canvas of one colour (r, g, b)."""
    return Image.new("RGB", (size, size), tuple(colour))
