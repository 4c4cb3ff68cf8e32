"""Exercise 8.1 (lesson 08_patchgan.py): the receptive field of a stack of convolutions.

Grade it with:   python -m pytest --exercise 8.1
The library's version is ``pix2pix.models.patchgan.receptive_field``.
"""


def receptive_field(layers):
    """Exercise 8.1 (lesson 8, section 1). How many input pixels (per side) one output
    pixel sees through a chain of convolutions.

    layers: list of (kernel_size, stride) of each conv, in forward order (first layer
    first), e.g. conv_layers(D) = [(4, 2), (4, 2), (4, 2), (4, 1), (4, 1)] for the 70x70
    PatchGAN. Returns an int: 70 for that list, 1 for an empty list or for 1x1 convs.
    Padding shifts the window but does not change its size.
    Graded: the n-layer family (16, 34, 70, 142, 286), the PixelGAN, the library's
    discriminators, random chains against a brute-force count.
    """
    raise NotImplementedError("Exercise 8.1")
