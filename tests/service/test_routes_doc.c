/* test_routes_doc.c: docs/openapi.yaml documents every route of the REST table
 * (daemon/routes.c) with its method, and every error code of the error table. */
#include <ctype.h>
#include <stdlib.h>

#include "daemon/routes.h"
#include "tests/check.h"

int main(void) {
    const char *root = getenv("MAMA_SOURCE_ROOT");
    char path[512];
    snprintf(path, sizeof path, "%s/docs/openapi.yaml", root ? root : ".");
    char *doc = check_read_file(path, NULL);
    CHECK(doc != NULL);
    if (!doc) CHECK_DONE();
    for (int i = 0; i < rest_n_routes; i++) {
        char key[160], method[16];
        snprintf(key, sizeof key, "\n  %s:\n", rest_routes[i].pattern);
        const char *at = strstr(doc, key);
        if (!at) fprintf(stderr, "route %s missing in openapi.yaml\n", rest_routes[i].pattern);
        CHECK(at != NULL);
        if (!at) continue;
        size_t k = 0;
        for (const char *m = rest_routes[i].method; *m && k + 1 < sizeof method; m++) method[k++] = (char)tolower(*m);
        method[k] = '\0';
        char want[40];
        snprintf(want, sizeof want, "\n    %s:", method);
        const char *next = strstr(at + strlen(key), "\n  /");
        const char *m = strstr(at, want);
        CHECK(m && (!next || m < next));
        /* a route that needs no token is marked so */
        if (rest_routes[i].min_role == 0) {
            const char *sec = strstr(at, "security: []");
            CHECK(sec && (!next || sec < next));
        }
    }
    for (int e = 0; e < REST_ERR_COUNT; e++) {
        CHECK(strstr(doc, rest_errors[e].code) != NULL);
        CHECK(rest_errors[e].http_status >= 400 && rest_errors[e].message[0]);
    }
    free(doc);
    CHECK_DONE();
}
