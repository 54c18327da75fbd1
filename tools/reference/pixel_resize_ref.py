#!/usr/bin/env python3
"""pixel_resize_ref.py: reference outputs of PyTorch's antialiased bilinear resize
(F.interpolate(mode="bilinear", align_corners=False, antialias=True)), the filter that
engine/vision/preprocess.c's prep_resize claims to match. Writes tests/pixel/ref/resize_ref.bin:

  "MAMARSZ1", int32 ncases, then per case: int32 H, W, OH, OW, float32 input (H*W),
  float32 output (OH*OW), all little endian.

Run: python3 tools/reference/pixel_resize_ref.py tests/pixel/ref/resize_ref.bin
"""
import struct
import sys

import torch
import torch.nn.functional as F

CASES = [(37, 23, 16, 16), (10, 7, 25, 19), (40, 13, 7, 29), (200, 150, 37, 37),
         (64, 64, 64, 64), (97, 61, 518 // 7, 518 // 9), (3, 1000, 2, 11)]


def main(out_path):
    g = torch.Generator().manual_seed(1234)
    with open(out_path, "wb") as f:
        f.write(b"MAMARSZ1")
        f.write(struct.pack("<i", len(CASES)))
        for h, w, oh, ow in CASES:
            x = torch.rand((1, 1, h, w), generator=g, dtype=torch.float32)
            y = F.interpolate(x.double(), size=(oh, ow), mode="bilinear", align_corners=False,
                              antialias=True).float()
            f.write(struct.pack("<4i", h, w, oh, ow))
            f.write(x.numpy().astype("<f4").tobytes())
            f.write(y.numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/pixel/ref/resize_ref.bin")
