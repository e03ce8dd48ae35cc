# cli_ratio.sh — --ratio OP:BACK sets the number of D_back rows (round(BACK/OP * problems)),
# --error-mix E:C:R splits them exactly among exploration, computational and rule-violation
# errors; the files, the summary and (with python3) a replay of each wrong step agree.
. "$(dirname "$0")/lib.sh"

N=1000
SMALL="--train-problems $N --val 10 --val-new 10"

# summary_kinds FILE: "D_op D_back E C R fallbacks" from the printed summary.
summary_kinds() {
    _t=$(sed -n 's/.*train\.jsonl *[0-9]* rows: \([0-9]*\) D_op + \([0-9]*\) D_back (exploration \([0-9]*\), computational \([0-9]*\), rule violation \([0-9]*\)).*/\1 \2 \3 \4 \5/p' "$1")
    _f=$(sed -n 's/.*fell back to another type: \([0-9]*\).*/\1/p' "$1")
    echo "$_t $_f"
}

# replay_kinds DIR: "E C R" counted by replaying every D_back row's wrong step.
# (Prints "bad rows" instead when check_countdown.py finds any row malformed.)
replay_kinds() {
    if _o=$("$PYTHON3" "$HERE/check_countdown.py" "$1"); then
        echo "$_o" | sed -n 's/.*(exploration \([0-9]*\), computational \([0-9]*\), rule violation \([0-9]*\)).*/\1 \2 \3/p'
    else
        echo "bad rows"
    fi
}

# ---- --ratio -------------------------------------------------------------------------
# ratio  expected D_back rows for N = 1000 problems
for case in 1:1=1000 1:0.5=500 1:2=2000 2:1=500 3:1=333 1:0=0 0.5:1=2000 4:10=2500; do
    ratio=${case%%=*}
    want=${case#*=}
    d=$SCRATCH/ratio_$(echo "$ratio" | tr ':.' '__')
    run_cli "ratio_$ratio" $SMALL --ratio "$ratio" --out "$d"
    expect_rc 0 "--ratio $ratio"
    got_back=$(count_back "$d/train.jsonl")
    got_op=$(count_op "$d/train.jsonl")
    if [ "$got_back" -eq "$want" ] && [ "$got_op" -eq "$N" ]; then
        pass "--ratio $ratio: $got_op D_op + $got_back D_back rows"
    else
        fail "--ratio $ratio: $got_op D_op + $got_back D_back rows, expected $N + $want"
    fi
    expect_lines "$d/train.jsonl" $((N + want))
    set -- $(summary_kinds "$OUT")
    [ "${1:-x}" = "$N" ] && [ "${2:-x}" = "$want" ] ||
        fail "--ratio $ratio: the summary says '$*', expected $N D_op and $want D_back"
done

# ---- --error-mix -----------------------------------------------------------------------
# mix ratio  expected "E C R" (exact: these problems never lack an exploration error)
for case in 1:2:2/1:1=200_400_400 0:1:0/1:1=0_1000_0 0:0:1/1:1=0_0_1000 3:1:1/1:1=600_200_200 \
    1:2:2/1:2=400_800_800 2:0:3/2:1=200_0_300; do
    mix=${case%%/*}
    rest=${case#*/}
    ratio=${rest%%=*}
    want=$(echo "${rest#*=}" | tr '_' ' ')
    d=$SCRATCH/mix_$(echo "$mix-$ratio" | tr ':' '_')
    run_cli "mix_$mix" $SMALL --error-mix "$mix" --ratio "$ratio" --out "$d"
    expect_rc 0 "--error-mix $mix --ratio $ratio"
    set -- $(summary_kinds "$OUT")
    got="${3:-} ${4:-} ${5:-}"
    [ "$got" = "$want" ] && pass "--error-mix $mix: the summary says E C R = $got" ||
        fail "--error-mix $mix --ratio $ratio: the summary says E C R = '$got', expected '$want'"
    back=$(count_back "$d/train.jsonl")
    [ "$back" -eq "${2:--1}" ] || fail "--error-mix $mix: $back D_back rows in the file, the summary says ${2:-?}"
    if have_python; then
        replayed=$(replay_kinds "$d")
        [ "$replayed" = "$want" ] && pass "--error-mix $mix: replaying the wrong steps gives $replayed" ||
            fail "--error-mix $mix --ratio $ratio: replaying the wrong steps gives E C R = '$replayed', expected '$want'"
    fi
done

# Exploration only: a problem without an exploration error falls back to another kind; the
# fallbacks are reported, and the kinds still add up.
d=$SCRATCH/mix_explore_only
run_cli mix_explore_only $SMALL --error-mix 1:0:0 --out "$d"
expect_rc 0 "--error-mix 1:0:0"
set -- $(summary_kinds "$OUT")
if [ $# -eq 6 ] && [ "$2" -eq "$N" ] && [ $(($3 + $4 + $5)) -eq "$N" ] && [ $(($3 + $6)) -eq "$N" ]; then
    pass "--error-mix 1:0:0: exploration $3 + fallbacks $6 = $N"
else
    fail "--error-mix 1:0:0: the summary gives '$*' (D_op D_back E C R fallbacks)"
fi
if have_python; then
    replayed=$(replay_kinds "$d")
    [ "$replayed" = "$3 $4 $5" ] || fail "--error-mix 1:0:0: replay gives '$replayed', the summary '$3 $4 $5'"
fi

# No D_back rows asked for: an all-zero mix is fine. With D_back rows it is an error.
run_cli mix_zero_no_back $SMALL --ratio 1:0 --error-mix 0:0:0 --out "$SCRATCH/zero_ok" --quiet
expect_rc 0 "--ratio 1:0 --error-mix 0:0:0"
expect_lines "$SCRATCH/zero_ok/train.jsonl" "$N"
run_cli mix_zero $SMALL --error-mix 0:0:0 --out "$SCRATCH/zero_bad" --quiet
[ "$RC" -ne 0 ] && pass "--error-mix 0:0:0 with D_back rows: exit status $RC" ||
    fail "--error-mix 0:0:0 with D_back rows: exit status 0"
[ -e "$SCRATCH/zero_bad/train.jsonl" ] && fail "--error-mix 0:0:0 wrote train.jsonl"

finish
