/* check.h: the few assertion macros of the service unit tests. A failed CHECK prints the
 * expression with file and line and counts; main returns non-zero when any failed. */
#ifndef MAMA_TEST_CHECK_H
#define MAMA_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                      \
        }                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                            \
    do {                                                                           \
        const char *a_ = (a), *b_ = (b);                                           \
        if (strcmp(a_, b_) != 0) {                                                 \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", expected \"%s\"\n", \
                    __FILE__, __LINE__, #a, a_, b_);                               \
            check_failures++;                                                      \
        }                                                                          \
    } while (0)

#define CHECK_DONE()                                                               \
    do {                                                                           \
        if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures); \
        else printf("all checks passed\n");                                        \
        return check_failures ? 1 : 0;                                             \
    } while (0)

#endif
