#!/bin/sh
# How the Exim DSNs in this folder were made (issue 19): Debian's Exim
# (exim4-daemon-light 4.96, bookworm-security) is not installed here (it
# conflicts with the postfix package), so its packages are downloaded with
# `apt-get download` and unpacked with `dpkg -x` into a folder under /tmp,
# with libidn12 which the binary needs. The binary looks up its user
# Debian-exim by name when it starts, so it runs in a private mount
# namespace (unshare -m) in which copies of /etc/passwd and /etc/group
# that add that user (uid 991) are bind-mounted: the machine's own files
# are never changed. A minimal configuration of ours (-C; spool, logs and
# the bounce Maildir in the folder) routes:
#   nobody@example.com    no router takes it: "Unrouteable address" (61)
#   nouser@refuse.test    to a tiny SMTP server on 127.0.0.1 (below) that
#                         answers RCPT with 550 5.1.1 user unknown (62)
#   quota@full.test       552 5.2.2 mailbox full at RCPT (63)
#   spam@spam.test        250 at RCPT, 554 5.7.1 spam after DATA (64)
#   later@later.test      451 4.2.0 at RCPT; a queue run after
#                         delay_warning (4s) sends the delay warning (65)
# each mail sent with envelope sender bounces+N@bounce.example.com; the
# DSNs are the files Exim delivered to the bounce Maildir. Then the
# folder is removed. Usage: sh make-exim-dsn.sh OUTDIR (as root).
set -eu
out=$(cd "${1:-.}" && pwd)
d=$(mktemp -d /tmp/herald-exim.XXXXXX)
chmod 755 "$d"
port=$((20000 + $$ % 20000))
srv=
trap '[ -z "$srv" ] || kill "$srv"; cd /; rm -rf "$d"' EXIT
cd "$d"
apt-get download exim4-daemon-light exim4-base exim4-config libidn12 >/dev/null
for f in *.deb; do dpkg -x "$f" root; done
exim=$d/root/usr/sbin/exim4
# not setuid: a set-user-id program ignores LD_LIBRARY_PATH, and Exim
# runs itself again as Debian-exim (we run it as root anyway)
chmod u-s "$exim"
lib=$d/root/usr/lib/x86_64-linux-gnu
cp /etc/passwd passwd
cp /etc/group group
echo 'Debian-exim:x:991:991:exim for herald DSNs:/nonexistent:/usr/sbin/nologin' >> passwd
echo 'Debian-exim:x:991:' >> group
mkdir -p spool log box
chown 991:991 spool log box
cat > exim.conf <<CF
primary_hostname = mx.herald.test
qualify_domain = herald.test
exim_path = $exim
spool_directory = $d/spool
log_file_path = $d/log/%slog
keep_environment = LD_LIBRARY_PATH
domainlist local_domains = example.com : bounce.example.com
delay_warning = 4s
begin routers
bounces:
  driver = accept
  domains = bounce.example.com
  transport = box
users:
  driver = accept
  domains = example.com
  local_parts = alice
  transport = box
remote:
  driver = manualroute
  domains = refuse.test : full.test : spam.test : later.test
  route_list = * 127.0.0.1
  self = send
  transport = remote_smtp
begin transports
remote_smtp:
  driver = smtp
  port = $port
  allow_localhost
  hosts_try_fastopen = :
box:
  driver = appendfile
  directory = $d/box
  maildir_format
  user = Debian-exim
  group = Debian-exim
  delivery_date_add
  envelope_to_add
  return_path_add
begin retry
* * F,1h,1m
CF
cat > smtpd.py <<'PY'
import socketserver, sys
RCPT = {"nouser": "550 5.1.1 <nouser@refuse.test>: Recipient address rejected: User unknown",
        "quota": "552 5.2.2 <quota@full.test>: Mailbox full, quota exceeded",
        "later": "451 4.2.0 <later@later.test>: Mailbox temporarily unavailable"}
class H(socketserver.StreamRequestHandler):
    def say(self, line):
        self.wfile.write((line + "\r\n").encode())
    def handle(self):
        self.say("220 mx.remote.test ESMTP")
        while True:
            line = self.rfile.readline().decode().strip()
            verb = line[:4].upper()
            if not line or verb == "QUIT":
                self.say("221 bye")
                return
            if verb in ("EHLO", "HELO"):
                self.say("250 mx.remote.test")
            elif verb == "RCPT":
                local = line.split("<", 1)[1].split("@", 1)[0].lower()
                self.say(RCPT.get(local, "250 2.1.5 ok"))
            elif verb == "DATA":
                self.say("354 go ahead")
                while self.rfile.readline() not in (b".\r\n", b".\n", b""):
                    pass
                self.say("554 5.7.1 Message rejected as spam")
            else:
                self.say("250 2.0.0 ok")
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
/usr/bin/python3 smtpd.py "$port" &
srv=$!
sleep 1
cat > send.sh <<SH
set -eu
mount --bind $d/passwd /etc/passwd
mount --bind $d/group /etc/group
export LD_LIBRARY_PATH=$lib
$exim -C $d/exim.conf -bV | head -1 > $d/version
n=60
for rcpt in nobody@example.com nouser@refuse.test quota@full.test spam@spam.test later@later.test; do
    n=\$((n + 1))
    $exim -C $d/exim.conf -odi -oi -f "bounces+\$n@bounce.example.com" "\$rcpt" <<MAIL
From: Shop <news@example.com>
To: <\$rcpt>
Date: Wed, 02 Dec 2026 22:40:00 +0000
Message-ID: <0b6f1d4e-7c1a-4d6e-9a51-00000000000\$n@example.com>
X-Herald-Message: \$n
Subject: Our December news
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello, this is herald's test message \$n.
MAIL
done
sleep 5
$exim -C $d/exim.conf -qff
SH
unshare -m sh send.sh
i=0
while [ "$(ls box/new 2>/dev/null | wc -l)" -lt 5 ] && [ $i -lt 50 ]; do
    sleep 0.2; i=$((i + 1))
done
for f in box/new/*; do
    n=$(grep -m1 -o 'bounces+[0-9]*' "$f" | cut -d+ -f2)
    cp "$f" "$out/exim-$n.eml"
done
cat version
