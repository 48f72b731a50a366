#!/usr/bin/env bash
# Generates the Python, Java, .NET and Go bindings from the jsii assembly (.jsii) with
# `jsii-pacmak --code-only` into a scratch folder outside the repository, checks that each
# target produced its source, and byte-compiles every generated Python file.
#
# It cannot BUILD the packages here, and says so: the Python wheel needs setuptools from PyPI,
# the Java jar needs Maven Central, the NuGet package needs the .NET SDK and nuget.org, the Go
# module needs a Go toolchain. None of those are reachable on the build machines (npm registry
# and Debian only); a release machine builds them with `npx projen package:<language>`.
#
# Usage (from the repository root; compiles first when .jsii is missing or older than src/):
#   bash test/bindings-check.sh
# Environment:
#   KEEP_BINDINGS_DIR=1   keep the scratch folder (its path is printed)
#
# Prints PASS or FAIL (with the reason) as its last line; exits non-zero on failure.
set -euo pipefail

started=$(date +%s)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

fail() {
  echo "bindings-check: $*" >&2
  echo "FAIL ($(($(date +%s) - started)) s): $*"
  exit 1
}

# --- the assembly -----------------------------------------------------------------------------
# Bindings generated from a stale assembly would check old code: compile when src/ is newer.
stale=
if [[ -f .jsii ]]; then stale=$(find src -name '*.ts' -newer .jsii -print -quit); fi
if [[ ! -f .jsii || -n "$stale" ]]; then
  echo "bindings-check: the .jsii assembly is missing or older than ${stale:-src/}: running 'npx projen compile'"
  npx projen compile > /dev/null || fail "'npx projen compile' failed: the jsii assembly cannot be built"
fi
for target in python java dotnet go; do
  node -e "const t = JSON.parse(require('fs').readFileSync('.jsii', 'utf8')).targets || {}; process.exit(t['$target'] ? 0 : 1)" \
    || fail "the .jsii assembly has no '$target' target: configure it in .projenrc.ts (publishTo...), run 'npx projen' and 'npx projen compile'"
done
command -v python3 > /dev/null || fail "python3 is not installed (needed to byte-compile the generated Python)"

# --- a scratch folder outside the repository --------------------------------------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cdk-vm-export-bindings.XXXXXX")
case "$scratch" in
  "$repo_root"/*) fail "the scratch folder $scratch is inside the repository" ;;
esac
cleanup() {
  if [[ "${KEEP_BINDINGS_DIR:-}" == "1" ]]; then
    echo "bindings-check: kept $scratch"
  else
    rm -rf "$scratch"
  fi
}
trap cleanup EXIT

echo "bindings-check: generating python, java, dotnet and go source with jsii-pacmak --code-only in $scratch"
if ! npx jsii-pacmak --code-only --targets python java dotnet go --outdir "$scratch" > "$scratch/pacmak.log" 2>&1; then
  cat "$scratch/pacmak.log" >&2
  fail "jsii-pacmak --code-only failed"
fi

# --- every target produced its source, under the configured names -----------------------------
expect_file() {
  [[ -f "$scratch/$1" ]] || fail "$2: $1 was not generated"
  echo "bindings-check: $2: $1"
}
expect_file python/src/cdk_vm_export/__init__.py 'python (dist cdk-vm-export, module cdk_vm_export)'
expect_file java/src/main/java/io/github/cdkvmexport/InstanceExport.java 'java (io.github.cdk-vm-export:cdk-vm-export, package io.github.cdkvmexport)'
expect_file dotnet/CdkVmExport/CdkVmExport/InstanceExport.cs 'dotnet (package CdkVmExport, namespace CdkVmExport)'
expect_file go/cdkvmexport/InstanceExport.go 'go (module github.com/cdk-vm-export/cdk-vm-export-go/cdkvmexport, package cdkvmexport)'
grep -q '^module github.com/cdk-vm-export/cdk-vm-export-go/cdkvmexport$' "$scratch/go/cdkvmexport/go.mod" \
  || fail "go: go.mod does not declare module github.com/cdk-vm-export/cdk-vm-export-go/cdkvmexport"

# --- byte-compile the Python ------------------------------------------------------------------
mapfile -t python_files < <(find "$scratch/python" -name '*.py' | sort)
[[ ${#python_files[@]} -gt 0 ]] || fail "python: no .py file was generated"
if ! PYTHONPYCACHEPREFIX="$scratch/pycache" python3 -m py_compile "${python_files[@]}"; then
  fail "python: the generated source does not byte-compile"
fi
echo "bindings-check: python: ${#python_files[@]} generated .py files byte-compile with $(python3 --version)"

echo "bindings-check: NOT built here: the Python wheel (needs setuptools from PyPI), the Java jar (Maven Central), the NuGet package (.NET SDK, nuget.org) and the Go module build (Go toolchain); none is reachable on this machine. A release machine builds them with 'npx projen package:python' (java, dotnet, go)."
echo "PASS ($(($(date +%s) - started)) s): jsii-pacmak --code-only generated the python, java, dotnet and go bindings; the Python byte-compiles"
