# Sourced by the benchmark scripts (scripts/bench-compute-e2e.sh, scripts/layout/profile.sh).
# A libvirtd serving the test driver, in a mount namespace with a passwd that has libvirt-qemu (Debian's
# QEMU driver refuses to start without it). Prints the pid.
start_libvirtd() {
  local d=$1
  mkdir -p "$d/run" "$d/log"
  cp /etc/passwd "$d/passwd"; cp /etc/group "$d/group"
  grep -q '^libvirt-qemu:' "$d/passwd" || echo "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin" >> "$d/passwd"
  grep -q '^libvirt-qemu:' "$d/group" || printf 'libvirt-qemu:x:64055:\nlibvirt:x:64056:\n' >> "$d/group"
  printf '%s\n' 'listen_tcp = 0' 'listen_tls = 0' "unix_sock_dir = \"$d/run\"" 'unix_sock_ro_perms = "0777"' \
    'unix_sock_rw_perms = "0770"' 'auth_unix_ro = "none"' 'auth_unix_rw = "none"' "log_outputs = \"3:file:$d/log/libvirtd.log\"" > "$d/libvirtd.conf"
  # Private state directories too, so that two daemons do not share pid files.
  mkdir -p "$d/state/run" "$d/state/lib" "$d/state/cache" "$d/state/log/qemu"
  unshare -m --propagation private sh -c "mount --bind '$d/passwd' /etc/passwd; mount --bind '$d/group' /etc/group; \
    mount --bind '$d/state/run' /run/libvirt; mount --bind '$d/state/lib' /var/lib/libvirt; \
    mount --bind '$d/state/cache' /var/cache/libvirt; [ ! -d /var/log/libvirt ] || mount --bind '$d/state/log' /var/log/libvirt; exec libvirtd --config '$d/libvirtd.conf' --pid-file '$d/pid'" >"$d/log/stdout" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do [ -S "$d/run/libvirt-sock-ro" ] && break; sleep 0.1; done
  [ -S "$d/run/libvirt-sock-ro" ] || { echo "libvirtd did not start: $(tail -n 5 "$d/log/libvirtd.log")" >&2; exit 1; }
  echo "$pid"
}
