"""Catalog views: one row per system for `planner catalog list`, full detail for `show`."""

from __future__ import annotations

import json
from typing import Any

from planner.catalog.load import Catalog
from planner.catalog.schema import Precision, System
from planner.units import SECONDS_PER_HOUR, Dimension, format_quantity

__all__ = ["catalog_rows", "render_catalog", "render_system"]

_COLUMNS = (
    ("system", "system", None),
    ("unit", "unit", None),
    ("accelerators", "accel", None),
    ("bf16_flops_per_unit", "BF16/unit", Dimension.FLOP_RATE),
    ("fp8_flops_per_unit", "FP8/unit", Dimension.FLOP_RATE),
    ("hbm_bytes_per_unit", "HBM/unit", Dimension.SIZE),
    ("hbm_bandwidth_bytes_per_s_per_unit", "HBM BW/unit", Dimension.BANDWIDTH),
    ("cpu_cores_per_accelerator", "cores/acc", None),
    ("power_w", "power", Dimension.POWER),
    ("purchase_usd", "price", Dimension.MONEY),
    ("rental_usd_per_hour", "USD/h", None),
)


def catalog_rows(catalog: Catalog) -> list[dict[str, Any]]:
    """One JSON-ready row per system with per-unit totals in SI units."""
    return [_row(system) for system in catalog.systems.values()]


def _row(system: System) -> dict[str, Any]:
    accel = system.accelerator
    return {
        "system": system.id,
        "name": system.name,
        "unit": system.unit,
        "accelerators": accel.count,
        "accelerator": accel.name,
        "bf16_flops_per_unit": system.peak_flops_per_unit(Precision.BF16),
        "fp8_flops_per_unit": system.peak_flops_per_unit(Precision.FP8),
        "fp4_flops_per_unit": system.peak_flops_per_unit(Precision.FP4),
        "hbm_bytes_per_unit": accel.hbm_capacity * accel.count,
        "hbm_bandwidth_bytes_per_s_per_unit": accel.hbm_bandwidth * accel.count,
        "scale_up_domain": system.scale_up.domain_size,
        "cpu_cores": system.host.cores,
        "cpu_sockets": system.host.sockets,
        "cpu_cores_per_accelerator": system.cpu_cores_per_accelerator,
        "power_w": system.power,
        "purchase_usd": system.purchase.price,
        "purchase_is_estimate": system.purchase.estimate,
        "rental_usd_per_hour": (system.rental.price * SECONDS_PER_HOUR
                                if system.rental else None),
    }


def _cell(value: Any, dimension: Dimension | None) -> str:
    if value is None:
        return "-"
    if dimension is not None:
        return format_quantity(float(value), dimension)
    if isinstance(value, float):
        return f"{value:,.4g}" if not value.is_integer() else f"{value:,.0f}"
    return str(value)


def render_catalog(rows: list[dict[str, Any]], fmt: str) -> str:
    """Render catalog rows as table (rich), json, markdown, csv or html."""
    if fmt == "json":
        return json.dumps({"schema_version": 1, "systems": rows}, indent=2)
    headers = [title for _, title, _ in _COLUMNS]
    cells = [[_cell(row[key], dim) + ("*" if key == "purchase_usd" and row["purchase_is_estimate"]
                                      else "") for key, _, dim in _COLUMNS] for row in rows]
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt in ("markdown", "html"):
        from planner.report.text import markdown_table

        table = markdown_table(headers, cells)
        if fmt == "html":
            from planner.report.text import markdown_to_html_page

            return markdown_to_html_page("Hardware catalog", table)
        return table
    from planner.report.text import rich_table

    return rich_table("Hardware catalog (dense peaks; prices are dated, * = estimate)", headers,
                      cells)


def render_system(system: System, fmt: str) -> str:
    """Full spec of a system with the source of each section."""
    data = system.model_dump(mode="json")
    if fmt == "json":
        return json.dumps({"schema_version": 1, "system": data}, indent=2)
    lines = [f"{system.name} ({system.id}), one {system.unit}"]
    accel = system.accelerator
    peaks = ", ".join(f"{p.value} {format_quantity(v, Dimension.FLOP_RATE)}"
                      for p in Precision if (v := getattr(accel.peak_flops, p.value)) is not None)
    lines += [
        f"  accelerators   {accel.count} x {accel.name}",
        f"  peak (dense)   {peaks} per accelerator",
        f"  HBM            {format_quantity(accel.hbm_capacity, Dimension.SIZE)} at "
        f"{format_quantity(accel.hbm_bandwidth, Dimension.BANDWIDTH)} per accelerator",
        f"  accel power    {format_quantity(accel.power, Dimension.POWER)}",
        f"  scale-up       {system.scale_up.fabric}: {system.scale_up.domain_size} accelerators, "
        f"{format_quantity(system.scale_up.bandwidth, Dimension.BANDWIDTH)} per accelerator "
        "(bidirectional)",
        f"  scale-out      {system.scale_out.fabric}: "
        f"{format_quantity(system.scale_out.bandwidth, Dimension.BANDWIDTH)} per accelerator",
        f"  host           {system.host.cpu}: {system.host.sockets} sockets, "
        f"{system.host.cores} cores ({system.cpu_cores_per_accelerator:g} per accelerator), "
        f"{format_quantity(system.host.memory, Dimension.SIZE)}",
        f"  power          {format_quantity(system.power, Dimension.POWER)} per {system.unit}",
        f"  purchase       {format_quantity(system.purchase.price, Dimension.MONEY)} "
        f"({system.purchase.date}{', estimate' if system.purchase.estimate else ''})",
    ]
    if system.rental:
        rent = format_quantity(system.rental.price, Dimension.MONEY_RATE)
        lines.append(f"  rental         {rent}"
                     f" ({system.rental.date}{', estimate' if system.rental.estimate else ''})")
    lines.append("  sources:")
    for path, source in sorted(system.sources.items()):
        text = f"    {path}: [{source.tag.value}] {source.url}".rstrip()
        if source.note:
            text += f" ({source.note})"
        lines.append(text)
    return "\n".join(lines)
