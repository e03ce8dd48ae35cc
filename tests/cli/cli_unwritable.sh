# cli_unwritable.sh — selfbt-data fails cleanly: an --out that cannot be a folder, a
# read-only folder, a generation that cannot succeed, and a file that cannot be renamed into
# place all exit non-zero with a message, and leave existing files and no temporaries behind.
. "$(dirname "$0")/lib.sh"

SMALL="--train-problems 200 --val 20 --val-new 20 --quiet"

# ---- --out below a regular file: nothing can be created there, not even by root ----------
printf 'I am a file\n' >"$SCRATCH/afile"
run_cli under_file $SMALL --out "$SCRATCH/afile/x"
[ "$RC" -ne 0 ] && pass "--out under a regular file: exit status $RC" ||
    fail "--out under a regular file: exit status 0"
expect_grep "$ERR" "afile" "--out under a regular file: the message names the path"
[ "$(cat "$SCRATCH/afile")" = "I am a file" ] || fail "the regular file was changed"
left=$(ls -A "$SCRATCH" | grep -v -e '\.out$' -e '\.err$' -e '^afile$')
[ -z "$left" ] || fail "--out under a regular file created: $left"

# ---- --out is a regular file ------------------------------------------------------------
run_cli is_file $SMALL --out "$SCRATCH/afile"
[ "$RC" -ne 0 ] && pass "--out naming a regular file: exit status $RC" ||
    fail "--out naming a regular file: exit status 0"
expect_grep "$ERR" "afile" "--out naming a regular file: the message names the path"
[ "$(cat "$SCRATCH/afile")" = "I am a file" ] || fail "the regular file was changed"

# ---- a read-only folder (root ignores the permission bits: probe first) ----------------
RO=$SCRATCH/ro
mkdir "$RO" && chmod 0555 "$RO"
if (: >"$RO/probe") 2>/dev/null; then
    rm -f "$RO/probe"
    echo "NOTE: a 0555 folder is writable for uid $(id -u); read-only folder case skipped"
else
    run_cli read_only $SMALL --out "$RO"
    [ "$RC" -ne 0 ] && pass "read-only --out: exit status $RC" || fail "read-only --out: exit status 0"
    expect_grep "$ERR" "$RO" "read-only --out: the message names the folder"
    [ -z "$(ls -A "$RO")" ] || fail "read-only --out: files appeared: $(ls -A "$RO")"
fi
chmod 0755 "$RO"

# ---- a generation that cannot succeed keeps the old files -------------------------------
KEEP=$SCRATCH/keep
mkdir "$KEEP"
printf 'precious train\n' >"$KEEP/train.jsonl"
cp "$KEEP/train.jsonl" "$SCRATCH/train.orig"
run_cli impossible --out "$KEEP" --min-target 1000000 --max-target 1000000 --max-num 1 \
    --train-problems 1 --val 0 --val-new 0 --quiet
[ "$RC" -ne 0 ] && pass "impossible options: exit status $RC" || fail "impossible options: exit status 0"
expect_grep "$ERR" "selfbt-data: " "impossible options: an error message"
expect_grep "$ERR" "1000000" "impossible options: the message names the target"
cmp -s "$KEEP/train.jsonl" "$SCRATCH/train.orig" && pass "train.jsonl left untouched" ||
    fail "a failed run changed the existing train.jsonl"
[ -e "$KEEP/val.jsonl" ] && fail "a failed run wrote val.jsonl"
[ -e "$KEEP/val_new.jsonl" ] && fail "a failed run wrote val_new.jsonl"
no_tmp_files "$KEEP"

# ---- a file that cannot be renamed into place (train.jsonl is a non-empty folder) --------
BLOCK=$SCRATCH/block
mkdir -p "$BLOCK/train.jsonl"
printf 'inside\n' >"$BLOCK/train.jsonl/inside"
printf 'precious val\n' >"$BLOCK/val.jsonl"
run_cli blocked $SMALL --out "$BLOCK"
[ "$RC" -ne 0 ] && pass "train.jsonl is a folder: exit status $RC" || fail "train.jsonl is a folder: exit status 0"
expect_grep "$ERR" "$BLOCK/train.jsonl" "train.jsonl is a folder: the message names the file"
[ "$(cat "$BLOCK/train.jsonl/inside")" = "inside" ] || fail "the folder train.jsonl was changed"
[ "$(cat "$BLOCK/val.jsonl")" = "precious val" ] ||
    fail "val.jsonl was replaced although train.jsonl failed before it"
[ -e "$BLOCK/val_new.jsonl" ] && fail "val_new.jsonl was written after train.jsonl failed"
no_tmp_files "$BLOCK"

# ---- a missing nested --out is created ---------------------------------------------------
run_cli nested $SMALL --out "$SCRATCH/a/b/c"
expect_rc 0 "nested --out"
expect_lines "$SCRATCH/a/b/c/train.jsonl" 400
no_tmp_files "$SCRATCH/a"

# ---- a successful run over old files replaces them whole --------------------------------
run_cli replace $SMALL --out "$KEEP"
expect_rc 0 "run over existing files"
expect_lines "$KEEP/train.jsonl" 400
grep -q precious "$KEEP/train.jsonl" && fail "old content survived in train.jsonl"
no_tmp_files "$KEEP"

finish
