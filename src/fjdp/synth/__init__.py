"""The synthetic world: a population spine, families, family-court records as the
provider holds them, health sources and deprivation, with ground truth kept apart.

It is the embedded default data of the demo, the tests and the benchmarks.
"""

from fjdp.synth.config import WorldConfig
from fjdp.synth.world import WorldSummary, build_world

__all__ = ["WorldConfig", "WorldSummary", "build_world"]
