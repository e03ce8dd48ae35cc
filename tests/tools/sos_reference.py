#!/usr/bin/env python3
"""sos_reference.py — a Python model of the Stream-of-Search Countdown code (SPEC §2.1-2.2),
written from its description, that produces the golden file tests/golden/countdown_sos.txt.

The C tests replay it: the held-out targets of random.seed(s); random.shuffle(10..100), the
exhaustive solver's first-found solution, and the first step of the heuristic dfs's first
descent (sum and mult heuristics, threshold = target, Python's stable sort of
(heuristic, node) tuples). Run:  python3 tests/tools/sos_reference.py > tests/golden/countdown_sos.txt
"""
import itertools
import random


def combine(a, b):
    out = [(a + b, f"{a}+{b}={a + b}"), (a * b, f"{a}*{b}={a * b}")]
    hi, lo = (b, a) if a <= b else (a, b)
    out.append((hi - lo, f"{hi}-{lo}={hi - lo}"))
    if lo != 0 and hi % lo == 0:
        out.append((hi // lo, f"{hi}/{lo}={hi // lo}"))
    return out


def solve(target, nums, ops=()):
    if len(nums) == 1:
        return list(ops) if nums[0] == target else None
    for i, j in itertools.combinations(range(len(nums)), 2):
        rest = [nums[k] for k in range(len(nums)) if k not in (i, j)]
        for value, op in combine(nums[i], nums[j]):
            found = solve(target, rest + [value], ops + (op,))
            if found is not None:
                return found
    return None


def sum_heuristic(nums, target):
    if len(nums) == 1:
        return abs(nums[0] - target)
    return sum(abs(n - target) for n in nums) / len(nums)


def mult_heuristic(nums, target):
    factors = [f for f in range(2, target + 1) if target % f == 0]
    return sum(min(abs(n - f) for f in factors) for n in nums)


class Node:
    def __init__(self, nums, op, h):
        self.nums, self.op, self.h = nums, op, h

    def __lt__(self, other):
        return self.h < other.h


def first_descent(target, nums, heuristic):
    """The operations the dfs explores first at each depth, until its first leaf."""
    steps = []
    while len(nums) > 1:
        children = []
        for i, j in itertools.combinations(range(len(nums)), 2):
            rest = [nums[k] for k in range(len(nums)) if k not in (i, j)]
            for value, op in combine(nums[i], nums[j]):
                new = rest + [value]
                h = heuristic(new, target)
                children.append((h, Node(new, op, h)))
        children = [c for c in children if c[0] <= target]
        children.sort()
        if not children:
            break
        steps.append(children[0][1].op)
        nums = children[0][1].nums
    return steps


def exploration_error(target, nums, solution, heuristic):
    """(k, step) where the descent first leaves the solution into an unsolvable state, or None."""
    state = list(nums)
    descent = first_descent(target, nums, heuristic)
    for k, step in enumerate(descent):
        if step != solution[k]:
            # Replay the descent's own states to test solvability after the divergent step.
            st = list(nums)
            for s in descent[: k + 1]:
                st = apply(st, s)
            if solve(target, st) is not None:
                return None  # still solvable: not an error
            if len(st) > 1 and st[-1] == target:
                return None  # makes the target early: the seed's verifier would accept it
            return (k, step)
        state = apply(state, step)
    return None


def apply(state, step):
    """The list state after a step of the descent, positions found as the dfs finds them."""
    for i, j in itertools.combinations(range(len(state)), 2):
        for value, op in combine(state[i], state[j]):
            if op == step:
                return [state[k] for k in range(len(state)) if k not in (i, j)] + [value]
    raise ValueError(step)


def main():
    print("# held-out targets: seed then the shuffled first 9 of 10..100")
    for seed in range(8):
        random.seed(seed)
        pool = list(range(10, 101))
        random.shuffle(pool)
        print("H", seed, *pool[: len(pool) // 10])
    rng = random.Random(20261127)
    print("# problems: P target n nums | solution or - | exploration(sum) | exploration(mult)")
    solvable = 0
    for t in range(3000):
        # Half plain random draws (mostly unsolvable), half drawn until solvable as SoS does.
        target = rng.randint(10, 100)
        while True:
            nums = [rng.randint(1, 99) for _ in range(4)]
            sol = solve(target, nums)
            if t % 2 == 0 or sol is not None:
                break
        cells = ["-" if sol is None else ";".join(sol)]
        for h in (sum_heuristic, mult_heuristic):
            e = None if sol is None else exploration_error(target, nums, sol, h)
            cells.append("-" if e is None else f"{e[0]}:{e[1]}")
        solvable += sol is not None
        print("P", target, len(nums), *nums, "|", " | ".join(cells))
    print(f"# {solvable} of 3000 random problems solvable")


if __name__ == "__main__":
    main()
