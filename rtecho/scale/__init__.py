"""Scale-out on Ray: ``rtecho batch`` (archives, Ray Data) and ``rtecho serve`` (many scanners, Ray Serve).

Nothing here is imported by ``import rtecho``; Ray is imported inside the functions that use it, and
a missing Ray raises an error naming the extra (``pip install "rtecho[scale]"``). The scanner side of
a service is the ``serve`` engine backend (:mod:`rtecho.runtime.remote`), which needs no Ray.
"""
