"""The serving targets every bundle carries (DESIGN §8), one line each.

A target (:class:`~core.export.serving.Target`) lives in its own module; adding one (a
KServe ``InferenceService`` manifest) is that module and a line here. The export writes and
describes every target; ``bundle verify`` checks, and the handoff shows the deploy steps of,
each one a bundle's manifest names (a bundle made before a target existed still verifies).
"""

from __future__ import annotations

from core.export.kserve import KSERVE
from core.export.serving import Target
from core.export.triton import TRITON

TARGETS: tuple[Target, ...] = (TRITON, KSERVE)
