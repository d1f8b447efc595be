#!/bin/sh
# How the Postfix DSNs in this folder were made (issue 19): a private
# Postfix instance (Debian's postfix 3.7, run as root on a folder under
# /tmp, 127.0.0.1 and a free port; /etc/postfix is never touched) takes
# herald-like mails for three recipients and bounces each; the bounce
# mailbox bounces@bounce.example.com is a virtual Maildir, so each DSN is
# stored as Postfix writes it. Then the instance is stopped and the
# folder removed. Usage: sh make-dsn.sh OUTDIR (as root).
set -eu
out=$(cd "${1:-.}" && pwd)
d=$(mktemp -d /tmp/herald-dsn.XXXXXX)
port=$((20000 + $$ % 20000))
uid=$(id -u postfix); gid=$(id -g postfix)
mkdir -p "$d/conf" "$d/queue" "$d/data" "$d/box"
chmod 755 "$d"; chown postfix:postfix "$d/data" "$d/box"
cat > "$d/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
myhostname = mx.herald.test
mydomain = herald.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = refuse.test full.test
alias_maps =
alias_database =
recipient_delimiter = +
virtual_mailbox_domains = example.com bounce.example.com
virtual_mailbox_base = $d
virtual_mailbox_maps = texthash:$d/conf/vmaps
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_minimum_uid = 1
transport_maps = texthash:$d/conf/transport
maillog_file = $d/maillog
maillog_file_prefixes = $d
biff = no
CF
printf 'bounces@bounce.example.com box/\nalice@example.com box/\n' > "$d/conf/vmaps"
printf 'refuse.test error:5.7.1 message refused: sender policy\nfull.test error:5.2.2 mailbox full: quota exceeded\n' > "$d/conf/transport"
cat > "$d/conf/master.cf" <<CF
127.0.0.1:$port inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
CF
postfix -c "$d/conf" start
n=41
for rcpt in nobody@example.com someone@refuse.test quota@full.test; do
    n=$((n + 1))
    /usr/sbin/sendmail -C "$d/conf" -f "bounces+$n@bounce.example.com" "$rcpt" <<MAIL
From: Shop <news@example.com>
To: <$rcpt>
Date: Wed, 02 Dec 2026 22:40:00 +0000
Message-ID: <0b6f1d4e-7c1a-4d6e-9a51-00000000000$n@example.com>
X-Herald-Message: $n
Subject: Our December news
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello, this is herald's test message $n.
MAIL
done
i=0
while [ "$(ls "$d/box/new" 2>/dev/null | wc -l)" -lt 3 ] && [ $i -lt 100 ]; do
    sleep 0.2; i=$((i + 1))
done
for f in "$d"/box/new/*; do
    n=$(grep -m1 -o 'bounces+[0-9]*' "$f" | cut -d+ -f2)
    cp "$f" "$out/postfix-$n.eml"
done
postfix -c "$d/conf" stop
sleep 1
rm -rf "$d"
