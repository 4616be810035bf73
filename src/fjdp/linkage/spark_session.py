"""The linkage's Spark session: the shared local session of :mod:`fjdp.sparkutil`."""

from __future__ import annotations

from fjdp.sparkutil import (
    INSTALL_JAVA,
    INSTALL_PYSPARK,
    check_available,
    driver_memory,
    local_spark,
)

__all__ = ["INSTALL_JAVA", "INSTALL_PYSPARK", "check_available", "driver_memory", "local_spark"]
