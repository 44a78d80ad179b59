"""Connecting to Ray: a local instance by default, a cluster with ``address`` or ``RAY_ADDRESS``.

>>> from rtecho.scale.cluster import describe_address
>>> describe_address(None, {})
'a local Ray instance'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from rtecho._lazy import require

log = logging.getLogger(__name__)


def ray_module() -> Any:
    return require("ray", "scale", "rtecho batch / rtecho serve")


def describe_address(address: str | None, env: Mapping[str, str] = os.environ) -> str:
    where = address or env.get("RAY_ADDRESS")
    return f"the Ray cluster at {where}" if where else "a local Ray instance"


def connect(address: str | None = None, num_cpus: int | None = None, quiet: bool = True) -> Any:
    """``ray.init`` once: the cluster at ``address`` (or ``RAY_ADDRESS``), else a local instance with
    ``num_cpus`` (default: the machine's cores), no dashboard, on 127.0.0.1. Returns the ray module."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or None
    kw: dict[str, Any] = {
        "log_to_driver": not quiet,
        "logging_level": logging.WARNING if quiet else logging.INFO,
    }
    if address:
        ray.init(address=address, **kw)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", **kw)
    log.info("connected to %s", describe_address(address))
    return ray
