"""The sourced hardware catalog and the default fleet: they load, and their figures add up.

Expected values are worked out by hand from the sources listed in hardware/README.md (the
arithmetic is in the comments), so a mistyped figure in a YAML file fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.catalog.load import Catalog, load_catalog, load_fleet, load_system
from planner.catalog.schema import Fleet, Precision, SourceTag
from planner.errors import InputError

HARDWARE = Path(__file__).resolve().parents[2] / "hardware"
SYSTEM_FILES = sorted((HARDWARE / "systems").glob("*.yaml"))
FLEET_FILE = HARDWARE / "fleets" / "default.yaml"

REQUIRED_IDS = {
    "dgx-a100", "dgx-h100", "dgx-h200", "dgx-b200", "gb200-nvl72", "gb300-nvl72",
    "trn2-rainier", "trn2-ultraserver", "mi300x-8", "mi355x-8",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(HARDWARE)


@pytest.fixture(scope="module")
def fleet(catalog: Catalog) -> Fleet:
    return load_fleet(FLEET_FILE, catalog)


@pytest.mark.parametrize("path", SYSTEM_FILES, ids=[p.stem for p in SYSTEM_FILES])
def test_every_system_file_loads_and_is_named_after_its_id(path: Path) -> None:
    system = load_system(path)
    assert system.id.replace("-", "_") == path.stem
    assert system.accelerator.sparsity == "dense"


def test_required_systems_exist(catalog: Catalog) -> None:
    assert set(catalog.systems) >= REQUIRED_IDS


@pytest.mark.parametrize(
    ("system_id", "cores_per_accelerator", "accelerators_per_socket"),
    [
        # DGX H100: 2 x 56-core Xeon 8480C = 112 cores / 8 GPUs = 14; 8 GPUs : 2 CPUs = 4:1.
        ("dgx-h100", 14.0, 4),
        # GB200 NVL72: 36 Grace x 72 cores = 2,592 cores / 72 GPUs = 36; 72 : 36 = 2:1.
        ("gb200-nvl72", 36.0, 2),
        # Trainium2 server: 192 vCPU / 2 (SMT) = 96 cores / 16 chips = 6; 16 : 2 = 8:1.
        ("trn2-rainier", 6.0, 8),
    ],
)
def test_cpu_ratios_match_the_article(catalog: Catalog, system_id: str,
                                      cores_per_accelerator: float,
                                      accelerators_per_socket: int) -> None:
    system = catalog.systems[system_id]
    assert system.cpu_cores_per_accelerator == cores_per_accelerator
    assert system.accelerators == accelerators_per_socket * system.host.sockets


def test_gb200_rack_cores(catalog: Catalog) -> None:
    # 36 Grace CPUs x 72 Neoverse V2 cores = 2,592 cores in one 72-GPU NVLink domain.
    rack = catalog.systems["gb200-nvl72"]
    assert (rack.host.sockets, rack.host.cores) == (36, 2592)
    assert rack.scale_up.domain_size == 72


@pytest.mark.parametrize("system_id", sorted(REQUIRED_IDS))
def test_every_system_has_a_dated_purchase_price(catalog: Catalog, system_id: str) -> None:
    purchase = catalog.systems[system_id].purchase
    assert purchase.price > 0
    assert re.fullmatch(r"(19|20)\d\d(-\d\d){0,2}", purchase.date), purchase.date


@pytest.mark.parametrize("system_id", sorted(REQUIRED_IDS))
def test_unit_power_exceeds_accelerator_power(catalog: Catalog, system_id: str) -> None:
    # Unit power is the full-load IT power of the box or rack, not the accelerators' TDP sum.
    system = catalog.systems[system_id]
    assert system.power > system.accelerators * system.accelerator.power


@pytest.mark.parametrize("system_id", sorted(REQUIRED_IDS))
def test_fp8_peak_is_twice_bf16_where_both_exist(catalog: Catalog, system_id: str) -> None:
    # A dense/sparse mix-up would show as a ratio of 1 or 4 instead of ~2.
    # Trainium2: 1,299 / 667 = 1.948 is the loosest case.
    peaks = catalog.systems[system_id].accelerator.peak_flops
    if peaks.fp8 is not None:
        assert peaks.fp8 / peaks.bf16 == pytest.approx(2.0, rel=0.03)


@pytest.mark.parametrize(
    ("system_id", "fp8_pflops"),
    [
        ("gb200-nvl72", 360.0),  # 720 PF sparse / 2 = 72 x 5 PF dense
        ("gb300-nvl72", 360.0),  # same FP8 as GB200: 72 x 5 PF
        ("dgx-h100", 15.832),  # 8 x 1,979 TF
        ("trn2-ultraserver", 83.136),  # 64 x 1,299 TF; AWS quotes 83.2 PF dense
    ],
)
def test_unit_fp8_dense_peak(catalog: Catalog, system_id: str, fp8_pflops: float) -> None:
    peak = catalog.systems[system_id].peak_flops_per_unit(Precision.FP8)
    assert peak == pytest.approx(fp8_pflops * 1e15, rel=0.01)


def test_a100_has_no_fp8_and_megatron_peak(catalog: Catalog) -> None:
    # Megatron-LM's "% of peak" uses 312 TFLOPS BF16 per A100; Ampere has no FP8 tensor mode.
    a100 = catalog.systems["dgx-a100"]
    assert a100.accelerator.peak_flops.bf16 == pytest.approx(312e12)
    assert a100.peak_flops_per_unit(Precision.FP8) is None
    assert a100.host.cores == 128  # 2 x EPYC 7742, 64 cores each


def test_trainium2_price_follows_the_aws_claim(catalog: Catalog) -> None:
    # USD per dense BF16 PFLOPS: DGX H100 270k / (8 x 0.989) = 34.1k; trn2 235k / (16 x 0.667)
    # = 22.0k; ratio 0.645, i.e. 35% better, inside AWS's claimed 30-40%.
    def usd_per_flops(system_id: str) -> float:
        system = catalog.systems[system_id]
        bf16 = system.peak_flops_per_unit(Precision.BF16)
        assert bf16 is not None
        return system.purchase.price / bf16

    ratio = usd_per_flops("trn2-rainier") / usd_per_flops("dgx-h100")
    assert 0.60 <= ratio <= 0.70
    trn2 = catalog.systems["trn2-rainier"]
    assert trn2.purchase.estimate
    assert trn2.sources["purchase"].tag in (SourceTag.ANALYST, SourceTag.ASSUMPTION)


def test_fleet_loads_and_names_only_catalog_systems(catalog: Catalog, fleet: Fleet) -> None:
    assert len(fleet.sites) >= 5
    assert len({site.region for site in fleet.sites}) >= 4
    for site in fleet.sites:
        for name in (*site.inventory, *site.purchase_limits, *site.rental_limits):
            assert name in catalog.systems, (site.id, name)


def test_fleet_inventory_fits_each_site_power_cap(catalog: Catalog, fleet: Fleet) -> None:
    # Indiana: (2,000 x 12 kW + 64 x 48 kW) x PUE 1.15 = 31.1 MW <= 40 MW.
    for site in fleet.sites:
        it_w = sum(catalog.systems[name].power * n for name, n in site.inventory.items())
        assert it_w * site.pue <= site.power_capacity, site.id


def _cores_per_accelerator(site_id: str, catalog: Catalog, fleet: Fleet) -> float:
    site = next(s for s in fleet.sites if s.id == site_id)
    accelerators = sum(catalog.systems[n].accelerators * k for n, k in site.inventory.items())
    cores = sum(catalog.systems[n].host.cores * k for n, k in site.inventory.items())
    return (cores + site.cpu_servers * fleet.cpu_server.cores) / accelerators


def test_fleet_shows_the_article_trade_off(catalog: Catalog, fleet: Fleet) -> None:
    by_id = {site.id: site for site in fleet.sites}
    trn2 = by_id["indiana-trn2"]
    counts = {site.id: sum(catalog.systems[n].accelerators * k for n, k in site.inventory.items())
              for site in fleet.sites}
    # The Trainium2 campus has the most accelerators: 2,000 x 16 + 64 x 64 = 36,096 chips.
    assert counts["indiana-trn2"] == 36096
    assert max(counts, key=counts.__getitem__) == "indiana-trn2"
    # ...but the fewest cores per accelerator: (216,576 + 20 x 192) / 36,096 = 6.1, against
    # Texas's (150 x 2,592 + 200 x 112 + 200 x 192) / 12,400 = 36.3.
    assert _cores_per_accelerator("indiana-trn2", catalog, fleet) == pytest.approx(6.106, rel=1e-3)
    assert _cores_per_accelerator("texas-gb200", catalog, fleet) == pytest.approx(36.25, rel=1e-3)
    # ...and cheaper energy plus space than the H100 site (81 vs 89 USD/MWh, 120 vs 184 USD/kW-mo).
    assert trn2.electricity_price < by_id["virginia-h100"].electricity_price
    assert trn2.colocation_price < by_id["virginia-h100"].colocation_price
    # The expansion site owns nothing and may only buy.
    expansion = by_id["riyadh-expansion"]
    assert not expansion.inventory and expansion.purchase_limits
    assert expansion.cpu_server_purchase_limit > 0


def test_fleet_verifier_scale(fleet: Fleet) -> None:
    # The RL example needs ~3e11 core-seconds in 60 days = 3e11 / 5.184e6 s = 57.9k cores busy.
    # CPU-only servers on hand: (20 + 200 + 400 + 100 + 0) x 192 = 138,240 cores.
    on_hand = sum(site.cpu_servers for site in fleet.sites) * fleet.cpu_server.cores
    assert on_hand == 138_240
    assert on_hand > 3e11 / (60 * 86_400)


def test_fleet_economics_and_links(fleet: Fleet) -> None:
    assert fleet.economics.lifetime == pytest.approx(5 * 365 * 86_400)
    assert fleet.economics.cost_of_capital == pytest.approx(0.10)
    for link in fleet.links:
        assert 0.4e12 / 8 <= link.bandwidth <= 3.2e12 / 8  # 0.4-3.2 Tb/s in bytes/s
        assert 0.010 <= link.latency <= 0.090
        assert 0.01e-9 * 0.999 <= link.cost <= 0.05e-9 * 1.001  # 0.01-0.05 USD/GB, in USD/byte


def test_misspelt_system_in_fleet_suggests_the_right_one(tmp_path: Path,
                                                         catalog: Catalog) -> None:
    text = FLEET_FILE.read_text(encoding="utf-8")
    assert "{trn2-rainier: 2000," in text
    bad = tmp_path / "fleet.yaml"
    bad.write_text(text.replace("{trn2-rainier: 2000,", "{trn2-rainer: 2000,"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_fleet(bad, catalog)
    message = str(info.value)
    assert "unknown system 'trn2-rainer'" in message
    assert "did you mean 'trn2-rainier'?" in message
    assert "inventory" in message


def test_unsourced_figure_is_rejected(tmp_path: Path) -> None:
    # Dropping the source of the unit power makes the file invalid: every number names a source.
    text = (HARDWARE / "systems" / "trn2_rainier.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("  power: {")]
    assert len(lines) == len(text.splitlines()) - 1
    bad = tmp_path / "trn2_rainier.yaml"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="no source for this figure"):
        load_system(bad)
