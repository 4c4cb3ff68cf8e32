"""pix2pix (Isola et al., CVPR 2017) built on the hand-written ``nn`` library."""
