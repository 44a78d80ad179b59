"""The EchoNet-Dynamic layout reader on a small simulator export in that layout, end to end."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from rtecho.cardiac.tracing import mask_from_tracing, tracing_from_mask
from rtecho.train.echonet import EchoNetError, EchoNetLayout, read_tracings, segmentation_arrays

pytest.importorskip("av")


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(bool), b.astype(bool)
    return 2.0 * (a & b).sum() / max(1, a.sum() + b.sum())


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    from rtecho.synth.export import generate_dataset

    out = tmp_path_factory.mktemp("echonet")
    generate_dataset(
        out, ["A4C", "A2C"], 5, size_hw=(112, 112), seed=3, cine=True, progress=False, n_frames=24, fps=30.0
    )
    # a user's copy has its own split: every 5th loop TEST (the export's i % 10 rule gives none for n=5)
    flist = out / "cines" / "FileList.csv"
    with open(flist, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for k, r in enumerate(rows):
        r["Split"] = "TEST" if k % 5 == 4 else "TRAIN"
    with open(flist, "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    return out / "cines"


def test_volume_tracings_csv_is_in_echonet_format(export):
    with open(export / "VolumeTracings.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["FileName", "X1", "Y1", "X2", "Y2", "Frame"]
    names = {r[0] for r in rows[1:]}
    assert len(names) == 10 and all(n.endswith(".avi") for n in names)
    traces = read_tracings(export / "VolumeTracings.csv")
    for frames in traces.values():
        assert len(frames) == 2 and all(t.shape == (21, 4) for t in frames.values())


def test_reader_masks_match_the_simulator_masks_and_ef(export):
    ds = EchoNetLayout(export)
    assert len(ds) == 10
    for v in ds.videos:
        truth = np.load(export / "masks" / f"{v.name}.npz")
        assert {v.ed_frame, v.es_frame} == {int(truth["ed_index"]), int(truth["es_index"])}
        assert v.ed_frame == int(truth["ed_index"])
        for f in (v.ed_frame, v.es_frame):
            assert _dice(v.mask(f), truth["lv_masks"][f]) > 0.9
        _, _, ef = v.tracing_ef()
        assert abs(ef - v.ef) < 6.0, (v.name, ef, v.ef)
    errs = [abs(v.tracing_ef()[2] - v.ef) for v in ds.videos]
    assert np.mean(errs) < 3.0


def test_split_filter_and_pairs(export):
    train = EchoNetLayout(export, split="train")
    test = EchoNetLayout(export, split="TEST")
    assert len(train) == 8 and len(test) == 2
    img, mask, info = next(test.pairs())
    assert img.shape[:2] == (112, 112) and img.dtype == np.uint8
    assert mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 1} and info["kind"] in ("ED", "ES")


def test_echonet_polygon_is_the_even_odd_pixel_centre_rule():
    # a square with vertices on pixel centres: rows/cols 2..5 have centres on the edges; the crossing
    # test takes the top and left edges in, the bottom and right out (as skimage.draw.polygon does)
    tr = np.zeros((3, 4))
    tr[1] = [2, 2, 6, 2]
    tr[2] = [2, 6, 6, 6]  # X1 side (2,2)->(2,6); X2 side (6,2)->(6,6) reversed
    m = mask_from_tracing(tr, (10, 10))
    ys, xs = np.nonzero(m)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (2, 5, 2, 5)


def test_tracing_round_trip_on_an_ellipse():
    yy, xx = np.mgrid[:112, :112]
    m = ((xx - 50) / 14.0) ** 2 + ((yy - 60) / 33.0) ** 2 <= 1
    back = mask_from_tracing(tracing_from_mask(m), m.shape)
    assert _dice(back, m) > 0.93


def test_missing_files_and_bad_rows_are_clear_errors(tmp_path, export):
    with pytest.raises(EchoNetError, match="FileList.csv"):
        EchoNetLayout(tmp_path)
    (tmp_path / "FileList.csv").write_text((export / "FileList.csv").read_text())
    (tmp_path / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\nA.avi,1,2,x,4,5\n")
    with pytest.raises(EchoNetError, match="malformed"):
        EchoNetLayout(tmp_path)
    (tmp_path / "VolumeTracings.csv").write_text("FileName,X1,Y1,X2,Y2,Frame\n")
    with pytest.raises(EchoNetError, match="not found"):
        EchoNetLayout(tmp_path)


def test_train_and_evaluate_a_segmenter_on_the_export(export):
    """A few steps of a tiny dilated-conv segmenter on TRAIN pairs lift test-split Dice from 0."""
    torch = pytest.importorskip("torch")
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    xtr, ytr, _ = segmentation_arrays(EchoNetLayout(export, split="TRAIN"), (40, 40))
    xte, yte, info = segmentation_arrays(EchoNetLayout(export, split="TEST"), (40, 40))
    assert xtr.shape == (16, 1, 40, 40) and ytr.shape == (16, 40, 40) and len(info) == 4
    mu, sd = float(xtr.mean()), float(xtr.std())
    x, y = torch.from_numpy((xtr - mu) / sd), torch.from_numpy(ytr)
    layers: list[nn.Module] = []
    cin = 1
    for dil in (1, 2, 4, 8):
        layers += [nn.Conv2d(cin, 8, 3, padding=dil, dilation=dil), nn.ReLU()]
        cin = 8
    net = nn.Sequential(*layers, nn.Conv2d(8, 2, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)

    def dice(xs: np.ndarray, ys: np.ndarray) -> float:
        with torch.no_grad():
            pred = net(torch.from_numpy((xs - mu) / sd)).argmax(1).numpy()
        return float(np.mean([_dice(p, t) for p, t in zip(pred, ys, strict=True)]))

    before = dice(xte, yte)
    losses = []
    for _ in range(80):
        opt.zero_grad()
        logits = net(x)
        p, yf = logits.softmax(1)[:, 1], y.float()
        soft_dice = (2 * (p * yf).sum((1, 2)) + 1) / (p.sum((1, 2)) + yf.sum((1, 2)) + 1)
        loss = nn.functional.cross_entropy(logits, y) + (1 - soft_dice).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    after = dice(xte, yte)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert after > max(before + 0.3, 0.5), (before, after)


def test_echonet_release_layout_videos_folder_and_ed_first(tmp_path, export):
    """EchoNet's own layout: Videos/, FileList without extensions or extra columns, ED traced first."""
    import shutil

    (tmp_path / "Videos").mkdir()
    with open(export / "FileList.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:3]
    cols = ["FileName", "EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS", "NumberOfFrames", "Split"]
    with open(tmp_path / "FileList.csv", "w", newline="") as fh:
        wr = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        wr.writeheader()
        wr.writerows(rows)
    traces = read_tracings(export / "VolumeTracings.csv")
    with open(tmp_path / "VolumeTracings.csv", "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["FileName", "X1", "Y1", "X2", "Y2", "Frame"])
        for r in rows:
            shutil.copy(export / f"{r['FileName']}.avi", tmp_path / "Videos")
            frames = traces[f"{r['FileName']}.avi"]
            for f in sorted(frames, key=lambda k: k != int(r["EDFrame"])):  # ED listed first
                for line in frames[f]:
                    wr.writerow([f"{r['FileName']}.avi", *line, f])
    ds = EchoNetLayout(tmp_path)
    assert len(ds) == 3
    for v, r in zip(ds.videos, rows, strict=True):
        assert v.path.parent.name == "Videos"
        assert v.ed_frame == int(r["EDFrame"]) and v.es_frame == int(r["ESFrame"])
        assert abs(v.tracing_ef()[2] - v.ef) < 6.0
