"""The benchmark gate that CI runs (which results fail it, which targets are reported missed),
and the audit-share tool."""

from __future__ import annotations

from benchmarks import audit_share
from benchmarks.report import gate_failures, misses
from benchmarks.targets import GATE_CEILINGS, GATE_FACTOR, TARGETS, gate_limit
from benchmarks.workloads import Row


def _rows(**values: float) -> list[Row]:
    """One row per target: the given values, every other target exactly met."""
    rows = []
    for name, target in TARGETS.items():
        value = values.get(name.replace(" ", "_").replace(",", ""), target.value)
        if target.kind == "absolute_us":
            rows.append(Row(name, {"jail": value}, batch=1, rounds=1, absolute=True))
        else:
            rows.append(Row(name, {"local": 1.0, "jail": value}, batch=1, rounds=1, ratio=value))
    return rows


def test_every_target_met_passes_and_reports_no_miss() -> None:
    rows = _rows()
    assert gate_failures(rows) == [] and misses(rows) == []


def test_a_ratio_over_twice_its_target_fails_the_gate() -> None:
    limit = TARGETS["cat_file 4 KiB"].value * GATE_FACTOR
    assert gate_limit("cat_file 4 KiB") == limit
    under, over = _rows(cat_file_4_KiB=limit - 0.01), _rows(cat_file_4_KiB=limit + 0.01)
    assert gate_failures(under) == []
    assert [m.split(":")[0] for m in misses(under)] == ["cat_file 4 KiB"]
    (failure,) = gate_failures(over)
    assert failure.startswith("cat_file 4 KiB: 2.61x is over 2 x the target")


def test_a_workload_with_a_ceiling_is_gated_by_it_and_still_reported_missed() -> None:
    ceiling = GATE_CEILINGS["decision 1,000 rules"]
    assert ceiling > TARGETS["decision 1,000 rules"].value * GATE_FACTOR
    rows = _rows(decision_1000_rules=ceiling - 1)
    assert gate_failures(rows) == []
    assert misses(rows) == [
        f"decision 1,000 rules: {ceiling - 1:.2f} us, target <= 3 us NOT reached "
        f"(the gate holds it under {ceiling:g} us)"
    ]
    (failure,) = gate_failures(_rows(decision_1000_rules=ceiling + 1))
    assert "over its gate ceiling" in failure
    assert misses(_rows(decision_1000_rules=2.5)) == []  # reached: not a miss


def test_a_target_without_a_result_fails_the_gate() -> None:
    rows = [r for r in _rows() if r.name != "info"]
    assert gate_failures(rows) == ["info: not measured"]


def test_audit_share_times_each_workload_with_and_without_the_record() -> None:
    header, _, *rows = audit_share.run(rounds=1)
    assert header.startswith("| workload | Local us | jail us | jail, no record us")
    assert [row.split(" | ")[0] for row in rows] == [
        "| info", "| cat_file 4 KiB", "| open+read 1 MiB",
    ]  # fmt: skip
    for row in rows:
        values = [float(cell) for cell in row.strip("| ").split(" | ")[1:]]
        assert len(values) == 5 and all(v > 0 for v in values)
