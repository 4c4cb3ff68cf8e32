"""The demo's page, in Gradio: paint an input, see G's output beside it.

build_app(translator, ...) -> gr.Blocks. The only module that imports Gradio (the [demo]
extra); the translation itself is translate.Translator.
"""
import os

# No usage statistics to Gradio or Hugging Face; read when gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import gradio as gr
from PIL import Image

from pix2pix.data.images import DataError
from pix2pix.demo.palette import hex_colour
from pix2pix.demo.translate import blank_image

MODES = ("paper mode", "eval mode")
MODE_NOTE = (
    "**paper mode**: G runs as the paper tests it: dropout stays on and BatchNorm uses this "
    "image's own statistics, so the seed draws the dropout noise (another seed, another "
    "output). **eval mode**: no dropout and BatchNorm's running averages from training: "
    "one fixed output. Lessons 10 (`lessons/10_training_on_facades.py`) and 11 "
    "(`lessons/11_evaluation_and_ablations.py`) show the two side by side.")
PICTURE_HEIGHT = 360  # pixels on the page, input and output alike, whatever the model's size
# The output fills its box, pixels kept sharp (a 32x32 model's output is tiny otherwise).
CSS = "#output img {width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated}"
# Uploads larger than this are refused by the server before they are decoded.
MAX_UPLOAD = "10mb"


def legend(colours):
    """HTML: one swatch and name per brush colour."""
    swatch = ('<span style="display:inline-block;margin:2px 8px 2px 0"><span style="display:'
              'inline-block;width:14px;height:14px;vertical-align:middle;background:{};'
              'border:1px solid #888"></span> {}</span>')
    return "".join(swatch.format(hex_colour(rgb), name) for name, rgb in colours.items())


def composite(editor_value):
    """The painted picture from an ImageEditor value (background + strokes), or None."""
    if not editor_value:
        return None
    image = editor_value.get("composite") or editor_value.get("background")
    return None if image is None else image.convert("RGB")


def canvas(size, brush, blank):
    """The ImageEditor to paint on: size x size, the brush's colours only, starting blank."""
    _, colours, _, first_colour = brush
    stroke = max(2, size // 16)
    return gr.ImageEditor(
        value=blank, type="pil", image_mode="RGB", label="input (paint here)",
        canvas_size=(size, size), fixed_canvas=True, height=PICTURE_HEIGHT, format="png",
        sources=(), layers=False, transforms=(), elem_id="canvas",
        brush=gr.Brush(colors=[hex_colour(c) for c in colours.values()],
                       default_color=hex_colour(first_colour), color_mode="fixed",
                       default_size=stroke),
        eraser=gr.Eraser(default_size=stroke))


def build_app(translator, title, brush, examples=(), live=True, eval_mode=False):
    """The page for ``translator``. brush: palette.brush_for's (kind, colours, canvas
    colour, first colour); examples: paths of input images; live: translate after every
    stroke (else only on the Translate button); eval_mode: the mode selected first."""
    blank = blank_image(translator.opt.crop_size, brush[2])

    def translate(image, mode, seed):
        if image is None:
            raise gr.Error("no input image: paint, pick an example or upload one")
        try:
            return translator.translate(image, mode == MODES[0], int(seed or 0))
        except (DataError, ValueError) as e:
            raise gr.Error(str(e)) from None

    def translate_canvas(editor_value, mode, seed):
        return translate(composite(editor_value), mode, seed)

    def load_example(selected: gr.SelectData):
        with Image.open(examples[selected.index]) as image:
            return image.convert("RGB")

    with gr.Blocks(title=f"pix2pix demo: {title}") as app:
        gr.Markdown(f"## pix2pix: draw an input, see G's output\n{title}")
        with gr.Row():
            with gr.Column():
                editor = canvas(translator.opt.crop_size, brush, blank)
                gr.HTML(legend(brush[1]), label="brush colours")
                clear = gr.Button("Clear (start blank)")
                if examples:  # a gallery: gr.Examples does not draw on this canvas
                    gallery = gr.Gallery([str(p) for p in examples], columns=4, height=120,
                                         allow_preview=False, elem_id="examples",
                                         label="examples from the validation split (click)")
            with gr.Column():
                output = gr.Image(type="pil", format="png", label="G's output",
                                  elem_id="output", interactive=False, height=PICTURE_HEIGHT)
                with gr.Row():
                    mode = gr.Radio(list(MODES), value=MODES[eval_mode], label="inference")
                    seed = gr.Number(value=translator.opt.seed, precision=0,
                                     label="seed (paper mode)")
                button = gr.Button("Translate", variant="primary")
                gr.Markdown(MODE_NOTE)
        with gr.Accordion("your own image (also the /translate API)", open=False):
            upload = gr.Image(type="pil", image_mode="RGB", label="upload an input image",
                              sources=("upload", "clipboard"))
        inputs = [editor, mode, seed]
        button.click(translate_canvas, inputs, output, api_visibility="private")
        if live:  # a stroke is an input event; Clear and the examples are changes
            gr.on([editor.input, editor.change], translate_canvas, inputs, output,
                  api_visibility="private", trigger_mode="always_last", show_progress="hidden")
        # No progress overlay on the canvas for these instant loads: Gradio's overlay could
        # stay up after the picture arrived ("processing" forever), covering the canvas.
        clear.click(lambda: blank, None, editor, api_visibility="private",
                    show_progress="hidden")
        if examples:
            gallery.select(load_example, None, editor, api_visibility="private",
                           show_progress="hidden")
        upload.upload(translate, [upload, mode, seed], output, api_name="translate")
    return app


def launch(app, port=7860, share=False, host="127.0.0.1"):
    """Serve the page without blocking; returns its local URL. Nothing leaves the machine
    unless share=True (Gradio's public link); the fonts are the browser's own (Gradio's
    default theme would fetch Google Fonts)."""
    theme = gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    _, url, _ = app.launch(server_name=host, server_port=port, share=share, theme=theme, css=CSS,
                           prevent_thread_lock=True, max_file_size=MAX_UPLOAD, ssr_mode=False,
                           quiet=True, footer_links=["api"])
    return url
