"""DARTS architecture search (Liu et al. 2019) in the layout of pt.darts.

``search_space`` (PRIMITIVES, OPS, MixedOp), ``search_cnn`` (search cells and network with separate
``weights()`` and ``alphas()``), ``architect`` (first/second-order alpha gradients), ``genotype``
(derivation), ``plot`` (PNG figures), ``data`` (a minimal ImageFolder loader) and ``search`` (the
loop behind ``rtecho search``). The final networks are built from the derived genotype by
:mod:`rtecho.models.darts`, not by this package. Typical run (CPU, about 1.8 GB peak memory)::

    rtecho search --data DATA_DIR --size 64 --epochs 30 --layers 5 --init-channels 8 \\
        --batch-size 32 --out runs/search_a --seed 0 --threads 1
    rtecho train darts2 --genotype runs/search_a/genotype.json ...

On a CPU shared with other work, ``--threads 1`` is several times faster than two threads.
"""
