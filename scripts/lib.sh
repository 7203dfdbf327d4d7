# Shared set-up for scripts/test and scripts/demo (sourced, not run).
#
# On a bare Debian machine this installs what the tests and the demo need, saying first what it
# installs and why; on a machine that has everything it installs nothing and says nothing.

# The oldest Python the package supports (pyproject.toml: requires-python).
MIN_PYTHON=3.10
# The interpreter that builds .venv (override: PYTHON=/usr/bin/python3.12 ./scripts/test).
PYTHON=${PYTHON:-python3}

# Debian packages the tests need, each with the reason it is installed. Installed only when
# missing, so a second run costs nothing.
declare -A PACKAGE_REASONS=(
  [python3]="the Python interpreter that builds .venv"
  [python3-venv]="'python3 -m venv' (Debian ships venv and ensurepip separately), to build .venv"
  [chromium]="a headless browser for the viewer test"
  [openssl]="test certificates for the TLS tests of the transport"
  [postgresql]="initdb/pg_ctl, which start a throwaway PostgreSQL server for the SQL dependency tests"
  [redis-server]="a throwaway Redis server: the Celery broker of the task tests and the demo, and the Redis dependency tests"
)
SYSTEM_PACKAGES=${SYSTEM_PACKAGES:-chromium openssl postgresql redis-server}

say() { echo "scripts: $*" >&2; }

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    say "need root to run '$*' and sudo is not installed: run this script as root, or install the packages above yourself"
    return 1
  fi
}

# apt-get install the named Debian packages that are missing, saying what each is for first.
install_missing_packages() {
  local missing=() pkg
  if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    for pkg in "$@"; do
      say "not a Debian system (no dpkg/apt-get): cannot check for $pkg (${PACKAGE_REASONS[$pkg]:-needed by the tests}); install it yourself if a test asks for it"
    done
    return 0
  fi
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  say "installing Debian packages with apt-get:"
  for pkg in "${missing[@]}"; do
    say "  $pkg: ${PACKAGE_REASONS[$pkg]:-needed by the tests}"
  done
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_system_packages() {
  # shellcheck disable=SC2086  # a space-separated list by design
  install_missing_packages $SYSTEM_PACKAGES
}

# A Python new enough for the package, able to make a virtual environment.
ensure_python() {
  if ! command -v "$PYTHON" >/dev/null 2>&1; then
    if [ "$PYTHON" = python3 ]; then
      install_missing_packages python3 python3-venv
    fi
    command -v "$PYTHON" >/dev/null 2>&1 || { say "no '$PYTHON' on PATH: Python $MIN_PYTHON or newer is needed"; return 1; }
  fi
  local version
  version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if ! "$PYTHON" -c "import sys; sys.exit(sys.version_info[:2] < tuple(map(int, '$MIN_PYTHON'.split('.'))))"; then
    say "Python $MIN_PYTHON or newer is needed (pyproject.toml: requires-python), but $(command -v "$PYTHON") is Python $version."
    say "Install a newer Python (Debian 12 ships 3.11) and run again, or name one: PYTHON=/path/to/python3.12 $0"
    return 1
  fi
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    install_missing_packages python3-venv
    "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || {
      say "$(command -v "$PYTHON") (Python $version) cannot make a virtual environment (no venv/ensurepip module); install its venv package (Debian: python$version-venv)"
      return 1
    }
  fi
}

ensure_venv() {
  local spec="$1"
  if [ ! -x .venv/bin/python ]; then
    ensure_python
    say "creating .venv with $(command -v "$PYTHON")"
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip > /dev/null 2>&1 || true
  fi
  # Reinstall only when pyproject.toml or the requested extras changed: a second run of the
  # demo or the tests starts at once.
  local stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$(echo "$spec" | tr -c 'a-z0-9' '_')"
  if [ ! -f "$stamp" ]; then
    say "installing $spec (the package with its test extra: frameworks, servers and test tools) into .venv (log: .venv/pip.log)"
    if ! .venv/bin/python -m pip install -q -e "$spec" > .venv/pip.log 2>&1; then
      grep -v "is ignored" .venv/pip.log >&2
      return 1
    fi
    .venv/bin/python -c "import ai_core" # fail loudly if the install did not work
    touch "$stamp"
  fi
}
