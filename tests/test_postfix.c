/* test_postfix: herald's email as a real Postfix receives and stores it
 * (issue 15 items 1-3, issue 16 item 12). The test runs its own Postfix
 * instance as root on a private configuration folder under /tmp (postfix
 * -c DIR: 127.0.0.1 and a free port, the test domains delivered by the
 * virtual agent to one Maildir in the folder, queue, data and log in the
 * folder); the system's /etc/postfix and port 25 are never touched, and
 * the instance is stopped and the folder removed at the end. It sends
 * through the SMTP driver: internationalised domains (which must go out
 * as A-labels), a quoted display name, a long Chinese subject and an
 * unbroken 1,200-character one, then reads what Postfix stored with
 * Python's email package under the strict policy (tests/check_mail.py):
 * no defects, no encoded-word line over 76 columns. A non-ASCII local
 * part goes out with SMTPUTF8, and Postfix's "501 5.1.3" to an address it
 * cannot parse is not a bad address. Then SMTPUTF8 is turned off in
 * Postfix (postconf, reload): an IDN message still arrives (an A-label
 * needs no SMTPUTF8), and a non-ASCII local part fails with nothing sent
 * and the address not at fault. Skipped (with a message)
 * when not root or when Postfix is not installed. */
#include "testnet.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <jansson.h>

#include "herald/config.h"
#include "herald/driver.h"
#include "herald/log.h"

#define PY "/usr/bin/python3"
#define POSTFIX "/usr/sbin/postfix"
#define POSTCONF "/usr/sbin/postconf"

static char *dir, *conf_dir, *box;
static int port;
static bool up;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void write_config(void)
{
    struct passwd *pw = getpwnam("postfix");
    assert_non_null(pw);
    struct hd_buf t;
    hd_buf_init(&t);
    hd_buf_addf(&t,
                "compatibility_level = 3.6\nqueue_directory = %s/queue\ndata_directory = %s/data\n"
                "mail_owner = postfix\nmyhostname = mx.herald.test\nmydomain = herald.test\n"
                "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmydestination =\n"
                "mynetworks = 127.0.0.0/8\nrelay_domains =\nalias_maps =\nalias_database =\n"
                "virtual_mailbox_domains = example.com xn--bcher-kva.example "
                "xn--fsqu00a.xn--0zwm56d\n"
                "virtual_mailbox_base = %s\nvirtual_mailbox_maps = static:box/\n"
                "virtual_uid_maps = static:%d\nvirtual_gid_maps = static:%d\n"
                "virtual_minimum_uid = 1\nsmtputf8_enable = yes\nmaillog_file = %s/maillog\n"
                "maillog_file_prefixes = %s\nbiff = no\n",
                dir, dir, dir, (int)pw->pw_uid, (int)pw->pw_gid, dir, dir);
    char *p = tu_path(conf_dir, "main.cf");
    tu_write(p, t.data);
    free(p);
    hd_buf_release(&t);
    static const char *const services[] = {
        "pickup unix n - n 60 1 pickup",  "cleanup unix n - n - 0 cleanup",
        "qmgr unix n - n 300 1 qmgr",     "rewrite unix - - n - - trivial-rewrite",
        "bounce unix - - n - 0 bounce",   "defer unix - - n - 0 bounce",
        "trace unix - - n - 0 bounce",    "verify unix - - n - 1 verify",
        "flush unix n - n 1000? 0 flush", "proxymap unix - - n - - proxymap",
        "showq unix n - n - - showq",     "error unix - - n - - error",
        "retry unix - - n - - error",     "discard unix - - n - - discard",
        "virtual unix - n n - - virtual", "anvil unix - - n - 1 anvil",
        "scache unix - - n - 1 scache",   "postlog unix-dgram n - n - 1 postlogd",
    };
    hd_buf_init(&t);
    hd_buf_addf(&t, "127.0.0.1:%d inet n - n - - smtpd\n", port);
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
        hd_buf_addf(&t, "%s\n", services[i]);
    p = tu_path(conf_dir, "master.cf");
    tu_write(p, t.data);
    free(p);
    hd_buf_release(&t);
    /* the daemons run as postfix: the folder must be theirs to enter, the
     * data folder and the mailbox theirs to write */
    assert_int_equal(chmod(dir, 0755), 0);
    char *data = tu_path(dir, "data");
    assert_int_equal(mkdir(data, 0755), 0);
    assert_int_equal(chown(data, pw->pw_uid, pw->pw_gid), 0);
    assert_int_equal(mkdir(box, 0755), 0);
    assert_int_equal(chown(box, pw->pw_uid, pw->pw_gid), 0);
    free(data);
}

/* The server's EHLO reply (multi-line) into buf; false if it does not
 * answer. */
static bool ehlo(char *buf, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t n = 0;
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              write(fd, "EHLO test.example\r\n", 19) == 19;
    /* the greeting and the EHLO reply: read until a "250 " line ends */
    while (ok && n < size - 1) {
        ssize_t r = read(fd, buf + n, size - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n250 ") && n >= 2 && buf[n - 1] == '\n')
            break;
    }
    buf[n] = '\0';
    if (ok && write(fd, "QUIT\r\n", 6) != 6)
        ok = false;
    close(fd);
    return ok && strstr(buf, "\r\n250 ") != NULL;
}

/* How many times what appears in Postfix's log. */
static size_t maillog_count(const char *what)
{
    char *p = tu_path(dir, "maillog"), *log = tu_read(p);
    size_t n = 0;
    for (const char *s = log; s && (s = strstr(s, what)); s += strlen(what))
        n++;
    free(log);
    free(p);
    return n;
}

/* Runs postfix -c conf_dir what; its exit status. */
static int postfix(const char *what)
{
    pid_t pid = fork();
    if (pid == 0) {
        execl(POSTFIX, POSTFIX, "-c", conf_dir, what, (char *)NULL);
        _exit(127);
    }
    int st = -1;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void print_maillog(void)
{
    char *p = tu_path(dir, "maillog"), *log = tu_read(p);
    fprintf(stderr, "postfix's log:\n%s\n", log ? log : "(none)");
    free(log);
    free(p);
}

static int teardown(void **state)
{
    (void)state;
    if (up) {
        /* stop, and wait (bounded) for the master to be gone before the
         * folder goes */
        char *pidf = tu_path(dir, "queue/pid/master.pid");
        char *text = tu_read(pidf);
        pid_t pid = text ? (pid_t)atoi(text) : 0;
        postfix("stop");
        struct timespec nap = {0, 50 * 1000 * 1000};
        for (int i = 0; pid > 0 && i < 200 && kill(pid, 0) == 0; i++)
            nanosleep(&nap, NULL);
        if (pid > 0 && kill(pid, 0) == 0)
            postfix("abort");
        up = false;
        free(text);
        free(pidf);
    }
    free(conf_dir);
    free(box);
    tu_rmdir(dir);
    dir = conf_dir = box = NULL;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (getuid() != 0 || access(POSTFIX, X_OK) != 0 || access(PY, X_OK) != 0) {
        fprintf(stderr, "test_postfix: skipped: needs root, %s and %s\n", POSTFIX, PY);
        return 0;
    }
    dir = tu_tmpdir();
    conf_dir = tu_path(dir, "conf");
    box = tu_path(dir, "box");
    assert_int_equal(mkdir(conf_dir, 0755), 0);
    char *queue = tu_path(dir, "queue");
    assert_int_equal(mkdir(queue, 0755), 0);
    free(queue);
    port = free_port();
    write_config();
    up = true;
    char reply[2048];
    bool ready = postfix("start") == 0;
    struct timespec nap = {0, 50 * 1000 * 1000};
    for (int i = 0; ready && i < 200 && !ehlo(reply, sizeof reply); i++)
        nanosleep(&nap, NULL);
    if (!ready || !ehlo(reply, sizeof reply) || !strstr(reply, "SMTPUTF8")) {
        fprintf(stderr, "test_postfix: Postfix did not start (or offers no SMTPUTF8)\n");
        print_maillog();
        teardown(state); /* cmocka skips the teardown when the setup fails */
        return -1;
    }
    return 0;
}

/* The Maildir's messages, in delivery order (Postfix names them by time). */
static size_t delivered(char names[][300], size_t max)
{
    char *nd = tu_path(box, "new");
    DIR *d = opendir(nd);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d)) && n < max;)
        if (e->d_name[0] != '.')
            snprintf(names[n++], 300, "%s/%s", nd, e->d_name);
    if (d)
        closedir(d);
    free(nd);
    return n;
}

/* Waits (bounded) until the Maildir holds want messages. */
static void await_delivered(size_t want)
{
    char names[16][300];
    struct timespec nap = {0, 50 * 1000 * 1000};
    for (int i = 0; i < 300 && delivered(names, 16) < want; i++)
        nanosleep(&nap, NULL);
    if (delivered(names, 16) != want) {
        char *logp = tu_path(dir, "maillog");
        char *log = tu_read(logp);
        fail_msg("%zu messages delivered, want %zu; maillog:\n%s", delivered(names, 16), want,
                 log ? log : "(none)");
    }
}

/* check_mail.py's verdict on each delivered message, keyed by its To. */
static json_t *checked(void)
{
    char names[16][300], cmd[6000];
    size_t n = delivered(names, 16);
    const char *src = getenv("HERALD_SRC");
    int k = snprintf(cmd, sizeof cmd, "%s %s/tests/check_mail.py", PY, src ? src : ".");
    for (size_t i = 0; i < n; i++)
        k += snprintf(cmd + k, sizeof cmd - (size_t)k, " '%s'", names[i]);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_t *all = json_object();
    char line[65536];
    while (fgets(line, sizeof line, p)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        const char *to = json_string_value(json_object_get(json_object_get(j, "headers"), "To"));
        json_object_set_new(all, to ? to : json_string_value(json_object_get(j, "file")), j);
    }
    assert_int_equal(pclose(p), 0);
    return all;
}

static void send_all(const struct hd_msg *msgs, size_t n, struct tu_results *rs)
{
    char text[600];
    snprintf(text, sizeof text,
             "[provider mail]\ntype = smtp\nhost = 127.0.0.1\nport = %d\nstarttls = none\n"
             "from = \"Acme Accounts\" <billing@example.com>\nconnections = 1\ntimeout = 10s\n",
             port);
    struct hd_config *cfg = NULL;
    struct hd_err e = {0};
    if (hd_config_parse(text, "t.conf", &cfg, &e) != 0)
        fail_msg("%s", e.msg);
    struct hd_log log;
    hd_log_init(&log, stderr, HD_LOG_WARN);
    struct hd_driver *d;
    assert_int_equal(hd_driver_open(hd_config_provider(cfg, "mail"), &log, &d, &e), 0);
    for (size_t i = 0; i < n; i++) {
        struct hd_msg m = msgs[i];
        m.channel = HD_CH_EMAIL;
        m.created = 1795334400;
        m.user = (void *)(uintptr_t)i;
        hd_uuid(m.id);
        assert_int_equal(hd_driver_submit(d, &m, &e), 0);
    }
    tu_await(d, n, rs);
    hd_log_release(&log);
    hd_config_free(cfg);
}

/* A message Postfix stored: parsed strictly, no defects, every line with
 * an encoded-word within 76 columns; its Subject and From as decoded. */
static void assert_clean(json_t *all, const char *to, const char *subject, const char *from)
{
    json_t *j = json_object_get(all, to);
    if (!j)
        fail_msg("no message to %s was stored", to);
    /* RFC 5322 calls a UTF-8 local part a defect; RFC 6532 (SMTPUTF8)
     * allows it in To, so only that one is let through, and only there */
    json_t *defects = json_object_get(j, "defects"), *d;
    size_t k, bad = 0;
    json_array_foreach(defects, k,
                       d) if (strcmp(json_string_value(d), "To: NonASCIILocalPartDefect") != 0)
    {
        fprintf(stderr, "%s: defect %s\n", to, json_string_value(d));
        bad++;
    }
    if (strcmp(json_string_value(json_object_get(j, "strict")), "ok") != 0 || bad)
        fail_msg("%s: strict: %s, %zu defects", to, json_string_value(json_object_get(j, "strict")),
                 bad);
    json_t *h = json_object_get(j, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Subject")), subject);
    assert_string_equal(json_string_value(json_object_get(h, "From")), from);
    assert_true(json_integer_value(json_object_get(j, "max_ew_line")) <= 76);
    assert_true(json_integer_value(json_object_get(j, "max_header_line")) <= 998);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "Hello Ann, 你好\n");
}

static void test_postfix_idn_names_subjects(void **state)
{
    (void)state;
    if (!up)
        skip();
    struct hd_buf chinese, unbroken;
    hd_buf_init(&chinese);
    hd_buf_init(&unbroken);
    for (int i = 0; i < 12; i++)
        hd_buf_adds(&chinese, "您的会员即将到期，");
    hd_buf_adds(&chinese, "请尽快续费");
    for (int i = 0; i < 1200; i++)
        hd_buf_addc(&unbroken, (char)('a' + i % 26));
    const char *text = "Hello Ann, 你好\n";
    struct hd_msg msgs[] = {
        {.to = "ann@bücher.example", .subject = chinese.data, .text = text},
        {.to = "x@例子.测试",
         .from = "\"Bücher \\\"GmbH\\\"\" <shop@bücher.example>",
         .subject = unbroken.data,
         .text = text},
        {.to = "测试@例子.测试", .subject = "hi", .text = text},
        {.to = "ann@example..com", .subject = "hi", .text = text},
    };
    struct tu_results rs;
    send_all(msgs, 4, &rs);
    /* the third, a non-ASCII local part, goes out with SMTPUTF8, which
     * this Postfix offers */
    for (size_t i = 0; i < 3; i++)
        if (rs.r[i].outcome != HD_OUT_ACCEPTED)
            fail_msg("%s: %s %d %s", msgs[i].to, hd_outcome_name(rs.r[i].outcome), rs.r[i].code,
                     rs.r[i].text);
    /* Postfix cannot parse the address: "501 5.1.3", never a bad address */
    assert_int_equal(rs.r[3].outcome, HD_OUT_PERMANENT);
    assert_int_equal(rs.r[3].code, 501);
    assert_false(rs.r[3].bad_address);
    assert_contains(rs.r[3].text, "501 5.1.3 Bad recipient address syntax");
    assert_contains(rs.r[3].text, "not suppressed");

    await_delivered(3);
    json_t *all = checked();
    /* RFC 6532: the header carries the UTF-8 local part, the domain as
     * its A-label. That it arrived proves SMTPUTF8 was declared: Postfix
     * refuses a UTF-8 address without it ("553 5.6.7 Must declare
     * SMTPUTF8") */
    assert_clean(all, "测试@xn--fsqu00a.xn--0zwm56d", "hi", "Acme Accounts <billing@example.com>");
    assert_clean(all, "ann@xn--bcher-kva.example", chinese.data,
                 "Acme Accounts <billing@example.com>");
    assert_clean(all, "x@xn--fsqu00a.xn--0zwm56d", unbroken.data,
                 "\"Bücher \\\"GmbH\\\"\" <shop@xn--bcher-kva.example>");
    json_decref(all);
    hd_buf_release(&chinese);
    hd_buf_release(&unbroken);
}

/* With SMTPUTF8 off, the same internationalised domain still arrives. */
static void test_postfix_no_smtputf8(void **state)
{
    (void)state;
    if (!up)
        skip();
    const char *argv[] = {POSTCONF, "-c", conf_dir, "-e", "smtputf8_enable = no", NULL};
    tu_run_in(dir, argv);
    assert_int_equal(postfix("reload"), 0);
    char reply[2048];
    struct timespec nap = {0, 50 * 1000 * 1000};
    for (int i = 0; i < 200 && (!ehlo(reply, sizeof reply) || strstr(reply, "SMTPUTF8")); i++)
        nanosleep(&nap, NULL);
    assert_not_contains(reply, "SMTPUTF8");
    char names[16][300];
    size_t before = delivered(names, 16), seen = maillog_count("测试");
    struct hd_msg msgs[] = {
        {.to = "bob@BÜCHER.example", .subject = "Grüße, 你好", .text = "Hello Ann, 你好\n"},
        {.to = "测试@例子.测试", .subject = "hi", .text = "Hello Ann, 你好\n"}};
    struct tu_results rs;
    send_all(msgs, 2, &rs);
    if (rs.r[0].outcome != HD_OUT_ACCEPTED)
        fail_msg("%s %d %s", hd_outcome_name(rs.r[0].outcome), rs.r[0].code, rs.r[0].text);
    /* a non-ASCII local part, and the server offers no SMTPUTF8: nothing
     * is sent (no raw address on the wire), permanent, and not the
     * address's fault */
    assert_int_equal(rs.r[1].outcome, HD_OUT_PERMANENT);
    assert_false(rs.r[1].bad_address);
    assert_contains(rs.r[1].text,
                    "smtputf8_unsupported: the address '测试@xn--fsqu00a.xn--0zwm56d'");
    assert_contains(rs.r[1].text, "does not offer SMTPUTF8; nothing was sent");
    assert_int_equal(maillog_count("测试"), seen);
    await_delivered(before + 1);
    json_t *all = checked();
    assert_clean(all, "bob@xn--bcher-kva.example", "Grüße, 你好",
                 "Acme Accounts <billing@example.com>");
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_postfix_idn_names_subjects),
        cmocka_unit_test(test_postfix_no_smtputf8),
    };
    return cmocka_run_group_tests_name("postfix", tests, setup, teardown);
}
