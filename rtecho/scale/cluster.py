"""Connecting to Ray: a local instance by default, a cluster with ``address`` or ``RAY_ADDRESS``.

>>> from rtecho.scale.cluster import describe_address
>>> describe_address(None, {})
'a local Ray instance'
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from rtecho._lazy import require

log = logging.getLogger(__name__)


def ray_module() -> Any:
    return require("ray", "scale", "rtecho batch / rtecho serve")


def describe_address(address: str | None, env: Mapping[str, str] = os.environ) -> str:
    where = address or env.get("RAY_ADDRESS")
    return f"the Ray cluster at {where}" if where else "a local Ray instance"


#: Ray turns 127.0.0.1 into the machine's routable address and binds on every interface unless this
#: is "0" (read when Ray is imported): then a local instance lives on the loopback interface only.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


#: A loaded small machine starts Serve's HTTP proxy slowly: Ray's 5 s readiness check (three misses
#: and the proxy is killed and restarted) can then fail forever. Defaults for a local instance.
LOCAL_ENV = {
    LOOPBACK_ENV: "0",
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60",
    "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S": "60",
}


def loopback_only() -> None:
    """Keep a local Ray instance (GCS, raylet, workers) on 127.0.0.1: call before Ray starts.
    Also sets the :data:`LOCAL_ENV` defaults (the workers of a local instance inherit them)."""
    for key, value in LOCAL_ENV.items():
        os.environ.setdefault(key, value)
    consts = sys.modules.get("ray._private.ray_constants")
    if consts is not None and os.environ[LOOPBACK_ENV] == "0":
        consts.ENABLE_RAY_CLUSTER = False  # Ray was imported before: its flag was read already


def connect(address: str | None = None, num_cpus: int | None = None, quiet: bool = True) -> Any:
    """``ray.init`` once: the cluster at ``address`` (or ``RAY_ADDRESS``), else a local instance with
    ``num_cpus`` (default: the machine's cores), no dashboard, on 127.0.0.1 only. Returns the ray module."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not address and not _initialized():
        loopback_only()
    ray = ray_module()
    if ray.is_initialized():
        return ray
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


def _initialized() -> bool:
    ray = sys.modules.get("ray")
    return bool(ray is not None and getattr(ray, "is_initialized", lambda: False)())
