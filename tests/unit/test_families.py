"""The constraint-family registry (planner/lp/families.py): every family the LP builds is
registered, and a new family needs only a registry entry and a row in ``build.py``.

The toy family ``floor_space`` (at most N units at a site, one slot per unit) is registered
here and its row added by wrapping one build step, exactly as a new ``_add_*`` step in
``build.py`` would; neither ``bottlenecks.py`` nor ``diagnose.py`` knows about it, yet it is
priced as a bottleneck and named in the infeasibility diagnosis (docs/extending.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lp import T, plan, rl_job, site, train_job  # tests/unit/test_lp.py

import planner.lp.build as build
from planner.errors import InfeasibleError
from planner.lp import LinkInput, optimize
from planner.lp.build import BuiltLp, build_lp
from planner.lp.families import FAMILIES, Family, Kind, Shortfall, family, register, unregister
from planner.units import SECONDS_PER_HOUR

BUILD_SOURCE = Path(build.__file__).read_text(encoding="utf-8")


def test_every_family_named_in_build_is_registered() -> None:
    # Every string literal that reaches _row as a family, directly or through a local name.
    direct = set(re.findall(r'_row\(m, "(\w+)"', BUILD_SOURCE))
    through_names = {"inventory", "purchase_limit", "rental_limit", "single_site", "update_site"}
    assert {"site_power", "work", "serve", "budget", "link_bw"} <= direct
    assert direct | through_names <= set(FAMILIES)
    for name in through_names:
        assert f'"{name}"' in BUILD_SOURCE


@pytest.mark.parametrize("elastic", [False, True], ids=["lp", "elastic"])
@pytest.mark.parametrize("objective", ["cost", "time"])
def test_every_family_built_is_registered(elastic: bool, objective: str) -> None:
    links = (LinkInput("a", "b", 1e9, 0.0, 0.0),)
    inputs = plan((site("a", cpu_servers=10), site("b", region="r2")),
                  (train_job(10, single_site=True), rl_job(1e5, weight_bytes=1e9, updates=10)),
                  links=links, budget=1e9)
    m = build_lp(inputs, objective=objective, elastic=elastic)  # type: ignore[arg-type]
    built = {name for name, _ in m.rows}
    assert {"site_power", "work", "budget", "single_site", "link_bw"} <= built
    assert built <= set(FAMILIES)
    for name, _ in m.slacks:
        assert FAMILIES[name].penalty is not None and FAMILIES[name].describe is not None


def test_an_unregistered_family_is_refused_with_a_pointer_to_the_registry() -> None:
    with pytest.raises(KeyError, match=r"not registered in planner/lp/families\.py"):
        family("no_such_family")


def test_a_penalised_family_must_say_how_it_is_diagnosed() -> None:
    with pytest.raises(ValueError, match="needs a describe"):
        Family("toy", Kind.POWER, "MW", "toy", penalty=1.0, price=lambda m, k, v: (v, "x"))
    with pytest.raises(ValueError, match="needs a price"):
        Family("toy", Kind.POWER, "MW", "toy")


# ------------------------------------------------------------------ the worked example
def _short_floor(m: BuiltLp, key: tuple[str, ...], amount: float) -> Shortfall:
    slots = math.ceil(amount - 1e-6)
    return Shortfall(Kind.INVENTORY, key[0], slots, "slots",
                     f"needs {slots:,} more floor slots at site {key[0]}")


FLOOR = Family("floor_space", Kind.INVENTORY, "slots", "floor space", penalty=1.0,
               price=lambda m, key, v: (v, "USD/slot"), describe=_short_floor)


@pytest.fixture
def floor_slots(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Register floor_space and add its rows after the budget step, as build.py would."""
    slots: dict[str, int] = {}
    add_budget = build._add_budget

    def add_floor(m: BuiltLp) -> None:
        add_budget(m)
        for s, n in slots.items():
            pairs = [(var, 1.0) for (site_id, _), var in m.vars["units"].items() if site_id == s]
            build._row(m, "floor_space", (s,), pairs, "<=", float(n), 1.0)

    register(FLOOR)
    monkeypatch.setattr(build, "_add_budget", add_floor)
    yield slots
    unregister("floor_space")


def test_toy_family_is_priced_as_a_bottleneck(floor_slots: dict[str, int]) -> None:
    # Site a: 40 USD/MWh with 5 floor slots; b: 100 USD/MWh. One more slot at a moves a 10 kW
    # unit from b to a for the horizon: 10 kW x 876 h x 60 USD/MWh = 525.6 USD per slot.
    floor_slots["a"] = 5
    sol = optimize(plan((site("a", usd_per_mwh=40.0), site("b", usd_per_mwh=100.0)),
                        (train_job(10),)))
    floor = [b for b in sol.bottlenecks if b.constraint == "floor_space[a]"]
    assert [(b.kind, b.where, b.shadow_price_unit) for b in floor] == \
        [("inventory", "a", "USD/slot")]
    saving = 10e3 * (T / SECONDS_PER_HOUR) / 1e6 * 60.0  # kW x h -> MWh x USD/MWh
    assert floor[0].shadow_price == pytest.approx(saving, rel=1e-6)


def test_toy_family_is_named_in_the_diagnosis(floor_slots: dict[str, int]) -> None:
    # 10 units needed, 4 slots at the only site: 6 slots short.
    floor_slots["x"] = 4
    with pytest.raises(InfeasibleError) as err:
        optimize(plan((site("x"),), (train_job(10),)))
    assert err.value.diagnosis == ["needs 6 more floor slots at site x"]


# ------------------------------------------------------------------ docs stay in step
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_registered_family_is_documented_in_the_lp_page() -> None:
    text = (DOCS / "lp.md").read_text(encoding="utf-8")
    assert [name for name in FAMILIES if f"`{name}" not in text] == []


def test_docs_cited_by_the_code_exist() -> None:
    root = DOCS.parent
    cited = set()
    for path in (root / "planner").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for found in re.finditer(r"docs/[\w-]+\.md", text):
            if "https://" not in text[max(0, found.start() - 200):found.start()]:
                cited.add(found.group())  # not a file of another repository it links to
    assert {"docs/lp.md", "docs/extending.md", "docs/performance-model.md"} <= cited
    assert sorted(c for c in cited if not (root / c).is_file()) == []
