#!/usr/bin/env bash
# Every test of eidas-node, from a fresh clone: installs what the tests need when it is missing
# (Debian packages, a Python venv with pinned interop oracles), then runs the format check,
# clippy, the oracle self-test and the whole Rust test suite (one build, shared by all tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }

step "test environment"
scripts/setup-test-env.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

step "interop oracle self-test"
tests/interop/selftest.sh

step "cargo test"
cargo test --locked
