# cli_default.sh — the default run of selfbt-data (the paper's sizes): 500000 train rows
# (250000 D_op + 250000 D_back, error types 1:2:2), 5000 val, 5000 val_new; every row a JSON
# object with exactly nums, target, search_path; val_new on the held-out targets of seed 4
# only. The wall time is printed, never asserted.
. "$(dirname "$0")/lib.sh"

# Stream-of-Search's held-out targets: random.seed(4); random.shuffle(range(10, 101))[:9].
HELDOUT="14 39 41 57 62 81 87 89 96"
DATA=$SCRATCH/data

start=$(date +%s)
run_cli default --out "$DATA"
end=$(date +%s)
expect_rc 0 "default run"
[ -s "$ERR" ] && { echo "  stderr of the default run:"; sed 's/^/    | /' "$ERR"; }
echo "  summary:"
sed 's/^/    | /' "$OUT"
printed=$(sed -n 's/^selfbt-data: wrote .* in \([0-9.]*\) s .*/\1/p' "$OUT")
if [ -n "$printed" ]; then
    echo "TIME: the default run reports $printed s (about $((end - start)) s wall clock, $(nproc 2>/dev/null || echo '?') cores)"
else
    fail "the summary does not print the time taken"
fi

expect_lines "$DATA/train.jsonl" 500000
expect_lines "$DATA/val.jsonl" 5000
expect_lines "$DATA/val_new.jsonl" 5000
no_tmp_files "$DATA"
n_files=$(ls -A "$DATA" | wc -l | tr -d ' ')
[ "$n_files" -eq 3 ] || fail "$n_files entries in the output folder, expected 3: $(ls -A "$DATA" | tr '\n' ' ')"

# The summary names the held-out targets and the row counts.
expect_grep "$OUT" "held out: $HELDOUT" "the summary lists the held-out targets"
expect_grep "$OUT" "500000 rows: 250000 D_op + 250000 D_back" "the summary gives the train split"
expect_grep "$OUT" "(exploration 50000, computational 100000, rule violation 100000)" \
    "the summary gives the 1:2:2 error types"

if have_python; then
    # Keys, 4 numbers, legal D_op solutions, D_back rows as D_op prefix + one wrong step,
    # error types by replaying the wrong step, held-out targets only (and all) in val_new.
    if "$PYTHON3" "$HERE/check_countdown.py" "$DATA" --nums 4 --max-num 99 \
        --train-op 250000 --train-back 250000 --val 5000 --val-new 5000 \
        --heldout "$(echo $HELDOUT | tr ' ' ',')" --kinds 50000,100000,100000; then
        pass "every row checked by check_countdown.py"
    else
        fail "check_countdown.py found bad rows"
    fi
    # val_new uses every held-out target, and val uses every other target of 10..100.
    "$PYTHON3" - "$DATA" "$HELDOUT" <<'EOF' || fail "target sets of val / val_new"
import json, os, sys
d, held = sys.argv[1], {int(x) for x in sys.argv[2].split()}
def targets(name):
    with open(os.path.join(d, name)) as f:
        return {json.loads(line)["target"] for line in f}
new, seen, train = targets("val_new.jsonl"), targets("val.jsonl"), targets("train.jsonl")
ok = True
if new != held:
    print("val_new targets", sorted(new), "!= held-out", sorted(held)); ok = False
if seen != set(range(10, 101)) - held:
    print("val targets", sorted(seen), "are not 10..100 less the held-out ones"); ok = False
if train != set(range(10, 101)) - held:
    print("train targets", sorted(train), "are not 10..100 less the held-out ones"); ok = False
sys.exit(0 if ok else 1)
EOF
else
    echo "NOTE: no python3; checking the rows with grep only"
    line_re='^\{"nums":\[[0-9]+,[0-9]+,[0-9]+,[0-9]+\],"target":[0-9]+,"search_path":"([^"\\]|\\.)*"\}$'
    for f in train val val_new; do
        bad=$(grep -E -v -c "$line_re" "$DATA/$f.jsonl")
        [ "$bad" -eq 0 ] || fail "$f.jsonl: $bad lines are not {nums:[4 numbers],target,search_path}"
    done
    [ "$(count_op "$DATA/train.jsonl")" -eq 250000 ] || fail "train.jsonl: D_op rows != 250000"
    [ "$(count_back "$DATA/train.jsonl")" -eq 250000 ] || fail "train.jsonl: D_back rows != 250000"
    [ "$(count_op "$DATA/val.jsonl")" -eq 5000 ] || fail "val.jsonl: not all rows are D_op"
    [ "$(count_op "$DATA/val_new.jsonl")" -eq 5000 ] || fail "val_new.jsonl: not all rows are D_op"
    new=$(grep -o '"target":[0-9]*' "$DATA/val_new.jsonl" | cut -d: -f2 | sort -n -u | tr '\n' ' ')
    [ "$new" = "$HELDOUT " ] || fail "val_new targets are '$new', expected '$HELDOUT '"
    for t in $HELDOUT; do
        if grep -q "\"target\":$t," "$DATA/val.jsonl" "$DATA/train.jsonl"; then
            fail "held-out target $t appears in val.jsonl or train.jsonl"
        fi
    done
fi

finish
