# TEST CODE ONLY, sourced by the scripts that install the packed library into a scratch app
# (test/package-smoke.sh, test/compat-newest-cdk.sh). Needs `repo_root` and a `fail` function.

# Prints the absolute path of the npm tarball to test: the one given, else the only one in
# dist/js/. Fails (through `fail`) when there is none, several, or the given one is missing.
locate_tarball() {
  local tarball=${1:-}
  if [[ -z "$tarball" ]]; then
    local candidates
    shopt -s nullglob
    candidates=("$repo_root"/dist/js/*.tgz)
    shopt -u nullglob
    if [[ ${#candidates[@]} -eq 0 ]]; then
      fail "no tarball in dist/js/: run 'npx projen compile && npx projen package:js' first"
    fi
    if [[ ${#candidates[@]} -gt 1 ]]; then
      fail "several tarballs in dist/js/ (${candidates[*]}): pass the one to test as the first argument"
    fi
    tarball=${candidates[0]}
  fi
  [[ -f "$tarball" ]] || fail "tarball $tarball does not exist"
  echo "$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"
}
