"""How often does the gate's report name the right diagnosis, and does it ever name one on
correct code?

1. For each bug of verification.zoo.bugs: CASES cases (seed SEED) drawn with its options, in
   the regimes where it shows (Bug.regimes), judged as the gate judges them
   (verification.zoo.rates.measure). Columns: the failing cases; the share whose report names
   the bug's diagnosis first; the share that names it at all (first, or as an alternative that
   the case cannot tell apart: "or, just as well" in the report); what the report named first
   where it did not name the bug's diagnosis first. Target: TARGET (90%) named, per bug.
2. For the correct implementations (the reference, the zoo's Textbook, and the correct
   variants of verification/tests/alternatives.py): CORRECT_CASES cases each with every
   option. Columns: the gate's failed cases (verification.check), and every diagnosis their
   results support whether or not they failed (verification.judge.diagnoses.established, the
   hypotheses, float32 and the patterns run on every result). Target: 0 and 0.

    python benchmarks/diagnoses.py                  # 200 cases per bug, 500 per correct one
    python benchmarks/diagnoses.py --cases 40 --correct-cases 100    # a quick look

The full run takes about five minutes on one core.
"""

import argparse
import time
from collections import Counter

import reference
from verification import check
from verification.tests import alternatives
from verification.zoo.bugs import ZOO, Textbook
from verification.zoo.rates import TARGET, false_diagnoses, measure

SEED = 1
CASES = 200
CORRECT_SEED = 2
CORRECT_CASES = 500

CORRECT = {
    "reference.gradients": reference.gradients,
    "zoo Textbook": Textbook(),
    "reversed_order": alternatives.reversed_order,
    "pairwise_sum": alternatives.pairwise_sum,
    "shuffled_order": alternatives.shuffled_order,
    "textbook": alternatives.textbook,
    "logsumexp": alternatives.logsumexp,
    "torch_autograd": alternatives.torch_gradients,
    "hips_autograd": alternatives.hips_gradients,
}


def bug_table(cases: int) -> bool:
    print(f"bugs of the zoo: {cases} cases each (seed {SEED}); target {TARGET:.0%} named\n")
    print(f"{'bug':<58} {'diagnosis':<27} {'failing':>7} {'first':>6} {'named':>6}  otherwise")
    ok = True
    for bug in ZOO:
        m = measure(bug, cases, SEED)
        others = Counter({k: v for k, v in m.said.items() if k != bug.diagnosis})
        otherwise = ", ".join(f"{name} {count}" for name, count in others.most_common(3))
        met = m.failing > 0 and m.share >= TARGET
        ok &= met
        print(
            f"{bug.name:<58} {bug.diagnosis:<27} {m.failing:>7} {m.share_first:>6.0%} "
            f"{m.share:>6.0%}  {otherwise}{'' if met else '   MISS'}"
        )
    return ok


def correct_table(cases: int) -> bool:
    print(f"\ncorrect implementations: {cases} cases each (seed {CORRECT_SEED}), every option\n")
    print(f"{'implementation':<22} {'failed':>6} {'diagnoses':>9}  seconds")
    ok = True
    for name, impl in CORRECT.items():
        start = time.perf_counter()
        failed = len(check(impl, cases=cases, seed=CORRECT_SEED, shrink_failures=0).failures)
        found = false_diagnoses(impl, cases, CORRECT_SEED)
        ok &= failed == 0 and not found
        names = f"  {dict(found)}" if found else ""
        print(
            f"{name:<22} {failed:>6} {sum(found.values()):>9}  "
            f"{time.perf_counter() - start:>7.1f}{names}"
        )
    return ok


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=CASES, help=f"cases per bug ({CASES})")
    p.add_argument(
        "--correct-cases",
        type=int,
        default=CORRECT_CASES,
        help=f"cases per correct implementation ({CORRECT_CASES})",
    )
    args = p.parse_args()
    bugs_ok = bug_table(args.cases)
    correct_ok = correct_table(args.correct_cases)
    print(f"\n{'PASS' if bugs_ok else 'MISS'}: every bug's diagnosis named in >= {TARGET:.0%}")
    print(f"{'PASS' if correct_ok else 'MISS'}: no failure and no diagnosis on correct code")


if __name__ == "__main__":
    main()
