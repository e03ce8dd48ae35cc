#!/usr/bin/env python3
"""check_countdown.py — checks the JSONL files written by selfbt-data.

Every line must be a JSON object with exactly the keys nums, target, search_path. A D_op row's
search_path is n_nums-1 legal steps ending on the target, then "Goal Reached!"; a D_back row's
is a proper prefix of its problem's D_op row, one erroneous step, then "<backtrack>". The
erroneous step is classified by replaying it: an operand that is not available -> rule
violation; a wrong result -> computational; otherwise (a legal step, which must leave an
unsolvable state) -> exploration.

usage: check_countdown.py DIR [--nums N] [--max-num N] [--train-op N] [--train-back N]
                              [--val N] [--val-new N] [--heldout a,b,c] [--kinds E,C,R]
Exit status 0 when every check passes; otherwise it prints what failed and exits 1.
"""
import argparse
import json
import os
import re
import sys

STEP = re.compile(r"^(\d+)([+\-*/])(\d+)=(-?\d+)$")
GOAL = "Goal Reached!"
BACK = "<backtrack>"
KEYS = {"nums", "target", "search_path"}

errors = []


def fail(msg):
    errors.append(msg)
    if len(errors) <= 20:
        print("FAIL: " + msg, file=sys.stderr)


def apply(a, op, b):
    """The exact result of a step, or None where the SoS rules have none."""
    if op == "+":
        return a + b
    if op == "*":
        return a * b
    if op == "-":
        return a - b if a >= b else None
    if op == "/":
        return a // b if b != 0 and a % b == 0 else None
    return None


def replay(nums, step):
    """Applies a step to the multiset nums. Returns (kind, new nums) where kind is 'ok',
    'rule' (an operand is not available) or 'computational' (the result is wrong)."""
    m = STEP.match(step)
    if not m:
        return "format", nums
    a, op, b, r = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
    rest = list(nums)
    for x in (a, b):
        if x not in rest:
            return "rule", nums
        rest.remove(x)
    if apply(a, op, b) != r:
        return "computational", nums
    return "ok", rest + [r]


_solvable_memo = {}


def solvable(nums, target):
    """Can the numbers (all of them) be combined into target? (SoS moves: a+b, a*b,
    larger-minus-smaller, exact division.)"""
    key = (tuple(sorted(nums)), target)
    if key in _solvable_memo:
        return _solvable_memo[key]
    if len(nums) == 1:
        found = nums[0] == target
    else:
        found = False
        for i in range(len(nums)):
            for j in range(i + 1, len(nums)):
                hi, lo = max(nums[i], nums[j]), min(nums[i], nums[j])
                rest = [nums[x] for x in range(len(nums)) if x not in (i, j)]
                vals = [hi + lo, hi * lo, hi - lo] + ([hi // lo] if lo and hi % lo == 0 else [])
                if any(solvable(rest + [v], target) for v in vals):
                    found = True
                    break
            if found:
                break
    _solvable_memo[key] = found
    return found


def load(path, where):
    rows = []
    with open(path, "rb") as f:
        for k, raw in enumerate(f, 1):
            if not raw.endswith(b"\n"):
                fail(f"{where}:{k}: the last line has no newline")
            try:
                row = json.loads(raw)
            except ValueError as e:
                fail(f"{where}:{k}: not JSON: {e}")
                continue
            if not isinstance(row, dict) or set(row) != KEYS:
                fail(f"{where}:{k}: keys {sorted(row) if isinstance(row, dict) else type(row)}")
                continue
            rows.append((k, row))
    return rows


def check_problem(where, k, row, n_nums, max_num):
    nums, target = row["nums"], row["target"]
    if not (isinstance(nums, list) and len(nums) == n_nums
            and all(isinstance(x, int) and 1 <= x <= max_num for x in nums)):
        fail(f"{where}:{k}: nums {nums!r}, expected {n_nums} whole numbers in 1..{max_num}")
        return False
    if not isinstance(target, int) or isinstance(target, bool):
        fail(f"{where}:{k}: target {target!r} is not a whole number")
        return False
    if not isinstance(row["search_path"], str):
        fail(f"{where}:{k}: search_path is not a string")
        return False
    return True


def check_op(where, k, row, n_nums):
    """A D_op row: legal steps using every number, ending on the target, then the goal."""
    lines = row["search_path"].split("\n")
    if lines[-1] != GOAL:
        fail(f"{where}:{k}: a D_op row that does not end with {GOAL!r}: {row['search_path']!r}")
        return None
    steps = lines[:-1]
    if len(steps) != n_nums - 1:
        fail(f"{where}:{k}: {len(steps)} steps, expected {n_nums - 1}")
        return None
    state = list(row["nums"])
    for s in steps:
        kind, state = replay(state, s)
        if kind != "ok":
            fail(f"{where}:{k}: D_op step {s!r} is {kind}")
            return None
    if state != [row["target"]]:
        fail(f"{where}:{k}: D_op ends on {state}, target {row['target']}")
        return None
    return steps


def check_back(where, k, row, op_row, op_steps):
    """A D_back row: its problem's D_op prefix, one wrong step, then <backtrack>."""
    lines = row["search_path"].split("\n")
    if lines[-1] != BACK or len(lines) < 2:
        fail(f"{where}:{k}: a D_back row that does not end with '\\n{BACK}': "
             f"{row['search_path']!r}")
        return None
    if op_row is None or (row["nums"], row["target"]) != (op_row["nums"], op_row["target"]):
        fail(f"{where}:{k}: a D_back row that does not follow its problem's D_op row")
        return None
    prefix, err = lines[:-2], lines[-2]
    if op_steps is None or prefix != op_steps[:len(prefix)] or len(prefix) >= len(op_steps):
        fail(f"{where}:{k}: the steps before the error are not a proper prefix of the D_op "
             f"row: {row['search_path']!r}")
        return None
    state = list(row["nums"])
    for s in prefix:
        _, state = replay(state, s)
    kind, after = replay(state, err)
    if kind == "format":
        fail(f"{where}:{k}: the erroneous step {err!r} is not 'a op b=r'")
        return None
    if kind == "ok":
        if err == op_steps[len(prefix)]:
            fail(f"{where}:{k}: the 'erroneous' step {err!r} is the D_op step itself")
            return None
        if solvable(after, row["target"]):
            fail(f"{where}:{k}: the exploration step {err!r} leaves a solvable state {after}")
            return None
        return "exploration"
    return kind


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--nums", type=int, default=4)
    ap.add_argument("--max-num", type=int, default=99)
    ap.add_argument("--train-op", type=int)
    ap.add_argument("--train-back", type=int)
    ap.add_argument("--val", type=int)
    ap.add_argument("--val-new", type=int)
    ap.add_argument("--heldout", help="comma-separated held-out targets")
    ap.add_argument("--kinds", help="expected D_back counts E,C,R (exploration, computational, rule)")
    a = ap.parse_args()
    heldout = {int(x) for x in a.heldout.split(",")} if a.heldout else None

    # ---- train: D_op rows, each followed by its D_back rows --------------------------
    where = "train.jsonl"
    rows = load(os.path.join(a.dir, where), where)
    n_op = n_back = 0
    kinds = {"exploration": 0, "computational": 0, "rule": 0}
    op_row = op_steps = None
    for k, row in rows:
        if not check_problem(where, k, row, a.nums, a.max_num):
            continue
        if heldout is not None and row["target"] in heldout:
            fail(f"{where}:{k}: target {row['target']} is held out")
        if row["search_path"].endswith(GOAL):
            n_op += 1
            op_row, op_steps = row, check_op(where, k, row, a.nums)
        else:
            n_back += 1
            kind = check_back(where, k, row, op_row, op_steps)
            if kind:
                kinds[kind] += 1
    print(f"{where}: {len(rows)} rows, {n_op} D_op, {n_back} D_back "
          f"(exploration {kinds['exploration']}, computational {kinds['computational']}, "
          f"rule violation {kinds['rule']})")
    if a.train_op is not None and n_op != a.train_op:
        fail(f"{where}: {n_op} D_op rows, expected {a.train_op}")
    if a.train_back is not None and n_back != a.train_back:
        fail(f"{where}: {n_back} D_back rows, expected {a.train_back}")
    if a.kinds:
        want = [int(x) for x in a.kinds.split(",")]
        got = [kinds["exploration"], kinds["computational"], kinds["rule"]]
        if got != want:
            fail(f"{where}: D_back kinds (E,C,R) {got}, expected {want}")

    # ---- val / val_new: D_op rows only -------------------------------------------------
    for where, want_n, new in (("val.jsonl", a.val, False), ("val_new.jsonl", a.val_new, True)):
        rows = load(os.path.join(a.dir, where), where)
        targets = set()
        for k, row in rows:
            if not check_problem(where, k, row, a.nums, a.max_num):
                continue
            check_op(where, k, row, a.nums)
            targets.add(row["target"])
            if heldout is not None and (row["target"] in heldout) != new:
                fail(f"{where}:{k}: target {row['target']} is "
                     f"{'not ' if new else ''}a held-out target")
        print(f"{where}: {len(rows)} rows, {len(targets)} distinct targets")
        if want_n is not None and len(rows) != want_n:
            fail(f"{where}: {len(rows)} rows, expected {want_n}")

    if errors:
        print(f"check_countdown: {len(errors)} failures", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
