#!/usr/bin/env bash
# A real Spark standalone cluster (one master, two workers) on this machine, and the Hail engine
# on it.
#
# Uses the pyspark that Hail brings (the venv's), starts the master and two workers with
# `spark-class` (pip's pyspark has no sbin/start-*.sh), with small memory settings, then
# scripts/check_spark_run.py runs `igs qc run` and `igs scores compute` on a tiny simulated
# cohort with the local engine and with the Hail engine against spark://localhost:7077 (the
# config's hail.master), checks the results are equal and that the Hail applications ran on
# both workers. The cluster is stopped on exit, also on failure.
#
# Usage: scripts/test-spark.sh            (or: make test-spark)
# Environment: IGS_SPARK_WORK (scratch folder, default a new /tmp/igs-spark.*),
#              IGS_SPARK_KEEP=1 keeps it, IGS_SPARK_PORT (master port, default 7077),
#              IGS_SPARK_UI_PORT (master web UI, default 8080; workers use the next two).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$REPO/.venv/bin:$PATH"
T0=$(date +%s)
say() { echo "[test-spark $(($(date +%s) - T0))s] $*"; }
fail() { echo "[test-spark] FAILED: $*" >&2; exit 1; }

# --- 1. Java and the Spark that Hail brings ------------------------------------------------
if ! command -v java >/dev/null; then
    say "installing Debian's openjdk-17-jre-headless"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi
python -c 'import hail' 2>/dev/null || fail "hail is not installed; run 'make install' (igs[hail])."
SPARK_HOME="$(python -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME
export PYSPARK_PYTHON="$REPO/.venv/bin/python"

WORK="${IGS_SPARK_WORK:-$(mktemp -d /tmp/igs-spark.XXXXXX)}"
mkdir -p "$WORK/conf" "$WORK/log"
PORT="${IGS_SPARK_PORT:-7077}"
UI_PORT="${IGS_SPARK_UI_PORT:-8080}"
MASTER="spark://localhost:$PORT"
UI="http://localhost:$UI_PORT"

# Small settings for a 2-core machine: each worker offers 1 core and 2 GB, each executor takes
# 1 core and 1 GB, the application takes at most 2 cores (one executor per worker). Read by
# spark-submit, which pyspark (and so Hail) starts its JVM with; a site's cluster has its own.
export SPARK_CONF_DIR="$WORK/conf"
cat >"$SPARK_CONF_DIR/spark-defaults.conf" <<EOF
spark.executor.memory   1g
spark.executor.cores    1
spark.cores.max         2
spark.driver.memory     2g
spark.ui.enabled        false
spark.ui.showConsoleProgress false
EOF
export SPARK_LOG_DIR="$WORK/log" SPARK_LOCAL_DIRS="$WORK/local" SPARK_LOCAL_IP=127.0.0.1

PIDS=()
stop_cluster() {
    set +e
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [ "${IGS_SPARK_KEEP:-0}" = 1 ]; then echo "[test-spark] kept $WORK"; else rm -rf "$WORK"; fi
}
trap stop_cluster EXIT

# --- 2. Master and two workers ---------------------------------------------------------------
say "starting the master at $MASTER"
"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host localhost --port "$PORT" --webui-port "$UI_PORT" >"$WORK/log/master.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do
    python -c "import urllib.request; urllib.request.urlopen('$UI/json/', timeout=2)" 2>/dev/null \
        && break
    sleep 1
done
for i in 1 2; do
    "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
        --host localhost --cores 1 --memory 2g --work-dir "$WORK/worker$i" \
        --webui-port $((UI_PORT + i)) "$MASTER" >"$WORK/log/worker$i.log" 2>&1 &
    PIDS+=($!)
done
alive=0
for _ in $(seq 90); do
    alive=$(python - "$UI" <<'EOF' 2>/dev/null || echo 0
import json, sys, urllib.request
status = json.load(urllib.request.urlopen(sys.argv[1] + "/json/", timeout=2))
print(sum(w["state"] == "ALIVE" for w in status["workers"]))
EOF
)
    [ "$alive" = 2 ] && break
    sleep 1
done
[ "$alive" = 2 ] || {
    tail -20 "$WORK"/log/*.log >&2
    fail "$alive of 2 workers registered with the master after 90 s (logs above)."
}
say "master and 2 workers alive"

# --- 3. The Hail engine on the cluster against the local engine ------------------------------
python "$REPO/scripts/check_spark_run.py" --work "$WORK" --master "$MASTER" --ui "$UI" --workers 2 \
    || { tail -30 "$WORK/igs.log" >&2; fail "see above"; }
say "passed; whole script $(($(date +%s) - T0)) s"
