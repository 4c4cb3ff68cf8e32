"""Draw an input, see the photo: a trained generator in the browser.

    python -m pix2pix.demo --name facades_label2photo           # our checkpoints/<name>/
    python -m pix2pix.demo --checkpoint latest_net_G.pth        # official weights
    python -m pix2pix.demo --name facades_label2photo_pretrained  # after download --pretrained

Takes the test command's options (--checkpoints_dir, --epoch, --device, --seed, --eval,
--dataroot for the examples, ...); the model's options come from the checkpoint as there.
Prints the local URL; nothing is shared and no usage statistics are sent unless --share.
Needs the [demo] extra: pip install -e ".[demo]".
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

import nn
from pix2pix.data.color import network_to_rgb
from pix2pix.data.images import DataError
from pix2pix.data.published import PRETRAINED
from pix2pix.demo.palette import brush_for
from pix2pix.demo.translate import Translator
from pix2pix.evaluation.evaluate import (
    input_items,
    load_generator,
    parse_test_options,
    test_parser,
)
from pix2pix.evaluation.visualize import save_image
from pix2pix.files.checkpoint import CheckpointError
from pix2pix.options.common import range_errors

# A slower forward pass would make painting lag: the output then waits for the button.
LIVE_LIMIT_S = 2.0


def demo_parser():
    p = test_parser()
    p.description = __doc__.split("\n")[0]
    g = p.add_argument_group("the demo")
    g.add_argument("--port", type=int, default=7860, help="the local port to serve on")
    g.add_argument("--host", default="127.0.0.1",
                   help="the address to serve on (0.0.0.0: reachable from other machines)")
    g.add_argument("--share", action="store_true",
                   help="also make a public gradio.live link (through Gradio's servers)")
    g.add_argument("--num_examples", type=int, default=4,
                   help="inputs of the --dataroot val split offered as examples")
    return p


def pretrained_defaults(opt, given):
    """--name <model>_pretrained (download --pretrained): the port's model was trained on a
    known data set in a known direction; use them unless given. Returns lines to print."""
    model = opt.name[:-len("_pretrained")] if opt.name.endswith("_pretrained") else None
    if opt.checkpoint or model not in PRETRAINED:
        return []
    dataset, direction = PRETRAINED[model]
    if "dataroot" not in given:
        opt.dataroot = str(Path(opt.dataroot).parent / dataset)
    if "direction" not in given:
        opt.direction = direction
    return [(f"{opt.name}: the port's {model}, trained on {dataset} ({opt.direction}); "
             f"examples from {opt.dataroot}")]


def example_inputs(opt, given, folder):
    """The first --num_examples inputs of the val split, saved as PNGs in folder (what the
    page shows as examples); none, with one line saying why, without that split."""
    opt.phase, opt.num_test = "val", opt.num_examples
    try:
        items = list(input_items(opt, given)) if opt.num_examples > 0 else []
    except DataError as e:
        print(f"no examples: {str(e).splitlines()[0]}")
        return []
    paths = []
    for item in items:
        A = item["A"]
        if opt.dataset_mode == "colorization":  # the L input shown as a grey photo
            A = network_to_rgb(A, np.zeros((2,) + A.shape[1:], np.float32))
        paths.append(Path(folder) / f"{item['name']}.png")
        save_image(A, paths[-1])
    return paths


def build(argv, folder):
    """(app, translator, options) for a command line; examples are written to folder."""
    opt, given, notes = parse_test_options(argv, demo_parser())
    for line in notes + pretrained_defaults(opt, given):
        print(line)
    errors = range_errors(opt)
    if errors:
        raise SystemExit("error: " + "\nerror: ".join(errors))
    nn.check_device(opt.device)
    G, source = load_generator(opt, given)
    G.to(opt.device)
    translator = Translator(G, opt, given)
    seconds = translator.time_forward()
    live = seconds <= LIVE_LIMIT_S
    print(f"G's forward pass at {opt.crop_size}x{opt.crop_size} on {opt.device}: "
          f"{seconds:.2f} s; " + ("the output follows every stroke" if live else
                                  "press Translate to update the output"))
    from pix2pix.demo.app import build_app  # Gradio: only the demo needs it
    app = build_app(translator, source, brush_for(opt.dataroot, opt.direction, opt.name),
                    example_inputs(opt, given, folder), live, eval_mode=opt.eval)
    return app, translator, opt


def main(argv=None):
    try:
        import gradio  # noqa: F401
    except ImportError:
        print('error: the demo needs Gradio: pip install -e ".[demo]"', file=sys.stderr)
        return 2
    from pix2pix.demo.app import launch
    with tempfile.TemporaryDirectory() as folder:
        try:
            app, _, opt = build(argv, folder)
        except (DataError, CheckpointError, RuntimeError, ValueError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        try:
            url = launch(app, opt.port, opt.share, opt.host)
        except OSError:  # Gradio's message names its own launch() arguments
            print(f"error: cannot serve on port {opt.port} of {opt.host}: it is taken (or "
                  "not this machine's address); pass another --port (or --host)",
                  file=sys.stderr)
            return 2
        print(f"demo running at {url} (Ctrl-C stops it)", flush=True)
        try:
            app.block_thread()
        except KeyboardInterrupt:
            pass
        finally:
            app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
