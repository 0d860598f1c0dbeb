"""Heterogeneity-aware modelling: learn where relationships change, and model each region on its own.

::

    from geosrl.hetero import HeterogeneityAwareModel, GlobalModel, FixedZoneModel, GWRModel, MGWRModel
    m = HeterogeneityAwareModel(encoder="sphere2vec_spherec_plus", head="linear", partition="split_test",
                                alpha=0.05, min_region_size=100, max_depth=4).fit(lonlat, y, features)
    m.predict(lonlat_new, features_new)   # (M,) values or class labels
    m.regions(lonlat_new)                 # (M,) region ids in [0, m.n_regions_)
    m.split_log_                          # every split test: p-value, held-out losses, accepted or why not
    equal_capacity_global(m, lonlat, y, features)  # the global comparator with as many parameters

Modules: :mod:`~geosrl.hetero.model` (estimators), :mod:`~geosrl.hetero.region_tree` (STAR-like
split-and-test), :mod:`~geosrl.hetero.partition` (cell → region lookup, border blending),
:mod:`~geosrl.hetero.cells` (HEALPix/H3 cells, polygon zones), :mod:`~geosrl.hetero.heads`
(per-region heads), :mod:`~geosrl.hetero.stats` (paired split test), :mod:`~geosrl.hetero.gwr`
(GWR/MGWR via mgwr), :mod:`~geosrl.hetero.evaluation` (per-region comparison).
"""

from .cells import CellGrid, PolygonZones
from .evaluation import compare_to_baseline, region_scores
from .gwr import GWRModel, MGWRModel
from .heads import Head, LogisticHead, MLPHead, RandomFeatureHead, RidgeHead
from .model import PARTITIONS, FixedZoneModel, GlobalModel, HeterogeneityAwareModel, equal_capacity_global
from .partition import Partition
from .region_tree import RegionNode
from .stats import SplitTestResult, paired_split_test

__all__ = [
    "PARTITIONS",
    "CellGrid",
    "FixedZoneModel",
    "GWRModel",
    "GlobalModel",
    "Head",
    "HeterogeneityAwareModel",
    "LogisticHead",
    "MGWRModel",
    "MLPHead",
    "Partition",
    "PolygonZones",
    "RandomFeatureHead",
    "RegionNode",
    "RidgeHead",
    "SplitTestResult",
    "compare_to_baseline",
    "equal_capacity_global",
    "paired_split_test",
    "region_scores",
]
