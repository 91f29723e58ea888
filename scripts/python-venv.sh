# Sourced by test.sh and bench/run: `python_venv` makes artifacts/python-venv from Debian's
# /usr/bin/python3 (with its packages: fastapi, uvicorn, torch, numpy, crc32c, pytest, mypy),
# installs sdk/python into it as the `aeterna` package, checks that a wheel builds, and sets
# PYTHON_VENV. The integration tests and the benchmarks run Python apps with its interpreter.
python_venv() {
  local root venv
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  venv=$root/artifacts/python-venv
  [ -x "$venv/bin/python3" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
  # Offline and from Debian: hatchling comes from python3-hatchling, not from an index.
  "$venv/bin/pip" install --quiet --no-index --no-build-isolation --force-reinstall --no-deps "$root/sdk/python"
  PYTHON_VENV=$venv
  export PYTHON_VENV
}

# The Debian packages the Python client, its tests, the samples and the benchmarks use.
python_debian_packages=(python3-venv python3-pip python3-hatchling python3-pytest python3-mypy
  python3-crc32c python3-numpy python3-torch python3-fastapi python3-uvicorn python3-websockets
  python3-httpx)
