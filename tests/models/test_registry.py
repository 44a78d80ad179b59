"""Registry, configs, shapes at several sizes and channel counts, feature/head split, param counts."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from rtecho.errors import RtechoError  # noqa: E402
from rtecho.models import ModelConfig, ModelError, create_model, list_models, load_weights, split_aux  # noqa: E402
from rtecho.models.genotypes import load_genotype  # noqa: E402
from rtecho.models.stats import count_flops, count_params  # noqa: E402
from rtecho.views import VIEWS  # noqa: E402

ECHO_MODELS = ["darts1", "darts2", "uiac", "efficientnet_b0_cbam", "stanet"]
ALL_MODELS = [*ECHO_MODELS, "darts_v2_cifar", "efficientnet_b0"]


def test_registry_lists_every_family():
    assert set(ALL_MODELS) <= set(list_models())
    darts = list_models("darts")  # a filter, sorted (its documented order); new variants may join
    assert {"darts1", "darts2", "darts_v2_cifar"} <= set(darts) and darts == sorted(darts)
    assert all("darts" in name for name in darts) and "stanet" not in darts


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(ModelError, match="unknown model 'resnet9000'.*darts1") as info:
        create_model("resnet9000")
    assert isinstance(info.value, RtechoError)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"in_chans": 2}, "in_chans"),
        ({"img_size": 16}, ">= 32"),
        ({"labels": ("A2C", "A4C"), "num_classes": 3}, "disagrees"),
        ({"num_classes": 1}, ">= 2"),
        ({"no_such_argument": 1}, "bad arguments"),
    ],
)
def test_bad_arguments(kw, match):
    with pytest.raises(ModelError, match=match):
        create_model("stanet", **kw)


def test_config_travels_with_the_model():
    m = create_model("darts2", labels=("A2C", "A4C", "PLAX"), img_size=(96, 112), in_chans=3)
    cfg = m.config
    assert isinstance(cfg, ModelConfig)
    assert (cfg.name, cfg.architecture, cfg.input_size_hw, cfg.channels) == ("darts2", "darts", (96, 112), 3)
    assert (
        cfg.labels == ("A2C", "A4C", "PLAX") and cfg.num_classes == 3 and len(cfg.mean) == len(cfg.std) == 3
    )
    assert cfg.genotype == load_genotype("echo_search64").to_dict()  # the cell searched by rtecho
    d = cfg.to_dict()
    assert d["input_size_hw"] == [96, 112] and d["labels"] == ["A2C", "A4C", "PLAX"]
    grey = create_model("efficientnet_b0_cbam").config
    assert grey.labels == VIEWS and grey.channels == 1 and len(grey.mean) == 1 and grey.genotype is None
    assert create_model("darts_v2_cifar").config.num_classes == 10
    with pytest.raises(AttributeError):
        cfg.name = "x"  # frozen


def _calibrated(model: torch.nn.Module, x: torch.Tensor) -> torch.nn.Module:
    """Set BN running statistics from one batch so that eval-mode outputs depend on the input
    (with the initial mean 0 / var 1, deep untrained nets squash every input to the same logits)."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(x)
    return model.eval()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_shapes_sizes_channels_and_feature_head_split(name):
    torch.manual_seed(0)
    for in_chans in (1, 3):
        model = _calibrated(
            create_model(name, in_chans=in_chans, num_classes=5), torch.randn(4, in_chans, 64, 64)
        )
        sizes = (32, 64, 100, 128) if in_chans == 1 else (32, 100)
        if name == "darts_v2_cifar":  # stride-1 stem: keep it small (odd 37 exercises ceil(H/2) paths)
            sizes = (32, 37)
        for size in sizes:
            x = torch.randn(2, in_chans, size, size)
            with torch.no_grad():
                logits = model(x)
                feats = model.forward_features(x)
                split = model.forward_head(feats)
            assert logits.shape == (2, 5), (name, in_chans, size)
            assert feats.ndim == 4 and feats.shape[0] == 2
            assert torch.allclose(split, logits, atol=1e-5)
            assert torch.isfinite(logits).all()
            assert (logits[0] - logits[1]).abs().max() > 1e-4  # the input matters
    # non-square input
    with torch.no_grad():
        assert model(torch.randn(1, 3, 48, 80)).shape == (1, 5)


@pytest.mark.parametrize("name", ["uiac", "darts_v2_cifar"])
def test_auxiliary_head_only_in_training(name):
    model = create_model(name, num_classes=4)
    model.train()
    out = model(torch.randn(2, 1, 32, 32))
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 4), (2, 4)]
    logits, aux = split_aux(out)
    assert logits is out[0] and aux is out[1]
    assert model.aux_weight == (0.25 if name == "uiac" else 0.4)
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 64, 64)).shape == (2, 4)
    assert create_model("darts1").aux_head is None
    plain = create_model("stanet").train()(torch.randn(2, 1, 32, 32))
    assert split_aux(plain)[1] is None


def test_darts_v2_cifar_parameter_count():
    # DARTS-V2 on CIFAR-10 (C=36, 20 cells): published 3.3M parameters; the reference code logs
    # 3.349M (auxiliary head excluded, as its count_parameters_in_MB does).
    model = create_model("darts_v2_cifar", in_chans=3)
    n = count_params(model, include_aux=False)
    assert abs(n - 3.3e6) / 3.3e6 < 0.03, n
    assert abs(n - 3_349_342) / 3_349_342 < 0.003, n
    aux = count_params(model) - n
    assert 0.4e6 < aux < 0.55e6, aux  # 1x1 conv 576->128, 2x2 conv 128->768, linear 768->10


def test_efficientnet_b0_parameter_count():
    n = count_params(create_model("efficientnet_b0", in_chans=3))
    assert (
        n == 1000 * 1281 + count_params(create_model("efficientnet_b0", in_chans=3, num_classes=2)) - 2 * 1281
    )
    assert abs(n - 5_288_548) / 5_288_548 < 0.03, n  # reference implementation: 5,288,548
    assert abs(n - 5.3e6) / 5.3e6 < 0.03


def test_light_models_stay_light():
    assert count_params(create_model("stanet")) < 1_000_000
    for name in ("darts1", "darts2"):
        flops = count_flops(create_model(name), (128, 128))
        assert 10e6 < flops < 150e6, (name, flops)


def test_checkpoint_for_another_architecture_is_refused():
    a, b = create_model("darts1"), create_model("darts2")
    with pytest.raises(ModelError, match="does not fit model 'darts1'"):
        load_weights(a, b.state_dict())
    wrong_size = create_model("darts1", num_classes=4).state_dict()
    with pytest.raises(ModelError, match="shape mismatch"):
        load_weights(a, wrong_size)
    load_weights(a, create_model("darts1").state_dict())
