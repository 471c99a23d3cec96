#!/usr/bin/env python3
"""Reference outputs of ImageNet-C's corruptions, for tests/perturbations.rs.

Runs PyPI imagenet_c 0.0.2 (Hendrycks & Dietterich's own code) with the library versions it
was written for (tools/requirements-imagenet-c.txt, pinned by sha256, in a venv this script
builds at ~/.cache/preflight/venv-imagenet-c) on two fixed 224x224 images, and writes
tests/imagenet-c/:

- chart.png: a test chart drawn here (gradients, checkerboards of 2-8 px, disks, 1 px lines),
  and photo.png: the centre 224x224 of scikit-image's astronaut (models/blazeface/cases);
- <name>_<severity>.png: the chart under each deterministic corruption at severities 1, 3, 5
  (what preflight's output is compared with, pixel by pixel);
- reference.json: for every corruption (random ones too) and severity 1-5, the mean absolute
  change from the clean image (0-255 scale) on each image, the mean over seeds 0-9 for the
  random ones, which preflight's statistics are compared with.

Outputs are rounded to 8 bits as preflight's are. motion_blur needs ImageMagick's library
(Debian: apt-get install libmagickwand-6.q16-6). Run: python3 tools/imagenet_c_reference.py
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIREMENTS = os.path.join(ROOT, "tools", "requirements-imagenet-c.txt")
OUT = os.path.join(ROOT, "tests", "imagenet-c")
DETERMINISTIC = ["brightness", "contrast", "saturate", "gaussian_blur", "defocus_blur",
                 "zoom_blur", "pixelate", "jpeg_compression"]
RANDOM = ["gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "motion_blur",
          "fog", "elastic_transform"]
SEEDS = list(range(10))


def chart(np):
    y, x = np.mgrid[0:224, 0:224].astype(np.float64)
    img = np.stack([20 + 200 * x / 223, 20 + 200 * y / 223, np.full_like(x, 128.0)], axis=2)
    for (x0, y0, cell) in [(16, 16, 8), (120, 16, 4), (16, 120, 2)]:
        block = ((x[y0:y0 + 64, x0:x0 + 64] // cell + y[y0:y0 + 64, x0:x0 + 64] // cell) % 2) * 255
        img[y0:y0 + 64, x0:x0 + 64] = block[..., None]
    for (cx, cy, r, colour) in [(160, 150, 30, (230, 40, 40)), (185, 200, 14, (40, 60, 220)),
                                 (100, 100, 12, (250, 250, 60))]:
        mask = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
        img[mask] = colour
    for i in range(5):
        img[200 + 4 * i, 8:110] = (0, 0, 0) if i % 2 else (255, 255, 255)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_ppocr_cases import in_venv
    in_venv(__file__, REQUIREMENTS, "venv-imagenet-c")
    import warnings
    warnings.filterwarnings("ignore")
    import numpy as np
    from PIL import Image
    from imagenet_c import corruptions as C
    from skimage.filters import gaussian as sk_gaussian

    # scikit-image renamed gaussian's `multichannel=True` to `channel_axis=-1` (the only
    # change between the version imagenet_c was written for and the oldest one with wheels for
    # this Python); the call is otherwise the reference's own.
    def gaussian(image, sigma=1, multichannel=None, **kw):
        return sk_gaussian(image, sigma=sigma, channel_axis=-1 if multichannel else None, **kw)
    C.gaussian = gaussian

    # random_noise (impulse_noise) draws from its own generator, which np.random.seed does not
    # reach; seed it from NumPy's so every corruption is reproducible for a seed.
    sk_random_noise = C.sk.util.random_noise

    def random_noise(image, **kw):
        return sk_random_noise(image, seed=int(np.random.randint(2**31)), **kw)
    C.sk.util.random_noise = random_noise

    os.makedirs(OUT, exist_ok=True)
    clean = {"chart": chart(np)}
    photo = Image.open(os.path.join(ROOT, "models", "blazeface", "cases", "astronaut.png"))
    photo = np.array(photo.convert("RGB"))
    top, left = (photo.shape[0] - 224) // 2, (photo.shape[1] - 224) // 2
    clean["photo"] = photo[top:top + 224, left:left + 224].copy()
    for name, img in clean.items():
        Image.fromarray(img).save(os.path.join(OUT, f"{name}.png"), optimize=True)

    def corrupt(name, img, severity, seed):
        np.random.seed(seed)
        out = getattr(C, name)(Image.fromarray(img), severity)
        return np.clip(np.round(np.asarray(out, dtype=np.float64)), 0, 255).astype(np.uint8)

    stats = {}
    for name in DETERMINISTIC + RANDOM:
        seeds = SEEDS if name in RANDOM else [0]
        stats[name] = {}
        for image, img in clean.items():
            changes = []
            for severity in range(1, 6):
                diffs = [np.abs(corrupt(name, img, severity, s).astype(np.float64) - img).mean()
                         for s in seeds]
                changes.append(round(float(np.mean(diffs)), 3))
            stats[name][image] = changes
        if name in DETERMINISTIC:
            for severity in (1, 3, 5):
                out = corrupt(name, clean["chart"], severity, 0)
                Image.fromarray(out).save(os.path.join(OUT, f"{name}_{severity}.png"),
                                          optimize=True)
        print(name, stats[name])

    import cv2
    import PIL
    import scipy
    import skimage
    doc = {
        "what": "mean absolute change from the clean image, 0-255, severities 1-5; "
                "mean over numpy seeds 0-9 for random corruptions",
        "made_by": "python3 tools/imagenet_c_reference.py",
        "versions": {"imagenet_c": "0.0.2", "numpy": np.__version__, "scipy": scipy.__version__,
                     "scikit-image": skimage.__version__, "opencv": cv2.__version__,
                     "pillow": PIL.__version__},
        "random_seeds": SEEDS,
        "change": stats,
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
