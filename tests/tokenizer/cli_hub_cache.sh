# cli_hub_cache.sh — selfbt-tokenize --tokenizer ORG/NAME finds a tokenizer in the Hugging Face
# cache (laid out as huggingface_hub does: refs/main, snapshots/<commit>/ links into blobs/),
# offline, with no server; and a repo the cache lacks fails offline with a clear message.
. "$(dirname "$0")/cli_lib.sh"

unset HF_TOKEN HF_HOME HF_ENDPOINT
export HF_HUB_CACHE="$SCRATCH/cache" HF_HUB_OFFLINE=1
countdown_text >"$SCRATCH/in.txt"

tok save /dev/null --countdown --save "$SCRATCH/saved"
expect_rc 0 "save the compact tokenizer"

REPO=$HF_HUB_CACHE/models--test-org--countdown-tok
COMMIT=0123456789abcdef0123456789abcdef01234567
mkdir -p "$REPO/blobs" "$REPO/refs" "$REPO/snapshots/$COMMIT"
printf '%s' "$COMMIT" >"$REPO/refs/main"
for f in tokenizer.json tokenizer_config.json; do
    blob=$(sha256sum "$SCRATCH/saved/$f" | cut -d' ' -f1)
    cp "$SCRATCH/saved/$f" "$REPO/blobs/$blob"
    ln -s "../../blobs/$blob" "$REPO/snapshots/$COMMIT/$f"
done

tok direct "$SCRATCH/in.txt" --countdown
expect_rc 0 "encode with --countdown"
cp "$OUT" "$SCRATCH/want.txt"
tok cached "$SCRATCH/in.txt" --tokenizer test-org/countdown-tok
expect_rc 0 "encode with a repo id from the cache, offline"
expect_same "$OUT" "$SCRATCH/want.txt" "the cached repo encodes as --countdown"
tok cached_rev "$SCRATCH/in.txt" --tokenizer test-org/countdown-tok@main
expect_rc 0 "repo id with @revision"
expect_same "$OUT" "$SCRATCH/want.txt" "org/name@main encodes the same"

tok missing "$SCRATCH/in.txt" --tokenizer test-org/not-cached
expect_rc 1 "a repo the cache lacks, offline"
expect_grep "$ERR" "not-cached" "the error names the repo"

finish
