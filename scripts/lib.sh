# Shared set-up for scripts/test and scripts/demo (sourced, not run).

# Debian packages the tests need (headless Chromium for the viewer test, the PostgreSQL server
# whose initdb/pg_ctl start a throwaway cluster for the SQL dependency tests). Installed only
# when missing, so a second run costs nothing.
SYSTEM_PACKAGES=${SYSTEM_PACKAGES:-chromium openssl postgresql}

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
    .venv/bin/python -m pip install -q --upgrade pip > /dev/null 2>&1 || true
  fi
  # Reinstall only when pyproject.toml or the requested extras changed: a second run of the
  # demo or the tests starts at once.
  local stamp=".venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$(echo "$spec" | tr -c 'a-z0-9' '_')"
  if [ ! -f "$stamp" ]; then
    echo "installing $spec into .venv (log: .venv/pip.log)"
    if ! .venv/bin/python -m pip install -q -e "$spec" > .venv/pip.log 2>&1; then
      grep -v "is ignored" .venv/pip.log >&2
      return 1
    fi
    .venv/bin/python -c "import ai_core" # fail loudly if the install did not work
    touch "$stamp"
  fi
}
