/* test_inspect.c: `mama inspect` end to end: the metadata (a JSON config pretty-printed), the
 * tensor table and total of a written model; exit status 1 and the parser's message for a
 * corrupt file; 2 for bad usage. argv[1] is the mama executable. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "engine/core/safetensors.h"
#include "tests/check.h"
#include "tests/engine/st_util.h"

/* Runs cmd, captures stdout+stderr into out; returns the exit status. */
static int run(const char *cmd, char *out, size_t cap) {
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_inspect MAMA_EXE\n");
        return 2;
    }
    const char *mama = argv[1];
    const char *dir = st_test_dir("inspect");
    char path[600], bad[600], cmd[1400];
    static char out[65536];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);

    float w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {0};
    int64_t sw[2] = {2, 3}, sb[1] = {3};
    st_writer *wr;
    CHECK(st_writer_create(&wr) == MAMA_OK);
    CHECK(st_writer_add_f32(wr, "head.weight", 2, sw, w) == MAMA_OK);
    CHECK(st_writer_add_f32(wr, "head.bias", 1, sb, b) == MAMA_OK);
    CHECK(st_writer_set_metadata(wr, "config", "{\"arch\":\"dinov2\",\"width\":768}") == MAMA_OK);
    CHECK(st_writer_set_metadata(wr, "version", "1") == MAMA_OK);
    CHECK(st_writer_save(wr, path) == MAMA_OK);
    st_writer_destroy(wr);

    snprintf(cmd, sizeof cmd, "'%s' inspect '%s'", mama, path);
    int rc = run(cmd, out, sizeof out);
    CHECK_MSG(rc == 0, "inspect exit %d: %s", rc, out);
    CHECK_MSG(strstr(out, "\"arch\": \"dinov2\"") && strstr(out, "\"width\": 768"),
              "config not pretty-printed: %s", out);
    CHECK_MSG(strstr(out, "version: 1"), "plain metadata missing: %s", out);
    CHECK_MSG(strstr(out, "head.weight") && strstr(out, "[2, 3]") && strstr(out, "head.bias"),
              "tensor table: %s", out);
    CHECK_MSG(strstr(out, "total: 9 parameters"), "total: %s", out);

    write_raw(bad, "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "abcdefgh",
              8, UINT64_MAX);
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s'", mama, bad);
    rc = run(cmd, out, sizeof out);
    CHECK_MSG(rc == 1, "corrupt file: exit %d", rc);
    CHECK_MSG(strstr(out, "malformed file") && strstr(out, "bad.safetensors") && strstr(out, "'x'"),
              "corrupt file message: %s", out);

    snprintf(cmd, sizeof cmd, "'%s' inspect", mama);
    CHECK(run(cmd, out, sizeof out) == 2 && strstr(out, "usage"));
    snprintf(cmd, sizeof cmd, "'%s' inspect '%s/none.safetensors'", mama, dir);
    rc = run(cmd, out, sizeof out);
    CHECK_MSG(rc == 1 && strstr(out, "none.safetensors"), "missing file: %d %s", rc, out);

    check_remove_dir(dir);
    return check_done("test_inspect");
}
