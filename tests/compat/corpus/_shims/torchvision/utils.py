"""save_image: writes the tensor's values as .npy beside the requested name (no image library needed)."""

from pathlib import Path

import numpy as np


def save_image(tensor, fp, nrow=8, **kwargs):
    Path(fp).parent.mkdir(parents=True, exist_ok=True)  # the example's repository ships its results/ folder
    np.save(str(fp) + ".npy", np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor))
