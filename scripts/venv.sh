# Sourced by the test scripts: installs the pinned tools into $venv (EDL_VENV, or .venv) once per change of
# scripts/requirements-dev.txt.
venv="${EDL_VENV:-$root/.venv}"
requirements="$root/scripts/requirements-dev.txt"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "== installing pinned tools into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$venv/.requirements.sha256"
fi
