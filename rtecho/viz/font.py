"""A built-in 5x7 bitmap font for printable ASCII, drawn with numpy alone (no cv2, no PIL).

Each glyph sits in a 6x8 cell (one blank column on the right, one blank row below), scaled by an
integer factor. Scaled glyph atlases are cached, so rendering a string is one fancy-index.

>>> import numpy as np
>>> img = np.zeros((20, 60, 3), np.uint8)
>>> draw_text(img, "A4C 92%", (2, 2), color=(255, 255, 255))
(7, 41)
>>> bool(img.any())
True
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

GLYPH_H, GLYPH_W = 7, 5
#: Cell size of one character at scale 1 (glyph plus one blank row and column).
CELL_H, CELL_W = GLYPH_H + 1, GLYPH_W + 1
FIRST, LAST = 0x20, 0x7E
#: Every character the font can draw; anything else is drawn as "?".
PRINTABLE: str = "".join(chr(c) for c in range(FIRST, LAST + 1))

# Classic 5x7 font, column-major: 5 bytes per glyph, bit 0 is the top row.
_COLUMNS = bytes.fromhex(
    "0000000000"  # space
    "00005f0000"  # !
    "0007000700"  # "
    "147f147f14"  # #
    "242a7f2a12"  # $
    "2313086462"  # %
    "3649552250"  # &
    "0005030000"  # '
    "001c224100"  # (
    "0041221c00"  # )
    "082a1c2a08"  # *
    "08083e0808"  # +
    "0050300000"  # ,
    "0808080808"  # -
    "0060600000"  # .
    "2010080402"  # /
    "3e5149453e"  # 0
    "00427f4000"  # 1
    "4261514946"  # 2
    "2141454b31"  # 3
    "1814127f10"  # 4
    "2745454539"  # 5
    "3c4a494930"  # 6
    "0171090503"  # 7
    "3649494936"  # 8
    "064949291e"  # 9
    "0036360000"  # :
    "0056360000"  # ;
    "0814224100"  # <
    "1414141414"  # =
    "0041221408"  # >
    "0201510906"  # ?
    "3249794136"  # @
    "7e1111117e"  # A
    "7f49494936"  # B
    "3e41414122"  # C
    "7f4141221c"  # D
    "7f49494941"  # E
    "7f09090101"  # F
    "3e41495132"  # G
    "7f0808087f"  # H
    "00417f4100"  # I
    "2040413f01"  # J
    "7f08142241"  # K
    "7f40404040"  # L
    "7f020c027f"  # M
    "7f0408107f"  # N
    "3e4141413e"  # O
    "7f09090906"  # P
    "3e4151215e"  # Q
    "7f09192946"  # R
    "4649494931"  # S
    "01017f0101"  # T
    "3f4040403f"  # U
    "1f2040201f"  # V
    "3f4038403f"  # W
    "6314081463"  # X
    "0708700807"  # Y
    "6151494543"  # Z
    "007f414100"  # [
    "0204081020"  # backslash
    "0041417f00"  # ]
    "0402010204"  # ^
    "4040404040"  # _
    "0001020400"  # `
    "2054545478"  # a
    "7f48444438"  # b
    "3844444420"  # c
    "384444487f"  # d
    "3854545418"  # e
    "087e090102"  # f
    "0c5252523e"  # g
    "7f08040478"  # h
    "00447d4000"  # i
    "2040443d00"  # j
    "7f10284400"  # k
    "00417f4000"  # l
    "7c04180478"  # m
    "7c08040478"  # n
    "3844444438"  # o
    "7c14141408"  # p
    "081414187c"  # q
    "7c08040408"  # r
    "4854545420"  # s
    "043f444020"  # t
    "3c4040207c"  # u
    "1c2040201c"  # v
    "3c4030403c"  # w
    "4428102844"  # x
    "0c5050503c"  # y
    "4464544c44"  # z
    "0008364100"  # {
    "00007f0000"  # |
    "0041360800"  # }
    "0804081008"  # ~
)


def _build_cells() -> np.ndarray:
    cols = np.frombuffer(_COLUMNS, np.uint8).reshape(-1, GLYPH_W)
    if len(cols) != LAST - FIRST + 1:
        raise AssertionError(f"font table has {len(cols)} glyphs, expected {LAST - FIRST + 1}")
    bits = (cols[:, None, :] >> np.arange(GLYPH_H, dtype=np.uint8)[None, :, None]) & 1  # (n, 7, 5)
    cells = np.zeros((len(cols), CELL_H, CELL_W), bool)
    cells[:, :GLYPH_H, :GLYPH_W] = bits.astype(bool)
    return cells


_CELLS = _build_cells()
_CELLS.setflags(write=False)
_QUESTION = ord("?") - FIRST


def glyph(char: str) -> np.ndarray:
    """The 7x5 boolean bitmap of one character ("?" for characters outside printable ASCII)."""
    return _CELLS[_codes(char)[0], :GLYPH_H, :GLYPH_W].copy()


@lru_cache(maxsize=16)
def _atlas(scale: int) -> np.ndarray:
    """All cells scaled by ``scale``: shape (n_glyphs, CELL_H*scale, CELL_W*scale), read-only."""
    atlas = _CELLS.repeat(scale, axis=1).repeat(scale, axis=2)
    atlas.setflags(write=False)
    return atlas


def _codes(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(np.int64) - FIRST
    codes[(codes < 0) | (codes > LAST - FIRST)] = _QUESTION
    return codes


def _check_scale(scale: int) -> int:
    if int(scale) != scale or scale < 1:
        raise ValueError(f"font scale must be a positive integer, got {scale}")
    return int(scale)


def text_size(text: str, scale: int = 1) -> tuple[int, int]:
    """Height and width in pixels of one line of ``text`` (without the trailing blank column/row)."""
    scale = _check_scale(scale)
    if not text:
        return (0, 0)
    return (GLYPH_H * scale, (len(text) * CELL_W - 1) * scale)


@lru_cache(maxsize=512)
def _mask_cached(text: str, scale: int) -> np.ndarray:
    mask = _render(text, scale)
    mask.setflags(write=False)
    return mask


def _render(text: str, scale: int) -> np.ndarray:
    cells = _atlas(scale)[_codes(text)]  # (n, ch, cw)
    n, ch, cw = cells.shape
    mask = cells.transpose(1, 0, 2).reshape(ch, n * cw)
    return mask[: GLYPH_H * scale, : (n * CELL_W - 1) * scale]


def text_mask(text: str, scale: int = 1, cache: bool = True) -> np.ndarray:
    """Boolean mask of one line of ``text``, shape :func:`text_size`.

    Short strings that repeat (labels) are cached; pass ``cache=False`` for strings that change
    every frame (timings), which are assembled from cached glyphs instead.

    >>> text_mask("Hi").shape
    (7, 11)
    """
    scale = _check_scale(scale)
    if not text:
        return np.zeros((0, 0), bool)
    if cache and len(text) <= 64:
        return _mask_cached(text, scale)
    return _render(text, scale)


def fit_text(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters, ending in ".." when it was cut."""
    if len(text) <= max_chars:
        return text
    if max_chars <= 2:
        return text[: max(max_chars, 0)]
    return text[: max_chars - 2] + ".."


def auto_scale(height: int) -> int:
    """Font scale for an image ``height`` pixels tall: 1 up to 399 px, then one step per 200 px.

    >>> auto_scale(112), auto_scale(240), auto_scale(600), auto_scale(1080)
    (1, 1, 3, 5)
    """
    return max(1, int(height) // 200)


def draw_text(
    image: np.ndarray,
    text: str,
    org_yx: tuple[int, int],
    color: tuple[int, int, int] = (255, 255, 255),
    scale: int = 1,
    cache: bool = True,
) -> tuple[int, int]:
    """Draw ``text`` in place on an HxWx3 uint8 ``image`` with its top-left corner at ``org_yx``.

    Text running off the image is clipped. Returns the (height, width) of the text.
    """
    mask = text_mask(text, scale, cache=cache)
    h, w = mask.shape
    if h == 0:
        return (0, 0)
    y0, x0 = int(org_yx[0]), int(org_yx[1])
    y1, x1 = min(y0 + h, image.shape[0]), min(x0 + w, image.shape[1])
    cy, cx = max(y0, 0), max(x0, 0)
    if y1 <= cy or x1 <= cx:
        return (h, w)
    sub = mask[cy - y0 : y1 - y0, cx - x0 : x1 - x0]
    image[cy:y1, cx:x1][sub] = color
    return (h, w)
