"""Throughput of the compiled mapping plan, as ratios against baselines run in the same process.

    python benchmarks/bench_plan.py [--records N] [--repeat R]

Maps N synthetic meeting records with the default `meetings` mapping three ways:

- the compiled plan (`engine.language.plan.compile_plan(...).map_record`), what `map` and `sync` run;
- plain `jmespath.search(expression, record)` per field, with the same coercers (no compilation);
- hand-written Python doing the same look-ups and conversions (the floor a plan can approach).

It prints records per second for each and the ratios (plan vs jmespath, plan vs hand-written).
Timings vary by machine; the ratios are what to compare between versions. Nothing here asserts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jmespath

from engine.language.coerce import COERCERS
from engine.language.functions import function_options
from engine.language.plan import compile_plan
from engine.validate.mapping_set import load_mapping_set

MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def make_records(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": 85746065432 + n,
            "uuid": f"aDYlohsHRtCd4ii1uC2+hA=={n}",
            "host_id": "30R7kT7bTIKSNUFEuH_Qlg",
            "topic": f"Weekly sync #{n}",
            "join_url": f"https://example.zoom.us/j/{85746065432 + n}",
            "start_url": f"https://example.zoom.us/s/{85746065432 + n}?zak=token",
            "password": "P@ss",
            "start_time": "2022-03-23T06:00:00Z",
            "duration": 60,
            "timezone": "UTC",
            "past": {"participants_count": n % 40, "start_time": "2022-03-23T06:01:00Z"},
        }
        for n in range(count)
    ]


def plain_jmespath(mapping: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Each field's expression searched anew per record, as a naive engine would."""
    fields = [(spec.target, spec.source, COERCERS[spec.type]) for spec in mapping.enabled_fields]

    def run(record: dict[str, Any]) -> dict[str, Any]:
        output: dict[str, Any] = {}
        for target, source, coerce in fields:
            value = jmespath.search(source, record, options=function_options())
            if value is not None:
                output[target] = coerce(value)
        return output

    return run


def hand_written(mapping: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Direct dictionary look-ups for plain paths; the registry only where a transform is needed."""
    compiled = compile_plan(mapping)
    plain = [(f.target, f.expression.fast_path, f.coerce) for f in compiled.fields if f.expression.fast_path]
    others = [f for f in compiled.fields if not f.expression.fast_path]

    def run(record: dict[str, Any]) -> dict[str, Any]:
        output: dict[str, Any] = {}
        for target, path, coerce in plain:
            value: Any = record
            for step in path or ():
                value = value.get(step) if isinstance(value, dict) else None
            if value is not None:
                output[target] = coerce(value)
        for field in others:
            value = field.expression.evaluate(record)
            if value is not None:
                output[field.target] = field.coerce(value)
        return output

    return run


def measure(run: Callable[[dict[str, Any]], Any], records: list[dict[str, Any]], repeat: int) -> float:
    """Records per second, the median of `repeat` passes."""
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        for record in records:
            run(record)
        rates.append(len(records) / (time.perf_counter() - started))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    mapping = load_mapping_set([MAPPINGS]).raise_if_invalid().get("meetings")
    plan = compile_plan(mapping)
    records = make_records(arguments.records)
    rates = {
        "compiled plan": measure(plan.map_record, records, arguments.repeat),
        "jmespath.search per field": measure(plain_jmespath(mapping), records, arguments.repeat),
        "hand-written Python": measure(hand_written(mapping), records, arguments.repeat),
    }
    for name, rate in rates.items():
        print(f"{name:<28} {rate:>12,.0f} records/s")
    print(f"plan / jmespath.search      {rates['compiled plan'] / rates['jmespath.search per field']:>12.2f}x")
    print(f"plan / hand-written         {rates['compiled plan'] / rates['hand-written Python']:>12.2f}x")


if __name__ == "__main__":
    main()
