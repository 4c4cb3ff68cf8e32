"""The data sets published with pix2pix (the port's download script): their names and the
direction each is usually trained in."""
DATASETS = ("facades", "cityscapes", "maps", "edges2shoes", "edges2handbags", "night2day")
# Which way each data set is usually trained (the port's READMEs and scripts): A is the
# left half of every pair. facades and cityscapes keep the photo on the left.
DIRECTIONS = {"facades": ("BtoA", "labels -> photo"), "cityscapes": ("BtoA", "labels -> photo"),
              "maps": ("AtoB", "aerial photo -> map"), "edges2shoes": ("AtoB", "edges -> photo"),
              "edges2handbags": ("AtoB", "edges -> photo"), "night2day": ("AtoB", "night -> day")}
# The port's pretrained pix2pix generators (its scripts/download_pix2pix_model.sh): the
# data set each was trained on and its direction there.
PRETRAINED = {"facades_label2photo": ("facades", "BtoA"), "sat2map": ("maps", "AtoB"),
              "map2sat": ("maps", "BtoA"), "edges2shoes": ("edges2shoes", "AtoB"),
              "day2night": ("night2day", "BtoA")}
