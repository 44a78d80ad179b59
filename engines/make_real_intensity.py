"""Write rtecho/data/real_intensity_quantiles.json: in-sector grey-level quantiles of permissively licensed real frames.

Only statistics are stored (101 quantiles per frame), never an image. Sources, all permissive:
- the 10 MIT-licensed stills of ../shared/data/real/raventan95-echo-view-classifier (read locally);
- pydicom's real A4C cine (``pydicom.examples.ybr_color``, 30 frames, every 5th frame);
- pydicom-data's 120-frame original (``color3d_jpeg_baseline.dcm``, MIT, every 20th frame).
The dev split (../shared/data/dev) is never read. Run: .venv/bin/python engines/make_real_intensity.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from rtecho.io import open_source
from rtecho.train.data import read_image, resize_gray
from rtecho.train.transfer import intensity_quantiles

SIZE = (128, 128)
REAL = Path(__file__).resolve().parents[2] / "shared/data/real/raventan95-echo-view-classifier"


def cine_frames(path: str, every: int) -> list[np.ndarray]:
    with open_source(path) as src:
        return [f.image for f in src if f.index % every == 0]


def main() -> int:
    import pydicom.examples
    from pydicom.data import get_testdata_file

    items: list[tuple[str, np.ndarray]] = []
    for p in sorted(REAL.glob("*.png")) + sorted(REAL.glob("*.jpg")):
        items.append((f"raventan95-echo-view-classifier/{p.name} (MIT)", read_image(p)))
    for i, img in enumerate(cine_frames(str(pydicom.examples.get_path("ybr_color")), 5)):
        items.append((f"pydicom.examples ybr_color frame {5 * i} (MIT)", img))
    for i, img in enumerate(cine_frames(get_testdata_file("color3d_jpeg_baseline.dcm"), 20)):
        items.append((f"pydicom-data color3d_jpeg_baseline.dcm frame {20 * i} (MIT)", img))
    curves = []
    for source, img in items:
        q = intensity_quantiles(resize_gray(img, SIZE))
        if q is not None:
            curves.append({"source": source, "quantiles": [round(float(v), 2) for v in q]})
    out = Path(__file__).resolve().parents[1] / "rtecho/data/real_intensity_quantiles.json"
    doc = {
        "what": "in-sector grey-level quantiles (0..100 %) of real frames resized to 128x128 grey; statistics only",
        "made_by": "engines/make_real_intensity.py",
        "curves": curves,
    }
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(curves)} curves -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
