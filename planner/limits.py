"""Input limits at the door: the largest input planner reads before it refuses with exit 2.

Each limit bounds the time and memory one input can cost, far above any real planning file
(the largest bundled YAML file is a few kilobytes and nests six levels deep). The README section
"What planner guarantees for bad input" documents every value here.
"""

from __future__ import annotations

__all__ = [
    "MAX_ACCELERATORS",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INTEGER",
    "MAX_NAME_CHARS",
    "MAX_NODES",
    "MAX_SCALAR_CHARS",
    "MAX_SCALE_UP_DOMAIN",
    "MAX_SCENARIOS",
]

# Bytes read from one YAML file; larger files (and endless ones such as /dev/zero) are refused.
MAX_FILE_BYTES = 4 * 1024 * 1024
# Mappings, lists and scalars in one file counted after alias expansion (`*a` counts every node
# of what `&a` holds): stops "billion laughs" files that are small on disk.
MAX_NODES = 200_000
# Nesting of mappings and lists.
MAX_DEPTH = 64
# Characters in one scalar (a name, a description, a quantity string).
MAX_SCALAR_CHARS = 10_000
# Largest integer written in YAML or on the command line; larger values do not fit a float's
# exact range and no planning quantity needs them (write 1e30 or '20M' instead).
MAX_INTEGER = 10**18
# Characters in an id or name (a model, system, site or workload): file systems refuse longer
# file names (NAME_MAX = 255 on Linux and macOS).
MAX_NAME_CHARS = 255
# Accelerators (or units) in one pinned count; well above any planned cluster (10^7 devices).
MAX_ACCELERATORS = 10_000_000
# Accelerators in one scale-up domain: the largest built are a few thousand (Google TPU v5p
# pods: 8,960 chips); the layout search tries every divisor of the domain.
MAX_SCALE_UP_DOMAIN = 100_000
# Scenarios one study may expand to (`planner sweep --max-scenarios` raises it).
MAX_SCENARIOS = 100_000
