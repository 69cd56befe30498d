#!/usr/bin/env bash
# Builds the wheel, installs it into a fresh virtualenv (target/py-test) and
# runs the Python tests (python/tests) with the `pixtape` command the wheel
# put on that virtualenv's PATH.
#
# Without python3's venv module the Python tests are skipped with a notice,
# unless PIXTAPE_REQUIRE_PYTHON=1 (CI). Ray and pyspark are large: they are
# installed only when PIXTAPE_REQUIRE_RAY=1 / PIXTAPE_REQUIRE_SPARK=1 ask
# for their tests (Spark also needs Java), else those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    if [ -n "${PIXTAPE_REQUIRE_PYTHON:-}" ]; then
        echo "python tests: PIXTAPE_REQUIRE_PYTHON is set but python3 with venv is missing" >&2
        exit 1
    fi
    echo "python tests: skipped (no python3 with venv; apt-get install python3-venv)" >&2
    exit 0
fi

env_dir=target/py-test
rm -rf "$env_dir"
python3 -m venv "$env_dir"
pip() { "$env_dir/bin/python" -m pip --disable-pip-version-check -q "$@"; }
pip install "maturin>=1.5,<2" "pytest>=7"
extras=()
[ -n "${PIXTAPE_REQUIRE_RAY:-}" ] && extras+=("ray[data]>=2.9")
[ -n "${PIXTAPE_REQUIRE_SPARK:-}" ] && extras+=("pyspark>=3.5" "pandas<3")
[ ${#extras[@]} -gt 0 ] && pip install "${extras[@]}"

rm -f target/wheels/pixtape-*.whl
PATH="$PWD/$env_dir/bin:$PATH" python/build_wheel.sh
pip install target/wheels/pixtape-*.whl
# Run from outside the source tree, so `import pixtape` is the installed wheel.
cd python/tests
PATH="$OLDPWD/$env_dir/bin:$PATH" "$OLDPWD/$env_dir/bin/python" -m pytest -q -p no:cacheprovider .
