#!/usr/bin/env bash
# The shipped alert rules: valid (promtool check rules), right on series shaped as synwhy writes
# them (promtool test rules), and naming only metrics and labels synwhy writes.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
rules=../../userspace/render/synwhy.rules.yml
metrics_src=../../userspace/render/metrics.cpp
command -v promtool >/dev/null || { echo "FAIL: promtool is missing (Debian package prometheus)" >&2; exit 1; }
promtool check rules "$rules"
promtool test rules synwhy.rules.test.yml
# Every synwhy_* name in the rules and the test's series is a metric the metrics file has.
written=$(sed -n 's/.*# TYPE \(synwhy_[a-z_]*\) .*/\1/p' "$metrics_src" | sort -u)
[ -n "$written" ] || { echo "FAIL: no metric names found in $metrics_src" >&2; exit 1; }
for name in $(grep -oh 'synwhy_[a-z_]*' "$rules" synwhy.rules.test.yml | grep -v '^synwhy_watch$' | sort -u); do
    grep -qx "$name" <<<"$written" || { echo "FAIL: $name is not a metric synwhy writes ($(echo $written))" >&2; exit 1; }
done
# The labels of synwhy_syns_total in the rules are the ones the metrics file gives it.
for label in port verdict netns; do
    grep -q "synwhy_syns_total{{.*$label=" "$metrics_src" || { echo "FAIL: synwhy_syns_total has no label $label" >&2; exit 1; }
done
echo "ok: $(grep -c 'alert:' "$rules") alert rules; metric names checked against $(basename "$metrics_src")"
