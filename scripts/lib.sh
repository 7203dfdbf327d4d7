# Shared set-up for scripts/test and scripts/demo (sourced, not run).

# Debian packages the tests need (headless Chromium for the viewer test, PostgreSQL for SQL
# dependencies). Installed only when missing, so a second run costs nothing.
SYSTEM_PACKAGES=${SYSTEM_PACKAGES:-chromium openssl}

ensure_system_packages() {
  local missing=()
  for pkg in $SYSTEM_PACKAGES; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local spec="$1"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  fi
  .venv/bin/python -m pip install -q -e "$spec" 2>&1 | grep -v "is ignored" || true
  .venv/bin/python -c "import ai_core" # fail loudly if the install did not work
}
