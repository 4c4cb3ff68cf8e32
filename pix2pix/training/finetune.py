"""Starting a run from weights: a weights-only snapshot (--continue_train --epoch N) or
--init_G FILE (ours or the official port's latest_net_G.pth). The optimisers start fresh:
a snapshot keeps no Adam moments, and foreign ones would not fit."""
from pathlib import Path

from pix2pix.files.checkpoint import CheckpointError, read_checkpoint
from pix2pix.files.official import infer_generator, official_to_ours
from pix2pix.files.pth import load_pth

# The options that decide G's shapes (D is not loaded by --init_G).
G_OPTIONS = ("netG", "ngf", "norm", "no_skips", "input_nc", "output_nc")


def _load_ours(G, path, options):
    meta, arrays = read_checkpoint(path)
    saved = meta.get("options", {})
    diffs = [f"{k}: file {saved[k]!r}, now {options[k]!r}" for k in G_OPTIONS
             if k in saved and k in options and saved[k] != options[k]]
    if diffs:
        raise CheckpointError(f"--init_G {path} holds another generator: " + "; ".join(diffs)
                              + ". Give the same options to start from it.")
    G.load_state_dict({k[2:]: v for k, v in arrays.items() if k.startswith("G.")})
    return f"epoch {meta['epoch']} of {saved.get('name', path)}"


def _load_official(G, path, options):
    state = load_pth(path)
    found, key_map = infer_generator(state)
    diffs = [f"{k}: file {found[k]!r}, now {options.get(k)!r}"
             for k in ("netG", "ngf", "input_nc", "output_nc", "norm")
             if options.get(k) != found[k]]
    if diffs:
        raise CheckpointError(f"--init_G {path} holds another generator: " + "; ".join(diffs))
    shapes = {k: v.shape for k, v in G.state_dict().items()}
    G.load_state_dict(official_to_ours(state, shapes, key_map))
    return "the official port's weights"


def init_generator(G, path, options):
    """Load G's weights from ``path``; returns a line saying what was loaded."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"--init_G {path}: no such file")
    loader = _load_official if path.suffix in (".pth", ".pt") else _load_ours
    what = loader(G, path, options)
    return (f"G starts from {path} ({what}); D and both optimisers start fresh "
            "(fine-tuning, not a resume)")
