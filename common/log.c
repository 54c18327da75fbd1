/* log.c: see log.h. One line per message, written with a single write so lines from
 * several threads do not interleave. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

log_level log_current_level = LOG_LVL_INFO;
unsigned log_current_mask = LOG_CAT_ALL;
static int log_to_syslog;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

static const char *category_name(log_category cat) {
    switch (cat) {
    case LOG_CAT_DICOM: return "dicom";
    case LOG_CAT_HTTP: return "http";
    case LOG_CAT_DB: return "db";
    case LOG_CAT_ENGINE: return "engine";
    default: return "main";
    }
}

void log_init(log_level level, unsigned category_mask, int use_syslog, const char *ident) {
    log_current_level = level;
    log_current_mask = category_mask ? category_mask : LOG_CAT_ALL;
    log_to_syslog = use_syslog;
    if (use_syslog) openlog(ident ? ident : "mamad", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int log_parse_level(const char *text, log_level *out_level) {
    for (int i = 0; i < 4; i++) {
        if (text && strcasecmp(text, level_names[i]) == 0) {
            *out_level = (log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_shutdown(void) {
    if (log_to_syslog) closelog();
}

void log_write(log_level level, log_category cat, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log_to_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "[%s] %s", category_name(cat), msg);
        return;
    }
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char line[2300];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], category_name(cat), msg);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}
