#!/bin/sh
# Runs the real firewalld once inside the lab's server namespace (called by lab.sh under
# `ip netns exec SRV unshare -m`): its configuration, D-Bus socket and run state live on tmpfs
# mounts private to this process, so the machine's own firewalld setup is never touched. The
# daemon lays out its nftables ruleset (table inet firewalld, zone public without ssh) and is
# stopped again with CleanupOnExit=no, so the ruleset stays behind in the namespace only.
# Usage: lab-firewalld.sh STATE_DIR
set -eu
state=$1
mkdir -p "$state/firewalld/zones"
cp -a /etc/firewalld/. "$state/firewalld/"
sed -i 's/^CleanupOnExit=.*/CleanupOnExit=no/' "$state/firewalld/firewalld.conf"
sed '/service name="ssh"/d' /usr/lib/firewalld/zones/public.xml >"$state/firewalld/zones/public.xml"

mount -t tmpfs lab-firewalld-etc /etc/firewalld
cp -a "$state/firewalld/." /etc/firewalld/
mount -t tmpfs lab-dbus /run/dbus
mkdir -p /run/firewalld
mount -t tmpfs lab-firewalld-run /run/firewalld

dbus-daemon --system --nofork --nopidfile &
dbus=$!
i=0
while [ ! -S /run/dbus/system_bus_socket ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
firewalld --nofork --nopid --log-file "$state/firewalld.log" &
fw=$!
i=0
until nft list chain inet firewalld filter_IN_public >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { kill $fw $dbus; echo "firewalld did not lay out its ruleset" >&2; exit 1; }
    sleep 0.1
done
sleep 0.5 # let it finish the whole ruleset before stopping it
kill $fw
wait $fw || true
kill $dbus
wait $dbus || true
