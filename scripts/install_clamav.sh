#!/bin/sh
# Install ClamAV's clamd (Debian's clamav-daemon) for the malware-scanning tests, if missing.
# The tests start their own clamd with a one-signature database of their own, so no
# service is started here and freshclam never downloads signatures.
set -eu
if command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ]; then exit 0; fi
made_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  made_policy=1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  clamav-daemon clamav >/dev/null
[ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
/usr/sbin/clamd --version
