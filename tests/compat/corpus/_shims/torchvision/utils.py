"""save_image: writes the tensor's values as .npy beside the requested name (no image library needed)."""

import numpy as np


def save_image(tensor, fp, nrow=8, **kwargs):
    np.save(str(fp) + ".npy", np.asarray(tensor.detach().cpu().numpy() if hasattr(tensor, "detach") else tensor))
