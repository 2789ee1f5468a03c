"""The validation of meaning for hardware: figures the performance models divide by.

The schema (:mod:`planner.catalog.schema`) allows zero for sizes, bandwidths and efficiency
factors; a system with 0 GB of HBM or an efficiency of 0 would pass it and then divide by zero
inside :mod:`planner.perf`. These checks run when a system file is loaded
(:func:`planner.catalog.load.load_system`) and on every workload's efficiency overrides
(:mod:`planner.workload.checks`).
"""

from __future__ import annotations

from planner import limits
from planner.catalog.schema import Efficiency, Fleet, System
from planner.errors import Problem
from planner.yamlio import Document, PathKey

__all__ = ["MIN_EFFICIENCY", "ZERO_EFFICIENCY_OK", "check_efficiency", "check_fleet_capacity",
           "check_system"]

# Efficiency fields that are switches, where 0 is a meaningful choice (see their descriptions in
# planner/catalog/schema.py); every other factor multiplies a rate and must be above 0.
ZERO_EFFICIENCY_OK = frozenset({"kernel_overlap", "tp_comm", "gemm_tiles",
                                "attention_kv_precision", "attention_dp_balance"})
# The smallest efficiency factor: 0.1%. The calibrated defaults lie between about 0.5 and 0.9
# (planner/perf/serving.py, planner/perf/training.py); far below, step times overflow and the
# LP breaks down (1e-300 did).
MIN_EFFICIENCY = 1e-3


def check_efficiency(doc: Document, base: PathKey, efficiency: Efficiency) -> list[Problem]:
    """Efficiency factors that multiply a rate must be above 0 (0 divides by zero later)."""
    problems = []
    for name in Efficiency.model_fields:
        value = getattr(efficiency, name)
        if name not in ZERO_EFFICIENCY_OK and value is not None and not value >= MIN_EFFICIENCY:
            problems.append(doc.problem(
                (*base, name), f"{value:g} is not allowed: an efficiency below "
                f"{MIN_EFFICIENCY:g} leaves no throughput", "use a fraction such as 0.5; omit "
                "it for the calibrated default"))
    return problems


def check_system(doc: Document, system: System) -> list[Problem]:
    """Capacities the models divide by are above 0; counts stay below the accelerator limit."""
    problems = check_efficiency(doc, ("efficiency",), system.efficiency)
    positive = ((("accelerator", "hbm_capacity"), system.accelerator.hbm_capacity),
                (("accelerator", "hbm_bandwidth"), system.accelerator.hbm_bandwidth),
                (("scale_up", "bandwidth"), system.scale_up.bandwidth),
                (("scale_out", "bandwidth"), system.scale_out.bandwidth),
                (("power",), system.power))
    for path, value in positive:
        if not value > 0:
            problems.append(doc.problem(path, f"{value:g} is not allowed: it must be above "
                                        "zero", "give the vendor figure with its unit"))
    counts = ((("accelerator", "count"), system.accelerator.count, limits.MAX_ACCELERATORS),
              (("scale_up", "domain_size"), system.scale_up.domain_size,
               limits.MAX_SCALE_UP_DOMAIN))
    for path, count, most in counts:
        if count > most:
            problems.append(doc.problem(path, f"{count:,} is too large (at most {most:,} "
                                        "accelerators)", "check the order of magnitude"))
    return problems


def check_fleet_capacity(doc: Document, fleet: Fleet) -> list[Problem]:
    """At least one site owns, may buy or may rent some accelerator system."""
    for site in fleet.sites:
        for table in (site.inventory, site.purchase_limits, site.rental_limits):
            if any(count > 0 for count in table.values()):
                return []
    return [doc.problem(("sites",), "no site owns or may buy or rent any system",
                        "give a site an 'inventory:', 'purchase_limits:' or 'rental_limits:' "
                        "entry above zero")]
