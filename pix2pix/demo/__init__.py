"""The interactive demo: paint an input, see G's output (python -m pix2pix.demo).

    translate.py   one image through G as the test command runs it (no Gradio)
    palette.py     the brush for a data set (the CMP facade classes' colours)
    app.py         the Gradio page and its /translate endpoint
    __main__.py    the command line
"""
