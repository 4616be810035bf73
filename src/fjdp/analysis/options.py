"""Options shared by the analysis commands, kept free of heavy imports so that every
``fjdp`` command starts quickly (the measures pull in Ibis, statsmodels and plotting)."""

from __future__ import annotations

from enum import StrEnum

from fjdp.types import LinkStatus


class Links(StrEnum):
    """Which links count: the default (``accepted``) or with possible matches too."""

    ACCEPTED = "accepted"
    POSSIBLE = "possible"

    @property
    def statuses(self) -> tuple[str, ...]:
        accepted = (LinkStatus.DET_STRONG_ID, LinkStatus.DET_DEMOG, LinkStatus.PROB_ACCEPT)
        extra = (LinkStatus.PROB_POSSIBLE,) if self is Links.POSSIBLE else ()
        return tuple(s.value for s in (*accepted, *extra))


# The measures of ``fjdp.analysis.measures``, in the order they run.
MEASURE_NAMES: tuple[str, ...] = (
    "infants_per_10k_births",
    "recurrent_proceedings",
    "parents_health_before_proceedings",
    "childrens_pathways",
    "pathways_diagram",
)
