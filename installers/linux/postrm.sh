#!/bin/sh
# On remove/purge: delete byte-code caches Python may have written under /opt at run time (files
# dpkg does not know about). User data in ~/.config, ~/.local/share and ~/.cache is never touched.
set -e
case "$1" in
  remove|purge)
    if [ -d /opt/offline-assistant ]; then
      find /opt/offline-assistant -name '__pycache__' -type d -prune -exec rm -rf {} + 2>/dev/null || true
      find /opt/offline-assistant -depth -type d -empty -delete 2>/dev/null || true
    fi
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q /usr/share/applications || true
    ;;
esac
exit 0
