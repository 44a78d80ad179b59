"""Genotype JSON files: round trip, shipped files, validation errors, networks built from them."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from rtecho.errors import RtechoError  # noqa: E402
from rtecho.models import create_model  # noqa: E402
from rtecho.models.genotypes import (  # noqa: E402
    DARTS_V2,
    UIAC_NORMAL,
    Genotype,
    GenotypeError,
    load_genotype,
    save_genotype,
    shipped_genotypes,
)


def test_json_round_trip(tmp_path):
    path = save_genotype(DARTS_V2, tmp_path / "g.json", note="test")
    d = json.loads(path.read_text())
    assert d["note"] == "test" and d["normal"][0] == ["sep_conv_3x3", 0]
    assert load_genotype(path) == DARTS_V2
    assert load_genotype(d) == DARTS_V2
    assert Genotype.from_dict(DARTS_V2.to_dict()) == DARTS_V2


def test_shipped_files_match_published_cells():
    assert {"darts_v2", "uiac_normal_darts_v2_reduce"} <= set(shipped_genotypes())
    assert load_genotype("darts_v2") == DARTS_V2
    uiac = load_genotype("uiac_normal_darts_v2_reduce")
    assert uiac.normal == UIAC_NORMAL and uiac.reduce == DARTS_V2.reduce
    assert uiac.normal[6:] == (("dil_conv_5x5", 0), ("dil_conv_5x5", 2))  # node6 = dil5(n1) + dil5(n3)
    # the shipped UIAC: the published normal block with the reduction cell searched here
    searched = load_genotype("echo_search64")
    shipped = load_genotype("uiac_echo")
    assert shipped.normal == UIAC_NORMAL and shipped.reduce == searched.reduce
    assert create_model("uiac").config.genotype == shipped.to_dict()
    assert create_model("darts1").config.genotype == searched.to_dict()


def test_unknown_op_is_a_clear_error(tmp_path):
    d = DARTS_V2.to_dict()
    d["normal"][3] = ["conv_9x9_magic", 1]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(
        GenotypeError, match=r"bad.json: normal cell edge 3 names unknown op 'conv_9x9_magic'"
    ):
        load_genotype(path)
    with pytest.raises(RtechoError, match="unknown op"):
        create_model("darts1", genotype=str(path))


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["normal"].pop(), "2 edges per node"),
        (lambda d: d["normal"].__setitem__(0, ["sep_conv_3x3", 2]), "not an earlier node"),
        (lambda d: d.__setitem__("normal_concat", [0, 2]), "intermediate nodes"),
        (lambda d: d["reduce"].__setitem__(0, ["none", 0]), "unknown op 'none'"),
        (lambda d: d.__setitem__("normal", "sep_conv_3x3"), "pairs"),
    ],
)
def test_malformed_genotypes(mutate, match):
    d = DARTS_V2.to_dict()
    mutate(d)
    with pytest.raises(GenotypeError, match=match):
        Genotype.from_dict(d)


def test_missing_files_and_names(tmp_path):
    with pytest.raises(GenotypeError, match="no shipped genotype named 'nope'.*darts_v2"):
        load_genotype("nope")
    with pytest.raises(GenotypeError, match="not found"):
        load_genotype(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(GenotypeError, match="not valid JSON"):
        load_genotype(tmp_path / "broken.json")


def test_normal_only_genotype():
    g = Genotype(UIAC_NORMAL, (2, 3, 4, 5))
    assert not g.has_reduce
    model = create_model("darts1", genotype=g).eval()
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 13)
    with pytest.raises(GenotypeError, match="no 'reduce' cell"):
        create_model("darts2", genotype=g)
