# Sourced by test.sh and demo.sh: `need_debian_packages WHY PACKAGE...` installs the Debian
# packages that are missing (as root, with apt-get) and says what it installs and why; as another
# user it names the command to run and stops.
need_debian_packages() {
  local why=$1; shift
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "$why needs these Debian packages: ${missing[*]}; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing for $why: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
}
