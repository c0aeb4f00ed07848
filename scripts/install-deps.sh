#!/usr/bin/env bash
# Installs, from Debian's packages, whatever distillguard needs and is missing.
# Idempotent and non-interactive: a machine that has everything runs no apt at all.
set -euo pipefail

# The sanitizer runtimes for `make test-asan` and `make test-tsan` come with
# build-essential: the build uses GCC 12, whose libgcc-12-dev depends on libasan8,
# liblsan0, libubsan1 and libtsan2. clang and libclang-rt-14-dev are for the
# libFuzzer build (`make fuzz`) only.
packages=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates
  libboost1.81-dev libssl-dev nlohmann-json3-dev librocksdb-dev prometheus-cpp-dev
  libyaml-cpp-dev libprotobuf-dev protobuf-compiler zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  nginx-light wrk prometheus python3 wordnet-base openssl procps
)
# Node.js and npm (for the official openai client in the tests): Debian's, unless
# the machine already has a node and npm of its own (Debian's npm conflicts with them).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
# Debian's nginx and prometheus packages try to start services; we start our own on loopback.
$sudo pkill -x nginx 2>/dev/null || true
$sudo pkill -x prometheus 2>/dev/null || true
