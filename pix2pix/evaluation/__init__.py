"""Evaluation: the test command, metrics (L1, PSNR, SSIM, Lab histograms), pictures and
HTML pages."""
