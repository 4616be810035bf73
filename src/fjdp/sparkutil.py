"""A local Spark session for the Spark engines (``--engine spark``) of the linkage and
of analysis, shared here so neither imports the other.

Spark runs in local mode inside the zone's host: two worker threads, no web UI, the
driver bound to 127.0.0.1 (the host reaches no network), a small number of shuffle
partitions; the console sees errors only. The session lives for one run and is stopped
after it. Checkpoints (a run's intermediate tables) go under the run's work folder.
Spark's shuffle blocks go to the system's temporary folder, in folders Spark removes
itself: the JVM fixes that place when it first starts and outlives a session, so it
cannot be a run's work folder.

This module starts Spark and nothing else: the linkage model is in
:mod:`fjdp.linkage.probabilistic` (the only module that imports splink), the analysis
engine in :mod:`fjdp.analysis.engines`.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fjdp.errors import UsageError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

INSTALL_PYSPARK = (
    "install pyspark 4 (pip install pyspark, or fjdp's spark extra) or use --engine duckdb"
)
INSTALL_JAVA = (
    "install Java 17 (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
    " (or use --engine duckdb)"
)


def check_available() -> None:
    """Raise a one-line :class:`UsageError` when pyspark or Java is missing."""
    if importlib.util.find_spec("pyspark") is None:
        raise UsageError(
            "the Spark engine needs pyspark, which is not installed", fix=INSTALL_PYSPARK
        )
    home = os.environ.get("JAVA_HOME")
    if home and not (Path(home) / "bin" / "java").exists():
        raise UsageError(
            "JAVA_HOME points to no Java", where=home, fix="point it at a Java 17 or unset it"
        )
    if not home and shutil.which("java") is None:
        raise UsageError("the Spark engine needs Java, and none was found", fix=INSTALL_JAVA)


def driver_memory(limit: str) -> str:
    """A DuckDB-style memory limit (``6GB``, ``512MB``, ``1.5GiB``) as a JVM size (``6144m``)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", limit, flags=re.IGNORECASE)
    if m is None:
        raise UsageError(
            f"memory limit {limit!r} is not a size", fix="give it in MB or GB, e.g. 6GB"
        )
    scale = {"": 1 / 2**20, "K": 1 / 2**10, "M": 1, "G": 2**10, "T": 2**20}[m.group(2).upper()]
    return f"{max(512, round(float(m.group(1)) * scale))}m"


@contextmanager
def local_spark(
    *, memory: str, work: Path, jars: Sequence[str] = (), app: str = "fjdp"
) -> Iterator[SparkSession]:
    """A local Spark session for one run, its checkpoints under ``work``, stopped
    afterwards. A session the caller already has running is used as it is and left
    running (it must have been started with ``jars``)."""
    check_available()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.sparkContext.setCheckpointDir(str(work / "checkpoints"))
        yield active
        return
    work.mkdir(parents=True, exist_ok=True)
    session = _start(memory=memory, warehouse=work / "warehouse", jars=jars, app=app)
    try:
        session.sparkContext.setCheckpointDir(str(work / "checkpoints"))
        yield session
    finally:
        session.stop()


def _start(*, memory: str, warehouse: Path, jars: Sequence[str], app: str) -> SparkSession:
    from pyspark import SparkConf, SparkContext
    from pyspark.errors import PySparkRuntimeError
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    conf = SparkConf().setAppName(app).setMaster("local[2]")
    conf.setAll(
        [
            ("spark.driver.host", "127.0.0.1"),
            ("spark.driver.bindAddress", "127.0.0.1"),
            ("spark.ui.enabled", "false"),
            ("spark.ui.showConsoleProgress", "false"),
            ("spark.sql.shuffle.partitions", "4"),
            ("spark.default.parallelism", "4"),
            ("spark.driver.memory", driver_memory(memory)),
            # Nothing is saved as a table; Spark may still make the folder.
            ("spark.sql.warehouse.dir", str(warehouse)),
            # session stops and removes them when the JVM exits.
            ("spark.local.dir", tempfile.gettempdir()),
            ("spark.sql.session.timeZone", "UTC"),
        ]
    )
    if jars:
        conf.set("spark.jars", ",".join(jars))
    try:
        gateway = None
        if SparkContext._gateway is None:
            # The JVM's own notices (its start-up banner, log lines) go to a file rather
            # than the operator's console; the file goes when the process exits.
            fd, log = tempfile.mkstemp(prefix="fjdp-spark-", suffix=".log")
            atexit.register(os.unlink, log)
            with os.fdopen(fd, "wb") as sink:
                gateway = launch_gateway(conf, popen_kwargs={"stdout": sink, "stderr": sink})  # type: ignore[no-untyped-call]
        context = SparkContext(conf=conf, gateway=gateway)
    except PySparkRuntimeError as exc:
        raise UsageError(
            f"Spark could not start ({exc.getCondition() or 'no Java gateway'})",
            fix=INSTALL_JAVA,
        ) from None
    context.setLogLevel("ERROR")
    return SparkSession(context)
