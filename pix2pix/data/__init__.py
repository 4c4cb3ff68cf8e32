"""Data: image files, A|B pairs and the paper's jitter, the port's data set modes, the
synthetic facades, the loader. Imports models (the U-Net's size multiple) and nothing above."""
