/* test_csvsheet: the console's CSV export of the log is opened in
 * spreadsheets, so a cell that a spreadsheet would run as a formula (a
 * contact id, a provider's error text: = + - @, a tab or a CR first) is
 * written with a ' first, while numbers (a negative cost), "-" and every
 * other cell stay as they are; `herald log --format csv` writes them all
 * unchanged. */
#include "testutil.h"

#include "herald/audit.h"
#include "herald/buf.h"

static void row(bool sheet, char *out, size_t size)
{
    struct hd_audit_log_cells c;
    static const char *const cells[] = {"=HYPERLINK(\"http://x\")",
                                        "+1+1",
                                        "@SUM(A1)",
                                        "-2+3",
                                        "\tx",
                                        "-",
                                        "-12.5",
                                        "+7",
                                        "plain",
                                        "a=b",
                                        NULL};
    memset(&c, 0, sizeof c);
    for (size_t i = 0; cells[i]; i++)
        c.cell[i] = cells[i];
    struct hd_buf b;
    hd_buf_init(&b);
    hd_audit_log_csv_row(&b, &c, sheet);
    snprintf(out, size, "%.*s", (int)b.len, b.data);
    hd_buf_release(&b);
}

static void test_csvsheet_quotes_formulas(void **state)
{
    (void)state;
    char got[1024];
    row(true, got, sizeof got);
    assert_string_equal(got, "\"'=HYPERLINK(\"\"http://x\"\")\",'+1+1,'@SUM(A1),'-2+3,'\tx,-,-12.5,"
                             "+7,plain,a=b,,,,,,,,,,,\r\n");
    row(false, got, sizeof got);
    assert_string_equal(got, "\"=HYPERLINK(\"\"http://x\"\")\",+1+1,@SUM(A1),-2+3,\tx,-,-12.5,+7,"
                             "plain,a=b,,,,,,,,,,,\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csvsheet_quotes_formulas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
