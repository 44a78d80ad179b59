"""A real OpenIGTLink server for the tests: pyigtl's OpenIGTLinkServer sending pattern frames.

Run as a subprocess so that a test can kill it (SIGKILL) mid-stream and start another on the
same port. It waits for a client, sends frames ``start .. start+n-1`` (pattern frame ``i`` of
tests/fixtures.py, timestamp ``T0 + i / fps``) paced at ``fps``, then idles until killed or
``--linger`` seconds have passed. ``--malformed I`` sends frame ``I`` with its pixel data cut
short (the header's body size matches the bytes sent, so the stream can still be framed) and a
STRING message after it. Prints ``ready`` once listening and ``sent N`` at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
import pyigtl  # noqa: E402

from tests.fixtures import pattern_frame  # noqa: E402

T0 = 1_700_000_000.0


class TruncatedImage(pyigtl.ImageMessage):
    def _pack_content(self):
        return super()._pack_content()[:-100]


def image_message(i: int, args: argparse.Namespace) -> pyigtl.ImageMessage:
    img = pattern_frame(i, tuple(args.size), gray=args.gray)
    if args.uint16:
        img = img.astype(np.uint16) << 8
    cls = TruncatedImage if i == args.malformed else pyigtl.ImageMessage
    matrix = np.diag([args.spacing[1], args.spacing[0], 1.0, 1.0])  # i (column) and j (row) spacing
    return cls(
        img[np.newaxis], ijk_to_world_matrix=matrix, timestamp=T0 + i / args.fps, device_name=args.device
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", type=int, nargs=2, default=(48, 64))
    ap.add_argument("--gray", action="store_true")
    ap.add_argument("--uint16", action="store_true")
    ap.add_argument("--spacing", type=float, nargs=2, default=(0.3, 0.2))
    ap.add_argument("--device", default="Image_Reference")
    ap.add_argument("--malformed", type=int, default=-1)
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait after the client connects")
    ap.add_argument("--linger", type=float, default=20.0)
    args = ap.parse_args()
    server = pyigtl.OpenIGTLinkServer(port=args.port, local_server=True)
    print("ready", flush=True)
    deadline = time.monotonic() + 20
    while not server.is_connected():
        if time.monotonic() > deadline:
            print("no client", flush=True)
            return 1
        time.sleep(0.01)
    time.sleep(args.delay)
    t0 = time.monotonic()
    for k, i in enumerate(range(args.start, args.start + args.n)):
        server.send_message(image_message(i, args), wait=False)
        if i == args.malformed:
            server.send_message(pyigtl.StringMessage("not an image", device_name="Note"), wait=False)
        pause = t0 + (k + 1) / args.fps - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print(f"sent {args.n}", flush=True)
    time.sleep(args.linger)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
