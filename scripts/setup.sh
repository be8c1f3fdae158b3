#!/usr/bin/env bash
# Set up everything locmap needs on a Debian machine, idempotently.
#   scripts/setup.sh demo   system packages for the app + .venv with locmap (runtime lock)
#   scripts/setup.sh test   the same + chromium and the development lock
# It installs only what is missing and says what it is doing. The database server itself
# is found or started by locmap (see locmap/pgserver.py), never here.
set -euo pipefail
mode=${1:-demo}
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

need=(postgresql-15 postgresql-15-postgis-3 libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
if [ "$mode" = test ]; then
  need+=(chromium poppler-utils)
fi

missing=()
for p in "${need[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}"
    say "run as root:  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # A fresh postgresql-15 would start its own cluster via the maintainer scripts; that is
  # harmless (locmap uses the server on 127.0.0.1:5432 if it answers, else its own cluster).
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages present: ${need[*]}"
fi

py=${PYTHON:-python3.11}
command -v "$py" >/dev/null || py=python3
# LOCMAP_VENV puts the environment elsewhere (the newcomer test builds a second one).
venv=${LOCMAP_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv with $py"
  "$py" -m venv "$venv"
fi
# Both setups install the exact versions of the lock files (requirements/*.txt, made by
# `make lock`), then locmap itself without touching them: a fresh machine gets what CI
# passed with. The demo gets the runtime lock only, as a user's server would.
lock=requirements/runtime.txt
[ "$mode" = test ] && lock=requirements/dev.txt
stamp="$venv/.locmap-installed-$mode"
want=$(cat "$lock" setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing $lock and locmap into $venv (pip)"
  "$venv/bin/python" -m pip install -q --no-compile -r "$lock"
  "$venv/bin/python" -m pip install -q --no-compile --no-deps -e .
  rm -f "$venv"/.locmap-installed-*
  echo "$want" > "$stamp"
else
  say "$venv is up to date"
fi
