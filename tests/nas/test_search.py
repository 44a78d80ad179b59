"""Search space, search network, genotype derivation and a tiny end-to-end search with resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rtecho.cli import main  # noqa: E402
from rtecho.models import create_model  # noqa: E402
from rtecho.models.genotypes import load_genotype  # noqa: E402
from rtecho.nas.genotype import derive, derive_cell  # noqa: E402
from rtecho.nas.search_cnn import SearchCNN, n_edges  # noqa: E402
from rtecho.nas.search_space import PRIMITIVES, MixedOp  # noqa: E402


def test_mixed_op_is_weighted_sum_of_ops():
    torch.manual_seed(0)
    op = MixedOp(4, 1).eval()
    x = torch.randn(2, 4, 9, 9)
    w = torch.softmax(torch.randn(len(PRIMITIVES)), 0)
    expected = sum(wi * o(x) for wi, o in zip(w, op.ops, strict=True))
    assert torch.allclose(op(x, w), expected)
    one_hot = torch.zeros(len(PRIMITIVES))
    one_hot[PRIMITIVES.index("skip_connect")] = 1.0
    assert torch.allclose(op(x, one_hot), x)
    assert MixedOp(4, 2)(x, w).shape == (2, 4, 5, 5)  # stride 2 at an odd size: ceil(9 / 2)


def test_search_cnn_forward_and_param_split():
    torch.manual_seed(0)
    net = SearchCNN(c_in=1, c=4, n_classes=3, n_layers=3, n_nodes=4)
    assert net(torch.randn(2, 1, 33, 33)).shape == (2, 3)
    w_ids = {id(p) for p in net.weights()}
    a_ids = {id(p) for p in net.alphas()}
    all_ids = {id(p) for p in net.parameters()}
    assert w_ids.isdisjoint(a_ids)
    assert w_ids | a_ids == all_ids
    assert len(a_ids) == 2 and net.alpha_normal.shape == (n_edges(4), len(PRIMITIVES)) == (14, 8)
    loss = net.loss(torch.randn(2, 1, 32, 32), torch.tensor([0, 2]))
    loss.backward()
    assert net.alpha_normal.grad is not None and net.alpha_reduce.grad is not None


def test_derive_on_hand_set_alphas():
    ops = {name: i for i, name in enumerate(PRIMITIVES)}
    a = torch.full((14, len(PRIMITIVES)), -5.0)
    # node 0 (edges 0, 1): both edges used; edge 1's strongest is `none`, so its non-none op counts
    a[0, ops["sep_conv_3x3"]] = 2.0
    a[1, ops["none"]] = 9.0
    a[1, ops["dil_conv_5x5"]] = 1.0
    # node 1 (edges 2, 3, 4): keep edges 2 and 4 (strongest), drop edge 3
    a[2, ops["max_pool_3x3"]] = 3.0
    a[3, ops["avg_pool_3x3"]] = 0.5
    a[4, ops["skip_connect"]] = 2.5
    # node 2 (edges 5..8) and node 3 (edges 9..13): strongest inputs are intermediate nodes
    a[7, ops["sep_conv_5x5"]] = 4.0
    a[8, ops["dil_conv_3x3"]] = 3.5
    a[5, ops["none"]] = 20.0
    a[12, ops["sep_conv_3x3"]] = 2.0
    a[13, ops["dil_conv_5x5"]] = 2.2
    a[9, ops["skip_connect"]] = 1.0
    cell = derive_cell(a)
    assert cell == (
        ("sep_conv_3x3", 0),
        ("dil_conv_5x5", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("sep_conv_5x5", 2),
        ("dil_conv_3x3", 3),
        ("sep_conv_3x3", 3),
        ("dil_conv_5x5", 4),
    )
    g = derive(a, a)
    assert g.normal == g.reduce == cell and g.normal_concat == (2, 3, 4, 5)
    # a derived genotype builds a network
    model = create_model("darts2", genotype=g, img_size=64).eval()
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 13)


def _image_folder(root, n_per_class: int = 8):
    from PIL import Image

    rng = np.random.default_rng(0)
    for k, label in enumerate(("A2C", "A4C")):
        d = root / label
        d.mkdir(parents=True)
        for i in range(n_per_class):
            img = (rng.random((40, 36)) * 120).astype(np.uint8)
            img[: 20 * (k + 1) // 2] += 100
            Image.fromarray(img).save(d / f"{i}.png")


def test_tiny_search_end_to_end_and_resume(tmp_path):
    data, out = tmp_path / "data", tmp_path / "run"
    _image_folder(data)
    args = ["search", "--data", str(data), "--size", "32", "--layers", "2", "--init-channels", "4"]
    args += ["--batch-size", "4", "--out", str(out), "--no-progress", "--seed", "3"]
    assert main([*args, "--epochs", "1"]) == 0
    for name in (
        "genotype.json",
        "checkpoint.pt",
        "state.json",
        "search.log",
        "alphas_normal.png",
        "cell_reduce.png",
    ):
        assert (out / name).stat().st_size > 0, name
    g1 = load_genotype(out / "genotype.json")
    assert g1.has_reduce and g1.steps == 4
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert set(ckpt) >= {"net", "w_optim", "alpha_optim", "scheduler"}
    assert json.loads((out / "state.json").read_text())["epoch"] == 1
    # a second run into the same directory without --resume is refused with a one-line error
    assert main([*args, "--epochs", "1"]) == 1
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    state = json.loads((out / "state.json").read_text())
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]
    assert "resumed" in (out / "search.log").read_text()
    # resuming with another architecture is refused
    assert main([*args[:-2], "--seed", "4", "--epochs", "3", "--resume"]) == 1
    # a damaged checkpoint is a one-line error, not a traceback
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    assert main([*args, "--epochs", "3", "--resume"]) == 1
    assert json.loads((out / "state.json").read_text())["epoch"] == 2


def test_search_bad_data_folder(tmp_path, capsys):
    data = tmp_path / "data"
    (data / "A2C").mkdir(parents=True)
    (data / "A4C").mkdir()
    args = ["search", "--data", str(data), "--out", str(tmp_path / "run"), "--no-progress"]
    assert main(args) == 1
    assert "holds no images" in capsys.readouterr().err
    from PIL import Image

    Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / "A2C" / "1.png")
    assert main(args) == 1
    assert "at least two label folders" in capsys.readouterr().err
    (data / "a4c").mkdir()
    assert main(args) == 1
    assert "did you mean 'A4C'" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert main(["search", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")]) == 1
    assert "not found" in capsys.readouterr().err
