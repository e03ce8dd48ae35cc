# cli_threads.sh — the output depends on the seed only: --threads 1, 2, 3 and 0 (all cores)
# give byte-identical files; another seed gives different ones.
. "$(dirname "$0")/lib.sh"

SMALL="--train-problems 3000 --val 300 --val-new 300 --quiet"

for t in 1 2 3 0; do
    run_cli "threads$t" $SMALL --seed 4 --threads "$t" --out "$SCRATCH/t$t"
    expect_rc 0 "--threads $t"
done
expect_lines "$SCRATCH/t1/train.jsonl" 6000
expect_lines "$SCRATCH/t1/val.jsonl" 300
expect_lines "$SCRATCH/t1/val_new.jsonl" 300
[ -s "$SCRATCH/threads1.out" ] && fail "--quiet still printed: $(cat "$SCRATCH/threads1.out")"

for t in 2 3 0; do
    for f in train.jsonl val.jsonl val_new.jsonl; do
        if cmp -s "$SCRATCH/t1/$f" "$SCRATCH/t$t/$f"; then
            pass "$f: --threads 1 and --threads $t are byte-identical"
        else
            fail "$f differs between --threads 1 and --threads $t"
            cmp "$SCRATCH/t1/$f" "$SCRATCH/t$t/$f" >&2
        fi
    done
done

# Several generation chunks (8192 problems each; fewer when a problem has several D_back
# rows) and an uneven number of D_back rows per problem.
BIG="--train-problems 20000 --ratio 2:3 --val 9000 --val-new 100 --quiet"
for t in 1 2; do
    run_cli "big$t" $BIG --threads "$t" --out "$SCRATCH/big$t"
    expect_rc 0 "several chunks, --threads $t"
done
expect_lines "$SCRATCH/big1/train.jsonl" 50000
for f in train.jsonl val.jsonl val_new.jsonl; do
    if cmp -s "$SCRATCH/big1/$f" "$SCRATCH/big2/$f"; then
        pass "$f: several chunks, --threads 1 and 2 are byte-identical"
    else
        fail "$f: several chunks, --threads 1 and 2 differ"
    fi
done

# The same seed twice (another folder) is identical too; the default seed is 4.
run_cli again $SMALL --threads 2 --out "$SCRATCH/again"
expect_rc 0 "default seed"
for f in train.jsonl val.jsonl val_new.jsonl; do
    cmp -s "$SCRATCH/t1/$f" "$SCRATCH/again/$f" || fail "$f: the default seed is not seed 4"
done

# Another seed: every file differs (val_new also has other held-out targets).
run_cli seed5 $SMALL --seed 5 --threads 2 --out "$SCRATCH/s5"
expect_rc 0 "--seed 5"
expect_lines "$SCRATCH/s5/train.jsonl" 6000
for f in train.jsonl val.jsonl val_new.jsonl; do
    if cmp -s "$SCRATCH/t1/$f" "$SCRATCH/s5/$f"; then
        fail "$f: --seed 4 and --seed 5 give the same file"
    else
        pass "$f: --seed 5 differs from --seed 4"
    fi
done
if have_python; then
    for s in 4 5; do
        d=$SCRATCH/t1
        [ "$s" = 5 ] && d=$SCRATCH/s5
        # Held-out targets of the seed, as CPython makes them.
        held=$("$PYTHON3" -c "import random; random.seed($s); l = list(range(10, 101)); random.shuffle(l); print(','.join(map(str, l[:9])))")
        "$PYTHON3" "$HERE/check_countdown.py" "$d" --train-op 3000 --train-back 3000 \
            --val 300 --val-new 300 --heldout "$held" >/dev/null ||
            fail "seed $s: check_countdown.py found bad rows (held-out $held)"
    done
    "$PYTHON3" "$HERE/check_countdown.py" "$SCRATCH/big1" --train-op 20000 --train-back 30000 \
        --val 9000 --val-new 100 >/dev/null || fail "several chunks: check_countdown.py found bad rows"
fi

finish
